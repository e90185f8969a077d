/** Lambda entry point: a thin adapter over Shipper. Clients are created once per container. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { METRICS } from '../core/contract.ts';
import { readSettings } from '../core/settings.ts';
import { Shipper } from './shipper.ts';

const settings = readSettings();
const logger = new Logger();
const metrics = new Metrics({ namespace: METRICS.namespace, defaultDimensions: { [METRICS.dimensions.table]: settings.logicalTable, [METRICS.dimensions.sourceRegion]: settings.region } });
// useQueueUrlAsEndpoint false: each client is already bound to its target region; letting the SDK
// route by the queue URL's host would bypass AWS_ENDPOINT_URL (LocalStack, moto) entirely.
const sqsClients = new Map<string, SQSClient>();
const shipper = new Shipper(settings, {
  dynamodb: new DynamoDBClient({ region: settings.region }),
  sqsFor: (region) => {
    let client = sqsClients.get(region);
    if (!client) sqsClients.set(region, (client = new SQSClient({ region, useQueueUrlAsEndpoint: false })));
    return client;
  },
  logger,
  metrics,
});

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  try {
    return await shipper.handle(event);
  } finally {
    metrics.publishStoredMetrics();
  }
};
