/**
 * The metrics contract: every metric regionsync emits or alarms on, with its namespace,
 * dimensions and the region whose CloudWatch holds it. Shared by the handlers (`lambda/`), the
 * alarms, dashboards and `regionsync status` (`lib/`) and the local runtime (`dev/local/`), so what
 * is emitted and what is queried cannot drift apart.
 *
 * Per-pair metrics (one source region → one target region of one table) are emitted with the
 * Embedded Metric Format through Powertools Metrics: one log line per pair and invocation
 * carrying every value (up to 100 per metric), which CloudWatch turns into metrics. No
 * PutMetricData call, and percentiles (p99 lag) come out exact because every value is kept.
 */
import { METRICS } from './contract.ts';
import type { Change } from './change.ts';
import { decodeVersion } from './version.ts';

export { METRICS };

/** Dimension names (`METRICS.dimensions`) of the per-pair metrics, in the order they are emitted. */
export const PAIR_DIMENSIONS = [METRICS.dimensions.table, METRICS.dimensions.sourceRegion, METRICS.dimensions.targetRegion] as const;

/**
 * The per-pair metrics and the side of the pair whose CloudWatch holds them. Dimensions are
 * exactly {@link PAIR_DIMENSIONS}: Table, SourceRegion, TargetRegion (no `service`).
 */
export const PAIR_METRICS = {
  /** Changes sent to the target's inbound queue (Count), emitted by the source's shipper. */
  shipped: { name: METRICS.names.changesShipped, unit: 'Count' as const, region: 'source' },
  /** Changes written in the target (Count), emitted by the target's applier. */
  applied: { name: METRICS.names.changesApplied, unit: 'Count' as const, region: 'target' },
  /** Changes skipped as stale or duplicate (Count): a newer or equal version was already there. */
  stale: { name: METRICS.names.changesStale, unit: 'Count' as const, region: 'target' },
  /** Source write → applied in the target, in ms (see {@link replicationLagMs}); one value per applied change. */
  lag: { name: METRICS.names.replicationLag, unit: 'Milliseconds' as const, region: 'target' },
  /** Changes not applied because their version was beyond maxClockOffsetSeconds ahead of the target's clock (Count): the source's clock is probably ahead. */
  aheadOfClock: { name: METRICS.names.changesAheadOfClock, unit: 'Count' as const, region: 'target' },
} as const;

/**
 * Metrics the handlers emit per table and target region, with Powertools' `service` dimension
 * (`regionsync-applier`): searched by Table and TargetRegion (dashboards use SEARCH, so the exact
 * dimension set may grow, e.g. Strategy on Conflicts).
 */
export const TABLE_METRICS = {
  conflicts: METRICS.names.conflicts,
  deadLettered: METRICS.names.changesDeadLettered,
} as const;

/**
 * Metrics the shipper emits per table and SOURCE region about its outage backlog (changes parked
 * for an unreachable target, see src/functions/shipper/drain.ts), with Powertools' `service` dimension
 * (`regionsync-shipper`): searched by Table and SourceRegion, like {@link TABLE_METRICS}.
 */
export const SOURCE_METRICS = {
  backlogged: METRICS.names.messagesBacklogged,
  drained: METRICS.names.messagesDrained,
  /** Client-helper writes restamped because their host clock was beyond maxClockOffsetSeconds ahead (src/core/clock-bound.ts). */
  restamped: METRICS.names.clientWritesRestamped,
  /** Stream records parked in the stream-failures queue (src/functions/shipper/oversize.ts). */
  parkedRecords: METRICS.names.recordsParked,
} as const;

/** What AWS itself publishes, and the local runtime emulates (dev/local/service-metrics.ts). */
export const AWS_METRICS = {
  lambda: {
    namespace: 'AWS/Lambda',
    dimension: 'FunctionName',
    invocations: 'Invocations',
    errors: 'Errors',
    throttles: 'Throttles',
    duration: 'Duration',
    /** Stream mappings: age of the last record of a batch when the batch was sent to the function (ms). */
    iteratorAge: 'IteratorAge',
  },
  sqs: {
    namespace: 'AWS/SQS',
    dimension: 'QueueName',
    visible: 'ApproximateNumberOfMessagesVisible',
    inFlight: 'ApproximateNumberOfMessagesNotVisible',
    /** Seconds. */
    oldestAge: 'ApproximateAgeOfOldestMessage',
  },
} as const;

/**
 * The alarm kinds regionsync creates; also what a table's write fence can be triggered by.
 * `backlogAge` is the target's inbound queue; `parkedAge` the source's outage backlog (changes
 * parked for an unreachable target region); `streamFailures` the source's stream-failures queue
 * (stream records that did not replicate: discarded by the stream mapping or parked by the shipper).
 * `clockSkew` (per source region): a change from the source arrived beyond maxClockOffsetSeconds
 * ahead of the target's clock.
 */
export const ALARM_KINDS = [
  'lagP99',
  'lagMax',
  'dlq',
  'backlogAge',
  'iteratorAge',
  'shipperErrors',
  'applierErrors',
  'parkedAge',
  'streamFailures',
  'clockSkew',
] as const;
/** One of {@link ALARM_KINDS}. */
export type AlarmKind = (typeof ALARM_KINDS)[number];

/**
 * Alarm names: `<app>/<table>/<kind>` or `<app>/<table>/<kind>/<source region>` for per-pair
 * alarms. `/` appears in neither app nor table names, so a name parses back unambiguously (the
 * fence function reads the table from it).
 */
export function alarmName(appName: string, table: string, kind: AlarmKind, sourceRegion?: string): string {
  return [appName, table, kind, ...(sourceRegion ? [sourceRegion] : [])].join('/');
}

/** Reads an alarm name made by {@link alarmName} back; undefined for a name regionsync did not make. */
export function parseAlarmName(name: string): { appName: string; table: string; kind: AlarmKind; sourceRegion?: string } | undefined {
  const parts = name.split('/');
  if (parts.length < 3 || parts.length > 4) return undefined;
  const [appName, table, kind, sourceRegion] = parts as [string, string, string, string | undefined];
  if (!appName || !table || !(ALARM_KINDS as readonly string[]).includes(kind)) return undefined;
  return { appName, table, kind: kind as AlarmKind, ...(sourceRegion ? { sourceRegion } : {}) };
}

/** One pair of a table: changes replicated from the source region to the target region. */
export interface Pair {
  readonly table: string;
  readonly source: string;
  readonly target: string;
}

/** The CloudWatch dimensions of a pair's metrics ({@link PAIR_DIMENSIONS}). */
export function pairDimensions(pair: Pair): Record<string, string> {
  return { [METRICS.dimensions.table]: pair.table, [METRICS.dimensions.sourceRegion]: pair.source, [METRICS.dimensions.targetRegion]: pair.target };
}

/**
 * Best estimate of the replication lag of an applied change, in ms: `now` minus the estimated
 * time of the write in the source region.
 *
 * `writtenAt` is the stream record's ApproximateCreationDateTime, which DynamoDB Streams gives in
 * whole seconds (rounded down): the write happened in [writtenAt, writtenAt + 1000). The change's
 * version carries a millisecond clock reading taken at or after the write (the shipper's stamp,
 * or the client helper's write time), which bounds it from above. The estimate is the middle
 * of [writtenAt, min(writtenAt + 1000, version ms)], so its error is at most half that
 * interval: ±500 ms in the worst case, usually much less (the stamp follows the write by the
 * stream delay, ~0.2 s). A `writtenAt` that is not a whole second came from a source with
 * millisecond precision and is used as is.
 */
export function replicationLagMs(change: Pick<Change, 'writtenAt' | 'version'>, now: number): number {
  return Math.max(0, Math.round(now - estimatedWriteTime(change)));
}

/** Estimated time of the write in the source region, in epoch ms: the middle of the interval {@link replicationLagMs} describes. */
export function estimatedWriteTime(change: Pick<Change, 'writtenAt' | 'version'>): number {
  const lower = change.writtenAt;
  if (lower % 1000 !== 0) return lower;
  const stampMs = decodeVersion(change.version)?.ms;
  const upper = Math.max(lower, Math.min(lower + 1000, stampMs ?? lower + 1000));
  return (lower + upper) / 2;
}

/** Where the handlers record per-pair metrics (src/functions/shared/pair-metrics.ts writes them as EMF). */
export interface PairMetricsSink {
  /** The shipper sent `count` changes of `table` from `source` to `target`. */
  shipped(pair: Pair, count: number): void;
  /** The applier finished with one change: applied (with its lag) or skipped as stale. */
  applyOutcome(pair: Pair, outcome: 'applied' | 'stale', change: Pick<Change, 'writtenAt' | 'version'>, now: number): void;
  /** The applier held back (or dead-lettered) one change whose version was beyond the clock bound ahead of its clock. */
  aheadOfClock(pair: Pair): void;
  /** Writes what was recorded (one EMF line per pair) and clears it. */
  publish(): void;
}

/** A sink that records nothing, for code that has no per-pair metrics to emit. */
export const NO_PAIR_METRICS: PairMetricsSink = {
  shipped: () => undefined,
  applyOutcome: () => undefined,
  aheadOfClock: () => undefined,
  publish: () => undefined,
};

/** The per-pair counts the handlers sum per invocation. */
export type PairCount = 'shipped' | 'applied' | 'stale' | 'aheadOfClock';
