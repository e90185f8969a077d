/**
 * Builds the Lambda handler: a thin adapter over Applier. Clients are created once per container.
 * Tables with a custom resolver get a generated entry point that passes it in.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { METRICS } from '../../core/contract.ts';
import { PairMetrics } from '../shared/pair-metrics.ts';
import { publishMetrics } from '../shared/publish-metrics.ts';
import { readSettings } from '../../core/settings.ts';
import { Applier } from './applier.ts';
import type { Resolver } from '../../core/resolver.ts';

/** What an entry point passes to {@link createApplierHandler}. */
export interface ApplierHandlerOptions {
  /** The table's resolver (custom strategy). @default none */
  readonly resolver?: Resolver;
  /**
   * Applied to every AWS SDK client the function creates (X-Ray tracing: src/functions/shared/tracing.ts).
   * @default the clients as they are
   */
  readonly instrumentClient?: <C extends object>(client: C) => C;
}

/** The applier's Lambda handler; reads the settings from the environment at once, so a bad setting fails the cold start. */
export function createApplierHandler(options: ApplierHandlerOptions = {}): (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse> {
  const settings = readSettings();
  const instrument = options.instrumentClient ?? (<C extends object>(client: C) => client);
  const metrics = new Metrics({
    namespace: METRICS.namespace,
    defaultDimensions: { [METRICS.dimensions.table]: settings.logicalTable, [METRICS.dimensions.targetRegion]: settings.region },
  });
  const logger = new Logger();
  const applier = new Applier(settings, {
    ...(options.resolver ? { resolver: options.resolver } : {}),
    dynamodb: instrument(new DynamoDBClient({ region: settings.region })),
    sqs: instrument(new SQSClient({ region: settings.region, useQueueUrlAsEndpoint: false })),
    logger,
    metrics,
    pairMetrics: new PairMetrics(),
  });

  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    // Every log line of this invocation carries the request id, function and cold start.
    if (context) logger.addContext(context);
    try {
      return await applier.handle(event);
    } finally {
      publishMetrics(metrics);
    }
  };
}
