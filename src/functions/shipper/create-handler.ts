/**
 * Builds the Lambda handler: a thin adapter over Shipper. Clients are created once per container.
 * Tables with a custom resolver get a generated entry point that passes it in.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { type DRAIN_BACKLOG_EVENT, isDrainBacklogEvent, METRICS } from '../../core/contract.ts';
import { PairMetrics } from '../shared/pair-metrics.ts';
import { publishMetrics } from '../shared/publish-metrics.ts';
import { readSettings } from '../../core/settings.ts';
import { Shipper } from './shipper.ts';
import { BacklogDrainer, type DrainReport, isSqsEvent } from './drain.ts';
import type { Resolver } from '../../core/resolver.ts';

/** What an entry point passes to {@link createShipperHandler}. */
export interface ShipperHandlerOptions {
  /** The table's resolver (custom strategy). @default none */
  readonly resolver?: Resolver;
  /**
   * Applied to every AWS SDK client the function creates (X-Ray tracing: src/functions/shared/tracing.ts).
   * @default the clients as they are
   */
  readonly instrumentClient?: <C extends object>(client: C) => C;
}

/**
 * The shipper's Lambda handler: stream batches go to the Shipper, backlog messages (SQS) to the
 * BacklogDrainer. Reads the settings from the environment at once, so a bad setting fails the cold start.
 */
export function createShipperHandler(
  options: ShipperHandlerOptions = {},
): (event: DynamoDBStreamEvent | SQSEvent | typeof DRAIN_BACKLOG_EVENT, context?: Context) => Promise<DynamoDBBatchResponse | DrainReport> {
  const settings = readSettings();
  const instrument = options.instrumentClient ?? (<C extends object>(client: C) => client);
  const logger = new Logger();
  const metrics = new Metrics({
    namespace: METRICS.namespace,
    defaultDimensions: { [METRICS.dimensions.table]: settings.logicalTable, [METRICS.dimensions.sourceRegion]: settings.region },
  });
  const pairMetrics = new PairMetrics();
  // useQueueUrlAsEndpoint false: each client is already bound to its target region; letting the SDK
  // route by the queue URL's host would bypass AWS_ENDPOINT_URL (LocalStack, moto) entirely.
  const sqsClients = new Map<string, SQSClient>();
  const sqsFor = (region: string) => {
    let client = sqsClients.get(region);
    if (!client) sqsClients.set(region, (client = instrument(new SQSClient({ region, useQueueUrlAsEndpoint: false }))));
    return client;
  };
  const shipper = new Shipper(settings, {
    ...(options.resolver ? { resolver: options.resolver } : {}),
    dynamodb: instrument(new DynamoDBClient({ region: settings.region })),
    sqsFor,
    logger,
    metrics,
    pairMetrics,
  });

  // The same function drains this region's backlog queue: invoked by a schedule (drain.ts), or by
  // an SQS event source on it, as stacks deployed before the schedule still have.
  const drainer = new BacklogDrainer(settings, { sqsFor, logger, metrics });

  return async (event: DynamoDBStreamEvent | SQSEvent | typeof DRAIN_BACKLOG_EVENT, context?: Context): Promise<DynamoDBBatchResponse | DrainReport> => {
    // Every log line of this invocation carries the request id, function and cold start.
    if (context) logger.addContext(context);
    try {
      if (isDrainBacklogEvent(event)) return await drainer.drainQueue(() => context?.getRemainingTimeInMillis() ?? 60_000);
      if (isSqsEvent(event)) return await drainer.handle(event);
      return await shipper.handle(event);
    } finally {
      publishMetrics(metrics);
      pairMetrics.publish();
    }
  };
}
