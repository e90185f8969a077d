import { createHash } from 'node:crypto';
import type { SelectionSpec } from './types.ts';
import type { ClockBound } from './clock-bound.ts';

/**
 * Names shared by the CDK app (`lib/`), the Lambda handlers (`lambda/`) and the local
 * runtime (`dev/local/`), so that what the infrastructure configures can never drift from
 * what the code reads. Pure constants: no AWS calls.
 */

/** Attributes regionsync keeps on every replicated item. Prefixed so they cannot clash with user data. */
export const META = {
  /** Hybrid-logical-clock version of the item's last replicated change (see version.ts). */
  version: '_rs_v',
  /**
   * No longer written: the region whose write produced `version` is the version's own suffix
   * (`regionOfVersion`). A stamp removes one an older release left on an item.
   */
  origin: '_rs_o',
  /**
   * Who wrote `version`: `stamp` (the shipper stamped a plain application write),
   * `repl` or `repl2` (the applier applied a change from another region; it alternates the two
   * so the shipper's event filter can drop its echoes, see echo-filter.ts), `app` (the client helper).
   * The shipper reads it to tell a local write from an echo of replication.
   */
  writer: '_rs_w',
  /** Present (true) on a tombstone: the item is deleted, kept so a late older write cannot resurrect it. */
  deleted: '_rs_del',
  /** Default TTL attribute: epoch seconds at which DynamoDB may purge a tombstone. */
  expiresAt: '_rs_exp',
  /** Version vector: region → newest version from that region in the item's history (detects concurrency). */
  vector: '_rs_vv',
  /** `fields`/`merge` strategies: attribute → version of its last write (a removed attribute keeps its version). */
  fieldVersions: '_rs_fv',
  /** `merge` strategy: CRDT state of the declared attributes (counters, sets, lists, registers). */
  crdt: '_rs_crdt',
  /** `custom` strategy: the concurrent versions not yet superseded (siblings), which the resolver folds into the item. */
  siblings: '_rs_sib',
  /**
   * Merging strategies, local only: a counter every read–merge–write moves up by one (the
   * optimistic lock of writes.ts). The version alone cannot be the lock: merging an older change
   * in keeps the version, so two merges could both pass a condition on it and one would
   * overwrite the other. Counting up also tells the shipper a merge (lock forward) from an
   * application's stale copy (lock back).
   */
  lock: '_rs_lk',
  /** `fields`/`merge` strategies, local only: last stream sequence number folded in (makes a retried record a no-op). */
  sequence: '_rs_sq',
  /**
   * Local only: a short hash of the item's content as regionsync last wrote it (content-hash.ts).
   * Content that no longer matches it was written by the application since, whatever `_rs_*`
   * attributes that write carried (a read-modify-write may put back stale copies of them all):
   * that is how the shipper tells an application's write from regionsync's own, and the applier's
   * leftovers from a local write that is still on its way.
   */
  contentHash: '_rs_h',
  /**
   * Tombstone table only (tombstones.ts): the row's key, `<logical table>#<hash of the item's key>`.
   * Not on any application item.
   */
  tombstoneKey: '_rs_tk',
  /**
   * Tombstone table only: when the tombstone was written (epoch ms, the writer's clock). A local
   * write made after it must version above it; one made before it may lose to it.
   */
  tombstoneWrittenAt: '_rs_at',
} as const;

/** Every metadata attribute name (the values of {@link META}): what stripMeta removes from an item. */
export const META_ATTRIBUTES: readonly string[] = Object.values(META);
/**
 * What an application sees on a live item of a last-writer-wins table, besides what it wrote
 * (README, "What regionsync adds to your items"). Tombstones are kept in the tombstone table.
 * The vector only on an item written in more than one region (vector.ts).
 */
export const LWW_LIVE_ITEM_METADATA: readonly string[] = [META.version, META.writer, META.contentHash, META.vector];
/** What a live last-writer-wins item written in one region carries: 53 B for us-east-1. */
export const LWW_SINGLE_WRITER_METADATA: readonly string[] = [META.version, META.writer, META.contentHash];
/** Metadata that travels with a change (the rest is local bookkeeping). */
export const REPLICATED_META: readonly string[] = [META.vector, META.fieldVersions, META.crdt, META.siblings];

/** How the `merge` strategy merges a declared attribute (see item-state.ts). */
export type CrdtKind = 'counter' | 'set' | 'max' | 'min' | 'list';
/** Conflict-resolution strategy of a table (see README, "Conflict resolution"); `merge` names a CRDT kind per attribute. */
export type StrategySpec =
  | { readonly strategy: 'lww' }
  | { readonly strategy: 'fields' }
  | { readonly strategy: 'merge'; readonly attributes: Readonly<Record<string, CrdtKind>> }
  | { readonly strategy: 'custom' };

/** Values of the writer attribute (`_rs_w`): who wrote the item's version (see `META.writer`). */
export type Writer = 'stamp' | 'repl' | 'repl2' | 'app';

/** Environment variables the stacks set and the handlers read. */
export const ENV = {
  /** JSON-encoded {@link FunctionSettings}. */
  settings: 'REGIONSYNC_SETTINGS',
  /** Powertools metric namespace and service name. */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
} as const;

/** The names of a table's key attributes. */
export interface KeySchema {
  readonly partitionKey: string;
  /** @default none (the table has a partition key only) */
  readonly sortKey?: string;
}

/** A region the shipper sends changes to, and the URL of that region's inbound queue. */
export interface ReplicationTarget {
  readonly region: string;
  readonly queueUrl: string;
}

/** Everything one shipper or applier needs to know about its table, passed as one JSON env var. */
export interface FunctionSettings {
  /** The table's name in this region. */
  readonly tableName: string;
  /** The table's logical name, the same in every region; carried in messages. */
  readonly logicalTable: string;
  /** The region this function runs in. */
  readonly region: string;
  readonly key: KeySchema;
  /**
   * Shipper only: where changes go.
   * @default none (changes are sent to no region)
   */
  readonly targets?: readonly ReplicationTarget[];
  /**
   * Applier only: regions whose changes it accepts.
   * @default none (a change from any origin is accepted)
   */
  readonly sourceRegions?: readonly string[];
  /**
   * Shipper only: this region's backlog queue (14-day retention). Changes a target region could
   * not take wait there, with a `target` attribute, until the shipper drains them to it.
   * @default none (a send a target refuses fails the batch, which the stream mapping retries)
   */
  readonly backlogQueueUrl?: string;
  /**
   * Shipper only: this region's stream-failures queue (14-day retention), where the shipper parks a
   * record it can never stamp or fold (DynamoDB refuses the write as invalid, e.g. over 400 KB) and
   * Lambda sends the on-failure record of a stream batch it gave up on (src/core/stream-failures.ts).
   * @default none: such a record fails the batch, as before this queue existed
   */
  readonly streamFailureQueueUrl?: string;
  /**
   * Applier only: dead-letter queue for messages that can never apply, with the reason attached.
   * @default none (such a message fails and is retried until the inbound queue's redrive policy moves it)
   */
  readonly deadLetterQueueUrl?: string;
  /**
   * `lww` tables: this region's tombstone table (tombstones.ts). Deleted items are kept there, not
   * in the table, so the application never reads them.
   * @default none: tombstones stay in the table (merging strategies, and settings from before the tombstone table)
   */
  readonly tombstoneTable?: string;
  /** Seconds a tombstone is kept before TTL may purge it. */
  readonly tombstoneTtlSeconds: number;
  /** The table's TTL attribute (tombstones expire through it). */
  readonly ttlAttribute: string;
  /** Upper bound for one SQS message body, in bytes. */
  readonly maxMessageBytes: number;
  /** How concurrent changes resolve. @default { strategy: 'lww' } */
  readonly strategy?: StrategySpec;
  /** Replicate TTL expirations as deletes. @default false (each region's TTL expires its own copy) */
  readonly replicateTtlDeletes?: boolean;
  /** Selective replication: item filters and attribute projection per target region (core/selection.ts). @default everything everywhere */
  readonly selection?: SelectionSpec;
  /**
   * Applier only: table that records conflicts in this region, and for how long (seconds).
   * @default none (conflicts are counted in metrics, not recorded)
   */
  readonly conflictLog?: { readonly tableName: string; readonly retentionSeconds: number };
  /** The clock bound (`maxClockOffsetSeconds`, core/clock-bound.ts). @default 5 s, and 27 min of holding by retries */
  readonly clockBound?: ClockBound;
}

/** The CloudWatch namespace, dimension names and metric names the handlers emit (see metrics.ts for who emits which). */
export const METRICS = {
  namespace: 'RegionSync',
  dimensions: {
    table: 'Table',
    sourceRegion: 'SourceRegion',
    targetRegion: 'TargetRegion',
    strategy: 'Strategy',
  },
  names: {
    changesShipped: 'ChangesShipped',
    writesStamped: 'WritesStamped',
    messagesSent: 'MessagesSent',
    changesApplied: 'ChangesApplied',
    changesStale: 'ChangesSkippedStale',
    changesDeadLettered: 'ChangesDeadLettered',
    replicationLag: 'ReplicationLagMs',
    conflicts: 'Conflicts',
    /** Change messages parked in the backlog because their target region failed. */
    messagesBacklogged: 'MessagesBacklogged',
    /** Backlog messages delivered to their target region. */
    messagesDrained: 'MessagesDrained',
    /** Applier, per pair: changes not applied because their version was beyond maxClockOffsetSeconds ahead of this region's clock (waiting or dead-lettered). */
    changesAheadOfClock: 'ChangesAheadOfClock',
    /** Shipper: client-helper writes restamped because their version was beyond maxClockOffsetSeconds ahead of DynamoDB's clock. */
    clientWritesRestamped: 'ClientWritesRestamped',
    /**
     * Stream records the shipper parked in the stream-failures queue because DynamoDB refused their
     * stamp or fold as invalid (an item with no room left for regionsync's metadata): not replicated
     * until redriven (`regionsync redrive --stream-failures`).
     */
    recordsParked: 'StreamRecordsParked',
  },
} as const;

/** Physical names, derived in one place. */
export function inboundQueueName(appName: string, logicalTable: string): string {
  return `${appName}-${logicalTable}-inbound`;
}
/** Target-region queue of messages that can never apply: the inbound queue's redrive target, and where the applier parks them with the reason. */
export function deadLetterQueueName(appName: string, logicalTable: string): string {
  return `${appName}-${logicalTable}-dlq`;
}
/** Source-region queue of changes waiting for an unreachable target region (message attribute `target`). */
export function backlogQueueName(appName: string, logicalTable: string): string {
  return `${appName}-${logicalTable}-backlog`;
}
/**
 * Source-region queue of stream records that did not replicate: the shipper's stream mapping's
 * on-failure destination (Lambda's records of batches it gave up on) and the records the shipper
 * parked itself (src/core/stream-failures.ts). Redriven by `regionsync redrive --stream-failures`.
 */
export function streamFailureQueueName(appName: string, logicalTable: string): string {
  return `${appName}-${logicalTable}-stream-failures`;
}
/** Message attribute of a backlog message: the target region it waits for. */
export const BACKLOG_TARGET_ATTRIBUTE = 'target';
/**
 * The event a schedule (an EventBridge rule, every minute) invokes the shipper with to drain its
 * region's backlog queue. A schedule rather than an SQS event source: Lambda long-polls a queue
 * behind a mapping all the time, ~$0.26 a month per queue in receives even when it stays empty, as
 * a backlog does but during an outage (docs/benchmarks.md, "idle").
 */
export const DRAIN_BACKLOG_EVENT = { regionsync: 'drain-backlog' } as const;
/** How often the schedule drains a backlog, minutes (EventBridge's finest rate). */
export const DRAIN_BACKLOG_EVERY_MINUTES = 1;

/** Whether a Lambda event is the backlog drain's schedule. */
export function isDrainBacklogEvent(event: unknown): event is typeof DRAIN_BACKLOG_EVENT {
  return typeof event === 'object' && event !== null && (event as { regionsync?: unknown }).regionsync === DRAIN_BACKLOG_EVENT.regionsync;
}
/**
 * The shipper's role has a fixed name so that queue policies in other accounts can admit it
 * before (or without) its stack being deployed. Hashed: IAM role names are limited to 64 characters.
 */
export function shipperRoleName(appName: string, logicalTable: string, region: string): string {
  return `${appName}-shipper-${createHash('sha256').update(`${logicalTable}\0${region}`).digest('hex').slice(0, 16)}`;
}
/** One per region, shared by the app's tables: the conflict log (conflicts.ts) of every table that keeps one. */
export function conflictTableName(appName: string): string {
  return `${appName}-conflicts`;
}
/** One per region, shared by the app's `lww` tables (rows keyed by logical table and item key). */
export function tombstoneTableName(appName: string): string {
  return `${appName}-tombstones`;
}
/** The CloudFormation stack of one region of the app. */
export function stackName(appName: string, region: string): string {
  return `${appName}-${region}`;
}
/** A region's CloudWatch dashboard, `<appName>-<region>` (src/infra/constructs/region-dashboard.ts; the ops console reads it). */
export function regionDashboardName(appName: string, region: string): string {
  return `${appName}-${region}`;
}
/** The app's dashboard across regions, `<appName>-global` (src/infra/constructs/global-dashboard.ts). */
export function globalDashboardName(appName: string): string {
  return `${appName}-global`;
}
