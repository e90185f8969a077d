/**
 * Write fences: a per-region, per-table flag that applications check before writes that must
 * not diverge (the banking example: refuse withdrawals in a region that cannot replicate).
 *
 * One small DynamoDB table per region (`<app>-fence`), never replicated. Each reason to fence is
 * its own item, keyed by the table and the reason's source, so alarms and operators never
 * overwrite each other:
 *   - `alarm#<alarm name>`: written by the fence function when one of the table's fencing alarms
 *     changes state (ALARM fences, OK lifts that alarm's fence);
 *   - `manual`: written by `regionsync fence --region R --table T on|off`.
 * A table is fenced in a region while any of its items is in state ALARM. Each write carries the
 * time of the state change and is conditional on being newer, so a late OK cannot lift a fence
 * set after it. Pure code: item shapes and decisions, no AWS calls.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** The fence table's key: the table (partition key) and the reason's source (sort key). */
export const FENCE_KEY = { table: 'tbl', source: 'src' } as const;
/** The source of the fence an operator sets or lifts with `regionsync fence`. */
export const MANUAL_SOURCE = 'manual';

/** The region's fence table: one per region for the whole app, never replicated. */
export function fenceTableName(appName: string): string {
  return `${appName}-fence`;
}

/** One source's state: `ALARM` fences the table, `OK` lifts that source's fence. */
export type FenceSourceState = 'ALARM' | 'OK';

/** One source's latest state for a table, as stored in the fence table. */
export interface FenceReason {
  /** `manual`, or `alarm#<alarm name>`. */
  readonly source: string;
  readonly state: FenceSourceState;
  /** Epoch ms of the state change. */
  readonly at: number;
  /**
   * Why: the alarm's state reason, or the operator's note (stored up to 1000 characters).
   * @default none
   */
  readonly reason?: string;
}

/** A table's write fence in one region: fenced while any source is in state ALARM. */
export interface FenceState {
  readonly table: string;
  readonly fenced: boolean;
  /** The sources that fence the table now (state ALARM), oldest first. */
  readonly reasons: readonly FenceReason[];
}

/** The source an alarm's fence item is stored under (`alarm#<alarm name>`). */
export function alarmSource(alarmName: string): string {
  return `alarm#${alarmName}`;
}

/** PutItem input parts for one source's state; newer-wins, see {@link fenceCondition}. */
export function fenceItem(table: string, r: FenceReason): Record<string, AttributeValue> {
  return {
    [FENCE_KEY.table]: { S: table },
    [FENCE_KEY.source]: { S: r.source },
    state: { S: r.state },
    at: { N: String(r.at) },
    ...(r.reason ? { reason: { S: r.reason.slice(0, 1000) } } : {}),
  };
}

/** Only a newer state change replaces a stored one (alarm notifications may arrive out of order). */
export const fenceCondition = {
  ConditionExpression: 'attribute_not_exists(#src) OR #at < :at',
  names: { '#src': FENCE_KEY.source, '#at': 'at' },
} as const;

/** Reads one stored fence item; undefined for an item it cannot read, which then fences nothing. */
export function parseFenceItem(item: Record<string, AttributeValue>): FenceReason | undefined {
  const source = item[FENCE_KEY.source]?.S;
  const state = item.state?.S;
  const at = Number(item.at?.N);
  if (!source || (state !== 'ALARM' && state !== 'OK') || !Number.isFinite(at)) return undefined;
  return { source, state, at, ...(item.reason?.S ? { reason: item.reason.S } : {}) };
}

/** A table's fence state from its items in the fence table (unreadable items and OK states are left out). */
export function fenceStateOf(table: string, items: readonly Record<string, AttributeValue>[]): FenceState {
  const reasons = items
    .map(parseFenceItem)
    .filter((r): r is FenceReason => r !== undefined && r.state === 'ALARM')
    .sort((a, b) => a.at - b.at);
  return { table, fenced: reasons.length > 0, reasons };
}

/** A CloudWatch alarm state change as the fence function needs it. */
export interface AlarmStateChange {
  readonly alarmName: string;
  readonly state: FenceSourceState;
  readonly at: number;
  /**
   * The alarm's state reason, when the event carries one.
   * @default none
   */
  readonly reason?: string;
}

/**
 * Reads the alarm state changes out of what invokes the fence function: a CloudWatch alarm's
 * Lambda action (`{ source: 'aws.cloudwatch', alarmData: ... }`) or an SNS notification of an
 * alarm (`Records[].Sns.Message`, JSON). INSUFFICIENT_DATA lifts nothing and sets nothing.
 * Throws naming what is wrong with an event it cannot read.
 */
export function alarmStateChanges(event: unknown): AlarmStateChange[] {
  // biome-ignore lint/suspicious/noExplicitAny: an alarm event is untyped JSON; every field read is checked
  const e = event as Record<string, any> | null;
  if (e && typeof e === 'object' && e.alarmData) {
    const name = e.alarmData.alarmName;
    const value = e.alarmData.state?.value;
    const at = Date.parse(e.alarmData.state?.timestamp ?? e.time ?? '');
    if (typeof name !== 'string') throw new Error('alarm event has no alarmData.alarmName');
    return change(name, value, at, e.alarmData.state?.reason);
  }
  if (e && Array.isArray(e.Records)) {
    // biome-ignore lint/suspicious/noExplicitAny: SNS/SQS-wrapped alarm records are untyped JSON; every field read is checked
    return e.Records.flatMap((r: any, i: number) => {
      // biome-ignore lint/suspicious/noExplicitAny: the record body is untyped JSON; every field read is checked
      let msg: any;
      try {
        msg = JSON.parse(r?.Sns?.Message ?? '');
      } catch {
        throw new Error(`Records[${i}].Sns.Message is not JSON`);
      }
      if (typeof msg?.AlarmName !== 'string') throw new Error(`Records[${i}].Sns.Message has no AlarmName`);
      return change(msg.AlarmName, msg.NewStateValue, Date.parse(msg.StateChangeTime ?? r?.Sns?.Timestamp ?? ''), msg.NewStateReason);
    });
  }
  throw new Error('not a CloudWatch alarm event (neither alarmData nor SNS Records)');
}

function change(alarmName: string, value: unknown, at: number, reason: unknown): AlarmStateChange[] {
  if (value !== 'ALARM' && value !== 'OK') return [];
  if (!Number.isFinite(at)) throw new Error(`alarm event for ${alarmName} has no valid state timestamp`);
  return [{ alarmName, state: value, at, ...(typeof reason === 'string' ? { reason } : {}) }];
}
