import type { StrategySpec } from '../../core/contract.ts';
import type { SelectionSpec } from '../../core/selection.ts';
/**
 * The configuration a user writes in `regionsync.config.ts`: regions and, per table, its key
 * schema and where it replicates. Validated by `validateConfig` before anything is synthesized.
 */
import { ALARM_KINDS, type AlarmKind } from '../../core/metrics.ts';
import { z } from 'zod';

const keyTypeSchema = z.enum(['string', 'number', 'binary']);
/** A key attribute's type as the config spells it (DynamoDB's S, N and B). */
export type KeyType = z.infer<typeof keyTypeSchema>;
/** Every valid {@link KeyType}: what validateConfig checks key types against and lists in its message. */
export const KEY_TYPES: readonly KeyType[] = keyTypeSchema.options;

// The configuration a user writes, as zod schemas: strict objects (an unknown key, a typo such as
// `replicat:`, fails at synth, naming its path and the nearest known setting; validate.ts), and
// the types below are inferred from them. The value checks that need context (regions, keys,
// resolvers on disk) are in validate.ts, which names the field and the value.

const keyAttributeSchema = z.strictObject({
  name: z.string(),
  type: keyTypeSchema,
});
/** A partition or sort key attribute: its name and type. */
export type KeyAttribute = z.input<typeof keyAttributeSchema>;

const regionConfigSchema = z.strictObject({
  /** AWS region name, e.g. `us-east-1`. */
  region: z.string(),
  /**
   * Account the region's stack deploys to.
   * @default the CDK's default account (CDK_DEFAULT_ACCOUNT), or environment-agnostic when unknown
   */
  account: z.string().optional(),
  /**
   * How the regionsync CLI (status, verify, repair, backfill, redrive, replay, conflicts, smoke)
   * reaches this region's account when it is not the one of your default credentials: a named
   * profile, a role to assume (with the profile's credentials, or the default ones), or both. The
   * deployed functions never use it: they run with their own roles.
   * @default the default credential chain (environment, ~/.aws, instance role)
   */
  credentials: z.strictObject({ profile: z.string().optional(), roleArn: z.string().optional() }).optional(),
});
/** One entry of `regions` in its object form (a bare region name means `{ region }`): the region, its account and how the CLI reaches it. */
export type RegionConfig = z.input<typeof regionConfigSchema>;
/** How the CLI reaches one region's account (RegionConfig.credentials). */
export type RegionCredentials = NonNullable<RegionConfig['credentials']>;

const crdtKindSchema = z.enum(['counter', 'set', 'max', 'min', 'list']);
/** The CRDT an attribute of the `merge` strategy merges as: counter, set, max, min or list (docs/conflict-resolution.md). */
export type CrdtKindConfig = z.input<typeof crdtKindSchema>;
/** Every valid {@link CrdtKindConfig}: what validateConfig checks `merge` attributes against and lists in its message. */
export const CRDT_KINDS: readonly CrdtKindConfig[] = crdtKindSchema.options;

const conflictResolutionSchema = z.discriminatedUnion('strategy', [
  z.strictObject({ strategy: z.literal('lww') }),
  /** Per-attribute last writer wins: concurrent updates to different attributes both survive. */
  z.strictObject({ strategy: z.literal('fields') }),
  /** Declared attributes merge as CRDTs; every other attribute is per-attribute last writer wins. */
  z.strictObject({ strategy: z.literal('merge'), attributes: z.record(z.string(), crdtKindSchema).readonly() }),
  /**
   * A resolver function in your code: `'resolvers/orders.ts#resolveOrder'` (path relative to the
   * project root, `#` and the export's name; default export `default`). See src/core/resolver.ts.
   */
  z.strictObject({ strategy: z.literal('custom'), resolver: z.string() }),
]);
/** A table's `conflictResolution`: `lww`, `fields`, `merge` (with its CRDT attributes) or `custom` (with its resolver). */
export type ConflictResolutionConfig = z.input<typeof conflictResolutionSchema>;

/**
 * Alarm thresholds. Set in `monitoring` for every table; a table's `monitoring` overrides them.
 * Every alarm treats missing data as not breaching (no traffic is not a problem): a stalled
 * pipeline shows up in the backlog-age and iterator-age alarms, which measure waiting, not traffic.
 */
const alarmThresholdsShape = {
  /** Alarm when a source→target pair's p99 replication lag (source write → applied in the target) is above this, in ms. @default 5000 */
  lagP99ThresholdMs: z.number().optional(),
  /** ...in each of this many consecutive 1-minute periods. @default 5 */
  lagEvaluationMinutes: z.number().optional(),
  /** Alarm when any change of a pair took longer than this to apply (maximum over 1 minute), in ms. @default 60000 */
  lagMaxThresholdMs: z.number().optional(),
  /** Alarm when the oldest message in the table's inbound queue is older than this, in seconds. @default 300 */
  backlogAgeThresholdSeconds: z.number().optional(),
  /**
   * Alarm when the shipper's stream iterator age (how far behind the stream it reads) is above
   * this, in seconds. Stream records expire after 24 h (86400 s): the alarm leaves the rest of
   * that to recover before changes are lost. @default 3600
   */
  iteratorAgeThresholdSeconds: z.number().optional(),
  /** Alarm when more than this percentage of a shipper's or applier's invocations fail or are throttled, over 5 minutes. @default 5 */
  errorRateThresholdPercent: z.number().optional(),
  /**
   * Alarm when changes for an unreachable target region have been parked in the source region's
   * outage backlog this long: the backlog queue held a message in every minute of it (rounded
   * up to whole minutes), from 60 to 86400 s. Parked changes are kept 14 days. @default 600
   */
  parkedAgeThresholdSeconds: z.number().optional(),
};
const alarmThresholdsSchema = z.strictObject(alarmThresholdsShape);
/** The alarm thresholds a user may set, in `monitoring` (every table) or a table's `monitoring` (that table); each field's default is on it. */
export type AlarmThresholds = z.input<typeof alarmThresholdsSchema>;

const tableMonitoringSchema = z.strictObject({
  ...alarmThresholdsShape,
  /**
   * Write fence: while one of these alarms of the table is firing in a region, the table is
   * fenced in that region (see `WriteFence` in src/client/fencing.ts; applications refuse or
   * reroute writes that must not diverge). `true` means `{ on: ['lagP99', 'backlogAge', 'iteratorAge'] }`.
   * `regionsync fence` sets and lifts a manual fence whatever this says.
   * @default false
   */
  fence: z.union([z.boolean(), z.strictObject({ on: z.array(z.enum(ALARM_KINDS)).readonly() })]).optional(),
});
/** A table's `monitoring`: thresholds overriding the app-wide ones, and its write fence. */
export type TableMonitoringConfig = z.input<typeof tableMonitoringSchema>;

/** Per region stack: switch alarms or dashboards off there. */
const stackMonitoringSchema = z.strictObject({
  /** @default monitoring.alarms */
  alarms: z.boolean().optional(),
  /** @default monitoring.dashboards */
  dashboards: z.boolean().optional(),
});
/** One entry of `monitoring.stacks`: alarms or dashboards switched off (or on) in one region's stack. */
export type StackMonitoringConfig = z.input<typeof stackMonitoringSchema>;

const monitoringSchema = z.strictObject({
  ...alarmThresholdsShape,
  /** Create alarms and each region's alarm topic. @default true */
  alarms: z.boolean().optional(),
  /** Create a dashboard per region and the global dashboard. @default true */
  dashboards: z.boolean().optional(),
  /** Overrides per region stack, keyed by region name. @default none */
  stacks: z.record(z.string(), stackMonitoringSchema).readonly().optional(),
  /** Region whose stack holds the global dashboard (CloudWatch dashboards are global per account). @default the first configured region */
  globalDashboardRegion: z.string().optional(),
  /** Email addresses subscribed to every region's alarm topic (each must confirm the subscription). @default [] */
  alarmEmails: z.array(z.string()).readonly().optional(),
  /** HTTPS endpoints subscribed to every region's alarm topic (e.g. a pager's webhook). @default [] */
  alarmHttpsEndpoints: z.array(z.string()).readonly().optional(),
});
/** The config's `monitoring` section: app-wide thresholds, alarm and dashboard switches, per-stack overrides and the alarm topics' subscriptions. */
export type MonitoringConfig = z.input<typeof monitoringSchema>;

const tableConfigSchema = z.strictObject({
  /** Table name, the same in every region. */
  name: z.string(),
  partitionKey: keyAttributeSchema,
  /** @default no sort key */
  sortKey: keyAttributeSchema.optional(),
  /** @default 'PAY_PER_REQUEST' */
  billingMode: z.enum(['PAY_PER_REQUEST', 'PROVISIONED']).optional(),
  /** Provisioned read capacity units; only with billingMode PROVISIONED. @default 5 */
  readCapacity: z.number().optional(),
  /** Provisioned write capacity units; only with billingMode PROVISIONED. @default 5 */
  writeCapacity: z.number().optional(),
  /** Regions the table lives and replicates in (at least two). @default every configured region */
  regions: z.array(z.string()).readonly().optional(),
  /**
   * How long a tombstone (a deleted item's versioned marker) is kept, in seconds. Must exceed the
   * longest a change can wait before it is applied (stream plus dead-letter retention), or a
   * late older write could resurrect a deleted item.
   * @default 1_296_000 (15 days: stream retention + the 14-day dead-letter retention, so even a redriven message cannot resurrect)
   */
  tombstoneTtlSeconds: z.number().optional(),
  /** The table's TTL attribute; tombstones expire through it. @default '_rs_exp' */
  ttlAttribute: z.string().optional(),
  /** Keep the table when its stack is deleted. @default true */
  retainOnDelete: z.boolean().optional(),
  /**
   * How concurrent writes to one item resolve (docs/conflict-resolution.md).
   * @default { strategy: 'lww' } (whole item, last writer wins by version)
   */
  conflictResolution: conflictResolutionSchema.optional(),
  /** Record every conflict (both sides and the result) in the region's conflicts table. @default { enabled: true, retentionDays: 30 } */
  conflictLog: z.strictObject({ enabled: z.boolean().optional(), retentionDays: z.number().optional() }).optional(),
  /** Replicate TTL expirations as deletes; otherwise each region's TTL expires its own copy. @default false */
  replicateTtlDeletes: z.boolean().optional(),
  /** This table's alarm thresholds (overriding `monitoring`) and its write fence. */
  monitoring: tableMonitoringSchema.optional(),
  /**
   * Selective replication (docs/selective-replication.md): which items go to the other regions
   * and which attributes never go to a given region, e.g.
   * `{ to: { 'us-east-1': { filter: { attribute: 'country', equals: 'US' }, exclude: ['email'] } } }`.
   * Checked in full by src/core/selection.ts (checkSelection).
   * @default every item and attribute to every region of the table
   */
  replicate: z.custom<SelectionSpec>().optional(),
  /** The table's physical name per region, when it differs from `name` (same key schema everywhere). @default `name` in every region */
  names: z.record(z.string(), z.string()).readonly().optional(),
  /**
   * Lambda's MaximumBatchingWindowInSeconds on the shipper's stream mapping (`stream`) and the
   * applier's inbound queue mapping (`queue`), 0–300 each: how long to gather records before an
   * invocation. A window trades up to that much extra lag for fuller batches (fewer invocations,
   * SQS calls and messages per item) on tables that are written slowly (docs/benchmarks.md).
   * @default derived from `lagBudgetMs`: { stream: 0, queue: 0 } at the default budget (invoke as soon as records are there)
   */
  batchingWindowSeconds: z.strictObject({ stream: z.number().optional(), queue: z.number().optional() }).optional(),
  /**
   * The replication lag this table accepts, p99, in milliseconds (1,000 to 600,000). Above the
   * default, regionsync gathers records into fuller batches (a stream batching window of the whole
   * seconds left beside the ~1 s the pipeline takes unbatched), which makes a slowly written table
   * cheaper (src/core/batching.ts, docs/benchmarks.md). `batchingWindowSeconds` set by hand wins.
   * @default 1000 (no batching window)
   */
  lagBudgetMs: z.number().optional(),
  /**
   * Lambda's ParallelizationFactor on the shipper's stream mapping, 1-10: how many batches of one
   * stream shard the shipper works on at once (each key's changes stay in order). Raise it for a
   * table whose shards take more writes than one shipper keeps up with (a few hundred items a second
   * at 512 MB: `npm run bench` prints the factor each rate needs, docs/benchmarks.md). At low rates
   * a factor above 1 splits small batches further and costs more invocations and messages.
   * @default 1
   */
  parallelizationFactor: z.number().optional(),
  /** This table's clock bound, overriding the app-wide `maxClockOffsetSeconds`. @default the app-wide `maxClockOffsetSeconds` */
  maxClockOffsetSeconds: z.number().optional(),
  /**
   * Regions where the table already exists (with its data) and is adopted rather than created:
   * the stack never creates, replaces or deletes it there, and reads its stream's ARN from the CDK
   * context that `regionsync adopt` records (docs/adopting.md). In the table's other regions it is
   * created as usual.
   * @default none: regionsync creates the table in every region
   */
  adoptIn: z.array(z.string()).readonly().optional(),
});
/** One entry of `tables`: a table's key schema, regions, conflict resolution and replication settings. */
export type TableConfig = z.input<typeof tableConfigSchema>;

/** The configuration a user writes in `regionsync.config.ts` (`export default defineConfig({...})`). */
export const regionSyncConfigSchema = z.strictObject({
  /** Prefix of every stack and queue name. @default 'regionsync' */
  appName: z.string().optional(),
  regions: z.array(z.union([z.string(), regionConfigSchema])).readonly(),
  tables: z.array(tableConfigSchema).readonly(),
  /** Alarms, their SNS topics, dashboards. @default everything on, thresholds as documented in {@link AlarmThresholds} */
  monitoring: monitoringSchema.optional(),
  /**
   * The clock bound (docs/configuration.md#clock-skew), 0.5 to 3600 seconds: no region applies or adopts a
   * version whose time is more than this ahead of its own clock, and client-helper writes from a
   * host clock further ahead than this are restamped. Far above what NTP-synced clocks drift.
   * @default 5
   */
  maxClockOffsetSeconds: z.number().optional(),
  /**
   * How each region's resources are split into CloudFormation stacks. `single`: one stack per
   * region (about 25 resources per table in 2 regions, 39 in 5: up to about 12 tables in 5 regions fit in CloudFormation's 500).
   * `per-table`: each table, with its functions, queues and alarms, in a nested stack of its own,
   * so a region holds any number of tables. Choose before the first deploy: switching later moves
   * every table to another stack (docs/stacks.md). A synth that would break the limit fails and
   * names this key.
   * @default 'single'
   */
  stackLayout: z.enum(['single', 'per-table']).optional(),
  /**
   * X-Ray tracing of every shipper and applier: active tracing, and each AWS SDK call a subsegment
   * (Powertools Tracer). Costs X-Ray's per-trace price; untraced functions do not even load the SDK.
   * @default false
   */
  tracing: z.boolean().optional(),
});
/** The configuration as a user writes it, before validation: what `defineConfig` type-checks and `validateConfig` takes. */
export type RegionSyncConfig = z.input<typeof regionSyncConfigSchema>;

/** One table's configuration with every default filled in (an entry of ResolvedConfig.tables). */
export interface ResolvedTableConfig {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  /** @default no sort key (items are keyed by the partition key alone) */
  readonly sortKey?: KeyAttribute;
  readonly billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  readonly readCapacity: number;
  readonly writeCapacity: number;
  readonly regions: readonly string[];
  readonly tombstoneTtlSeconds: number;
  readonly ttlAttribute: string;
  readonly retainOnDelete: boolean;
  readonly strategy: StrategySpec;
  /**
   * custom strategy: absolute path of the resolver module and the export to call.
   * @default none (only the `custom` strategy has a resolver)
   */
  readonly resolver?: { readonly file: string; readonly exportName: string };
  /**
   * Seconds to keep conflict records; undefined when the conflict log is off.
   * @default no conflict log (validateConfig sets 30 days unless `conflictLog.enabled` is false)
   */
  readonly conflictLogRetentionSeconds?: number;
  readonly replicateTtlDeletes: boolean;
  /**
   * The table's selective replication (`replicate`), as validateConfig checked it.
   * @default every item and attribute to every region of the table
   */
  readonly selection?: SelectionSpec;
  /**
   * Physical table name per region, when configured (read it through `physicalTableName`).
   * @default `name` in every region
   */
  readonly names?: Readonly<Record<string, string>>;
  readonly batchingWindowSeconds: { readonly stream: number; readonly queue: number };
  /** The lag p99 the table accepts (`lagBudgetMs`), from which the windows were derived unless set. */
  readonly lagBudgetMs: number;
  /** The shipper's stream mapping's ParallelizationFactor (`parallelizationFactor`, 1-10). */
  readonly parallelizationFactor: number;
  /** The table's clock bound: its own `maxClockOffsetSeconds`, else the app's, else 5. */
  readonly maxClockOffsetSeconds: number;
  /**
   * Regions where the table exists already and is adopted, not created (`adoptIn`).
   * @default none
   */
  readonly adoptIn?: readonly string[];
}

/** The whole configuration after validateConfig: defaults filled in, regions in object form; what buildApp and the CLI consume. */
export interface ResolvedConfig {
  readonly appName: string;
  readonly regions: readonly RegionConfig[];
  readonly tables: readonly ResolvedTableConfig[];
  /**
   * Filled in by validateConfig; read it through `monitoringOf(config)` (src/infra/config/monitoring.ts).
   * @default what monitoringOf returns without one: alarms and dashboards in every region, the global dashboard in the first region, no subscriptions, the default thresholds and no fence
   */
  readonly monitoring?: ResolvedMonitoring;
  /** @default 'single' */
  readonly stackLayout?: StackLayout;
  /** @default false */
  readonly tracing?: boolean;
}

/**
 * Where each region stack keeps the resolved configuration, in its template's Metadata: the
 * operations commands read a deployed app's configuration from there (`--app`, src/ops/deployed-config.ts).
 */
export const DEPLOYED_CONFIG_METADATA = 'regionsync:config';

/** How a region's resources are split into CloudFormation stacks (the config's `stackLayout`). */
export type StackLayout = 'single' | 'per-table';

/** Typed identity so a config file gets completion and type checks: `export default defineConfig({...})`. */
export function defineConfig(config: RegionSyncConfig): RegionSyncConfig {
  return config;
}

/** Alarm thresholds with every default filled in (AlarmThresholds says what each one means). */
export interface ResolvedThresholds {
  readonly lagP99ThresholdMs: number;
  readonly lagEvaluationMinutes: number;
  readonly lagMaxThresholdMs: number;
  readonly backlogAgeThresholdSeconds: number;
  readonly iteratorAgeThresholdSeconds: number;
  readonly errorRateThresholdPercent: number;
  readonly parkedAgeThresholdSeconds: number;
}

/** One table's resolved monitoring: its alarm thresholds and the alarm kinds that fence it. */
export interface ResolvedTableMonitoring extends ResolvedThresholds {
  /** Alarm kinds that fence the table; empty: no fence from alarms. */
  readonly fenceOn: readonly AlarmKind[];
}

/** The resolved `monitoring` section: per-stack switches, the global dashboard's region, alarm subscriptions and each table's thresholds. */
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
