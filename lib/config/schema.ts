import type { StrategySpec } from '../../lambda/core/contract.ts';
import type { SelectionSpec } from '../../lambda/core/selection.ts';
/**
 * The configuration a user writes in `regionsync.config.ts`: regions and, per table, its key
 * schema and where it replicates. Validated by `validateConfig` before anything is synthesized.
 */
import type { AlarmKind } from '../../lambda/core/metrics.ts';

export type KeyType = 'string' | 'number' | 'binary';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

export interface RegionConfig {
  /** AWS region name, e.g. `us-east-1`. */
  readonly region: string;
  /**
   * Account the region's stack deploys to.
   * @default the CDK's default account (CDK_DEFAULT_ACCOUNT), or environment-agnostic when unknown
   */
  readonly account?: string;
}

export interface TableConfig {
  /** Table name, the same in every region. */
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  /** @default no sort key */
  readonly sortKey?: KeyAttribute;
  /** @default 'PAY_PER_REQUEST' */
  readonly billingMode?: 'PAY_PER_REQUEST' | 'PROVISIONED';
  /** Provisioned read/write capacity units; only with billingMode PROVISIONED. @default 5 each */
  readonly readCapacity?: number;
  readonly writeCapacity?: number;
  /** Regions the table lives and replicates in (at least two). @default every configured region */
  readonly regions?: readonly string[];
  /**
   * How long a tombstone (a deleted item's versioned marker) is kept, in seconds. Must exceed the
   * longest a change can wait before it is applied (stream plus dead-letter retention), or a
   * late older write could resurrect a deleted item.
   * @default 1_296_000 (15 days: stream retention + the 14-day dead-letter retention, so even a redriven message cannot resurrect)
   */
  readonly tombstoneTtlSeconds?: number;
  /** The table's TTL attribute; tombstones expire through it. @default '_rs_exp' */
  readonly ttlAttribute?: string;
  /** Keep the table when its stack is deleted. @default true */
  readonly retainOnDelete?: boolean;
  /**
   * How concurrent writes to one item resolve (README, "Conflict resolution").
   * @default { strategy: 'lww' } (whole item, last writer wins by version)
   */
  readonly conflictResolution?: ConflictResolutionConfig;
  /** Record every conflict (both sides and the result) in the region's conflicts table. @default { enabled: true, retentionDays: 30 } */
  readonly conflictLog?: { readonly enabled?: boolean; readonly retentionDays?: number };
  /** Replicate TTL expirations as deletes; otherwise each region's TTL expires its own copy. @default false */
  readonly replicateTtlDeletes?: boolean;
  /** This table's alarm thresholds (overriding `monitoring`) and its write fence. */
  readonly monitoring?: TableMonitoringConfig;
  /**
   * Selective replication (README, "Selective replication"): which items go to the other regions
   * and which attributes never go to a given region, e.g.
   * `{ to: { 'us-east-1': { filter: { attribute: 'country', equals: 'US' }, exclude: ['email'] } } }`.
   * @default every item and attribute to every region of the table
   */
  readonly replicate?: SelectionSpec;
  /** The table's physical name per region, when it differs from `name` (same key schema everywhere). @default `name` in every region */
  readonly names?: Readonly<Record<string, string>>;
  /**
   * Lambda's MaximumBatchingWindowInSeconds on the shipper's stream mapping (`stream`) and the
   * applier's inbound queue mapping (`queue`), 0–300 each: how long to gather records before an
   * invocation. A window trades up to that much extra lag for fuller batches (fewer invocations,
   * SQS calls and messages per item) on tables that are written slowly (README, "Benchmark").
   * @default { stream: 0, queue: 0 } (invoke as soon as records are there)
   */
  readonly batchingWindowSeconds?: { readonly stream?: number; readonly queue?: number };
  /** This table's clock bound, overriding the app-wide `maxClockOffsetSeconds`. */
  readonly maxClockOffsetSeconds?: number;
}

export type CrdtKindConfig = 'counter' | 'set' | 'max' | 'min' | 'list';

export type ConflictResolutionConfig =
  | { readonly strategy: 'lww' }
  /** Per-attribute last writer wins: concurrent updates to different attributes both survive. */
  | { readonly strategy: 'fields' }
  /** Declared attributes merge as CRDTs; every other attribute is per-attribute last writer wins. */
  | { readonly strategy: 'merge'; readonly attributes: Readonly<Record<string, CrdtKindConfig>> }
  /**
   * A resolver function in your code: `'resolvers/orders.ts#resolveOrder'` (path relative to the
   * project root, `#` and the export's name; default export `default`). See lambda/core/resolver.ts.
   */
  | { readonly strategy: 'custom'; readonly resolver: string };

export interface RegionSyncConfig {
  /** Prefix of every stack and queue name. @default 'regionsync' */
  readonly appName?: string;
  readonly regions: readonly (RegionConfig | string)[];
  readonly tables: readonly TableConfig[];
  /** Alarms, their SNS topics, dashboards. @default everything on, thresholds as documented in {@link AlarmThresholds} */
  readonly monitoring?: MonitoringConfig;
  /**
   * The clock bound (README, "Clock skew"), 0.5 to 3600 seconds: no region applies or adopts a
   * version whose time is more than this ahead of its own clock, and client-helper writes from a
   * host clock further ahead than this are restamped. Far above what NTP-synced clocks drift.
   * @default 5
   */
  readonly maxClockOffsetSeconds?: number;
}

/** The configuration with every default filled in; what the CDK app consumes. */
export interface ResolvedTableConfig {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  readonly readCapacity: number;
  readonly writeCapacity: number;
  readonly regions: readonly string[];
  readonly tombstoneTtlSeconds: number;
  readonly ttlAttribute: string;
  readonly retainOnDelete: boolean;
  readonly strategy: StrategySpec;
  /** custom strategy: absolute path of the resolver module and the export to call. */
  readonly resolver?: { readonly file: string; readonly exportName: string };
  /** Seconds to keep conflict records; undefined when the conflict log is off. */
  readonly conflictLogRetentionSeconds?: number;
  readonly replicateTtlDeletes: boolean;
  readonly selection?: SelectionSpec;
  /** Physical table name per region, when configured (read it through `physicalTableName`). */
  readonly names?: Readonly<Record<string, string>>;
  readonly batchingWindowSeconds: { readonly stream: number; readonly queue: number };
  /** The table's clock bound: its own `maxClockOffsetSeconds`, else the app's, else 5. */
  readonly maxClockOffsetSeconds: number;
}

export interface ResolvedConfig {
  readonly appName: string;
  readonly regions: readonly RegionConfig[];
  readonly tables: readonly ResolvedTableConfig[];
  /** Filled in by validateConfig; read it through `monitoringOf(config)` (lib/config/monitoring.ts). */
  readonly monitoring?: ResolvedMonitoring;
}

/** Typed identity so a config file gets completion and type checks: `export default defineConfig({...})`. */
export function defineConfig(config: RegionSyncConfig): RegionSyncConfig {
  return config;
}

/**
 * Alarm thresholds. Set in `monitoring` for every table; a table's `monitoring` overrides them.
 * Every alarm treats missing data as not breaching (no traffic is not a problem): a stalled
 * pipeline shows up in the backlog-age and iterator-age alarms, which measure waiting, not traffic.
 */
export interface AlarmThresholds {
  /** Alarm when a source→target pair's p99 replication lag (source write → applied in the target) is above this, in ms. @default 5000 */
  readonly lagP99ThresholdMs?: number;
  /** ...in each of this many consecutive 1-minute periods. @default 5 */
  readonly lagEvaluationMinutes?: number;
  /** Alarm when any change of a pair took longer than this to apply (maximum over 1 minute), in ms. @default 60000 */
  readonly lagMaxThresholdMs?: number;
  /** Alarm when the oldest message in the table's inbound queue is older than this, in seconds. @default 300 */
  readonly backlogAgeThresholdSeconds?: number;
  /**
   * Alarm when the shipper's stream iterator age (how far behind the stream it reads) is above
   * this, in seconds. Stream records expire after 24 h (86400 s): the alarm leaves the rest of
   * that to recover before changes are lost. @default 3600
   */
  readonly iteratorAgeThresholdSeconds?: number;
  /** Alarm when more than this percentage of a shipper's or applier's invocations fail or are throttled, over 5 minutes. @default 5 */
  readonly errorRateThresholdPercent?: number;
  /**
   * Alarm when changes for an unreachable target region have been parked in the source region's
   * outage backlog this long: the backlog queue held a message in every minute of it (rounded
   * up to whole minutes), from 60 to 86400 s. Parked changes are kept 14 days. @default 600
   */
  readonly parkedAgeThresholdSeconds?: number;
}

export interface TableMonitoringConfig extends AlarmThresholds {
  /**
   * Write fence: while one of these alarms of the table is firing in a region, the table is
   * fenced in that region (see `WriteFence` in lib/client/fencing.ts; applications refuse or
   * reroute writes that must not diverge). `true` means `{ on: ['lagP99', 'backlogAge', 'iteratorAge'] }`.
   * `regionsync fence` sets and lifts a manual fence whatever this says.
   * @default false
   */
  readonly fence?: boolean | { readonly on: readonly AlarmKind[] };
}

/** Per region stack: switch alarms or dashboards off there. */
export interface StackMonitoringConfig {
  /** @default monitoring.alarms */
  readonly alarms?: boolean;
  /** @default monitoring.dashboards */
  readonly dashboards?: boolean;
}

export interface MonitoringConfig extends AlarmThresholds {
  /** Create alarms and each region's alarm topic. @default true */
  readonly alarms?: boolean;
  /** Create a dashboard per region and the global dashboard. @default true */
  readonly dashboards?: boolean;
  /** Overrides per region stack, keyed by region name. @default none */
  readonly stacks?: Readonly<Record<string, StackMonitoringConfig>>;
  /** Region whose stack holds the global dashboard (CloudWatch dashboards are global per account). @default the first configured region */
  readonly globalDashboardRegion?: string;
  /** Email addresses subscribed to every region's alarm topic (each must confirm the subscription). @default [] */
  readonly alarmEmails?: readonly string[];
  /** HTTPS endpoints subscribed to every region's alarm topic (e.g. a pager's webhook). @default [] */
  readonly alarmHttpsEndpoints?: readonly string[];
}

export interface ResolvedThresholds {
  readonly lagP99ThresholdMs: number;
  readonly lagEvaluationMinutes: number;
  readonly lagMaxThresholdMs: number;
  readonly backlogAgeThresholdSeconds: number;
  readonly iteratorAgeThresholdSeconds: number;
  readonly errorRateThresholdPercent: number;
  readonly parkedAgeThresholdSeconds: number;
}

export interface ResolvedTableMonitoring extends ResolvedThresholds {
  /** Alarm kinds that fence the table; empty: no fence from alarms. */
  readonly fenceOn: readonly AlarmKind[];
}

export interface ResolvedMonitoring {
  /** Per region (every configured region). */
  readonly stacks: Readonly<Record<string, { readonly alarms: boolean; readonly dashboards: boolean }>>;
  readonly globalDashboardRegion: string;
  readonly alarmEmails: readonly string[];
  readonly alarmHttpsEndpoints: readonly string[];
  /** Per table name. */
  readonly tables: Readonly<Record<string, ResolvedTableMonitoring>>;
}

/** The table's physical name in `region`. */
export function physicalTableName(table: Pick<ResolvedTableConfig, 'name' | 'names'>, region: string): string {
  return table.names?.[region] ?? table.name;
}
