/** Lambda entry point: a thin adapter over Applier. Clients are created once per container. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { METRICS } from '../core/contract.ts';
import { readSettings } from '../core/settings.ts';
import { Applier } from './applier.ts';

const settings = readSettings();
const metrics = new Metrics({ namespace: METRICS.namespace, defaultDimensions: { [METRICS.dimensions.table]: settings.logicalTable, [METRICS.dimensions.targetRegion]: settings.region } });
const applier = new Applier(settings, {
  dynamodb: new DynamoDBClient({ region: settings.region }),
  sqs: new SQSClient({ region: settings.region, useQueueUrlAsEndpoint: false }),
  logger: new Logger(),
  metrics,
});

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  try {
    return await applier.handle(event);
  } finally {
    metrics.publishStoredMetrics();
  }
};
