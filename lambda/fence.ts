/** Lambda entry point of the fence function: a thin adapter over handleAlarmEvent. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { handleAlarmEvent, readFenceSettings, type FenceResult } from '../src/functions/fence/fence.ts';

const settings = readFenceSettings();
const logger = new Logger();
const dynamodb = new DynamoDBClient({});

/** Handles one alarm event (CloudWatch's Lambda action or an SNS notification); the settings are read at cold start. */
export const handler = async (event: unknown, context?: Context): Promise<FenceResult> => {
  if (context) logger.addContext(context);
  return handleAlarmEvent(event, settings, { dynamodb, logger });
};
