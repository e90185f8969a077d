/**
 * The fence function: CloudWatch alarm state changes in, fence items out (see core/fence.ts).
 * Only the alarms of tables whose config asks for fencing have this function as an action.
 */
import { ConditionalCheckFailedException, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { alarmSource, alarmStateChanges, fenceCondition, fenceItem } from '../../core/fence.ts';
import { parseAlarmName } from '../../core/metrics.ts';

/** What the fence function needs to know, passed as JSON in {@link FENCE_SETTINGS_ENV}. */
export interface FenceSettings {
  readonly appName: string;
  /** The fence table in this region. */
  readonly fenceTable: string;
}

/** The environment variable that holds the fence function's {@link FenceSettings}. */
export const FENCE_SETTINGS_ENV = 'REGIONSYNC_FENCE_SETTINGS';

/** Reads the fence function's settings from the environment; throws naming what is missing. */
export function readFenceSettings(env: NodeJS.ProcessEnv = process.env): FenceSettings {
  const raw = env[FENCE_SETTINGS_ENV];
  if (!raw) throw new Error(`environment variable ${FENCE_SETTINGS_ENV} is not set`);
  const s = JSON.parse(raw) as FenceSettings;
  if (typeof s.appName !== 'string' || typeof s.fenceTable !== 'string') throw new Error(`${FENCE_SETTINGS_ENV} needs appName and fenceTable`);
  return s;
}

/** What the fence function did with one event (its return value). */
export interface FenceResult {
  /** `table:state` for each change written; changes older than the stored state are left out. */
  readonly written: string[];
  /** Alarm names not acted on: not a regionsync alarm of this app, or a state older than the one stored. */
  readonly ignored: string[];
}

/**
 * Writes the fence item of each state change of this app's alarms, newer state wins; alarms of
 * other apps are logged and left alone. Throws on an event it cannot read.
 */
export async function handleAlarmEvent(event: unknown, settings: FenceSettings, deps: { dynamodb: DynamoDBClient; logger: Logger }): Promise<FenceResult> {
  const written: string[] = [];
  const ignored: string[] = [];
  for (const change of alarmStateChanges(event)) {
    const parsed = parseAlarmName(change.alarmName);
    if (!parsed || parsed.appName !== settings.appName) {
      // Not one of ours: an alarm wired to this function by hand. Say so rather than guess a table.
      deps.logger.warn('alarm is not a regionsync alarm of this app; no fence changed', { alarmName: change.alarmName });
      ignored.push(change.alarmName);
      continue;
    }
    try {
      await deps.dynamodb.send(
        new PutItemCommand({
          TableName: settings.fenceTable,
          Item: fenceItem(parsed.table, { source: alarmSource(change.alarmName), state: change.state, at: change.at, reason: change.reason }),
          ConditionExpression: fenceCondition.ConditionExpression,
          ExpressionAttributeNames: fenceCondition.names,
          ExpressionAttributeValues: { ':at': { N: String(change.at) } },
        }),
      );
      deps.logger.info(change.state === 'ALARM' ? 'write fence set' : 'write fence lifted', { table: parsed.table, alarmName: change.alarmName });
      written.push(`${parsed.table}:${change.state}`);
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      // A newer state of this alarm is already stored: this notification arrived late.
      ignored.push(change.alarmName);
    }
  }
  return { written, ignored };
}
