/** Lambda entry point of the fence function: a thin adapter over handleAlarmEvent. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { handleAlarmEvent, readFenceSettings, type FenceResult } from './fence.ts';

const settings = readFenceSettings();
const logger = new Logger();
const dynamodb = new DynamoDBClient({});

export const handler = async (event: unknown): Promise<FenceResult> => handleAlarmEvent(event, settings, { dynamodb, logger });
