/**
 * Read-your-writes in other regions, as an opt-in per call: after a write whose version you
 * know, wait until the other regions hold it (or something newer that already includes it).
 * Replication stays asynchronous for everything else; only the caller of this waits.
 *
 * ```ts
 * const waiter = new ReplicationWaiter({ clients: { 'us-east-1': ddbUs, 'eu-west-1': ddbEu }, table: { name: 'orders', regions: ['us-east-1', 'eu-west-1'] } });
 * const { version } = ...;                                   // the version the write carries (_rs_v)
 * await waiter.awaitReplicated({ pk: { S: 'o-1' } }, version, { timeoutMs: 5000 });
 * ```
 *
 * A region holds the write when its copy of the item covers the version: its version vector has
 * a version of the write's origin at least as new (`fields`/`merge`/`custom` tables: the state
 * from that origin includes the write), or, for `lww` tables, its version is at least as new (a
 * newer whole-item write supersedes ours everywhere alike). A tombstone counts like an item.
 * Each region is polled with one consistent GetItem of the metadata only, backing off from
 * 25 ms to 500 ms.
 *
 * Plain writes get their version from the shipper a moment after the write: read it back with
 * `waitForVersion` (the first version of this region newer than the one the item had before).
 */
import { GetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { toWire } from '../core/codec.ts';
import { META, tombstoneTableName } from '../core/contract.ts';
import { TOMBSTONE_TABLE, tombstoneRowKey } from '../core/tombstones.ts';
import { compareVersions, decodeVersion, type Version } from '../core/version.ts';
import { vectorFromAttribute } from '../core/vector.ts';
import { sleep } from '../core/concurrency.ts';

/** An item's key attributes (SDK attribute values). */
export type Key = Record<string, AttributeValue>;

/** The table a {@link ReplicationWaiter} watches: its name, regions and strategy. */
export interface ReplicatedTableRef {
  /** The table's name (the same in every region). */
  readonly name: string;
  /** The regions the table lives in. */
  readonly regions: readonly string[];
  /** The table's conflict strategy. @default 'lww' */
  readonly strategy?: 'lww' | 'fields' | 'merge' | 'custom';
  /**
   * The app's name (`appName` in the config). With it, a delete is seen once it
   * has replicated: the item is then gone from the table, and its tombstone is in the region's
   * tombstone table (`<appName>-tombstones`).
   * @default deletes are not seen (an absent item covers nothing)
   */
  readonly appName?: string;
  /** The table's name in the config, when `name` is a per-region physical name. @default name */
  readonly logicalName?: string;
}

/** How a {@link ReplicationWaiter} reaches each region, and which table it watches. */
export interface ReplicationWaiterOptions {
  /** A DynamoDB client per region, or a function giving one. */
  readonly clients: Readonly<Record<string, DynamoDBClient>> | ((region: string) => DynamoDBClient);
  readonly table: ReplicatedTableRef;
}

/** Options of one `awaitReplicated` call. */
export interface AwaitReplicatedOptions {
  /** Regions to wait for. @default every region of the table except the version's origin */
  readonly regions?: readonly string[];
  /** Give up after this long, in ms. @default 10000 */
  readonly timeoutMs?: number;
  /** Stops waiting: the call rejects with the signal's reason, checked between polls. @default none: waits until done or timed out */
  readonly signal?: AbortSignal;
}

/** When one region was first seen to hold the write. */
export interface RegionReplication {
  /** The version the region held when it was first seen to cover the write. */
  readonly version: string;
  /** Ms from the call until then. */
  readonly afterMs: number;
}

/** What `awaitReplicated` resolves to: the version waited for and, per region, when it was seen there. */
export interface ReplicatedResult {
  /** The version waited for. */
  readonly version: string;
  readonly regions: Readonly<Record<string, RegionReplication>>;
}

/** Thrown when `timeoutMs` passes before every region covers the write. */
export class ReplicationTimeoutError extends Error {
  constructor(
    public readonly version: string,
    /** Regions still without the write, with the version each held at the last look (undefined: no item). */
    public readonly pending: Readonly<Record<string, string | undefined>>,
    public readonly done: Readonly<Record<string, RegionReplication>>,
  ) {
    super(
      `version ${version} has not reached ${Object.keys(pending).join(', ')} (they hold ${Object.entries(pending)
        .map(([r, v]) => `${r}: ${v ?? 'no item'}`)
        .join(', ')})`,
    );
    this.name = 'ReplicationTimeoutError';
  }
}

/**
 * Waits, by polling consistent reads, until other regions hold a write (`awaitReplicated`), or until the
 * shipper has stamped a plain write (`waitForVersion`). Holds no state between calls.
 */
export class ReplicationWaiter {
  constructor(private readonly o: ReplicationWaiterOptions) {}

  /** Resolves once every region in `options.regions` covers `version` of the item at `key`. */
  async awaitReplicated(key: Key, version: string, options: AwaitReplicatedOptions = {}): Promise<ReplicatedResult> {
    const v = decodeVersion(version);
    if (!v) throw new Error(`awaitReplicated: ${JSON.stringify(version)} is not a regionsync version`);
    const regions = options.regions ?? this.o.table.regions.filter((r) => r !== v.region);
    const unknown = regions.filter((r) => !this.o.table.regions.includes(r));
    if (unknown.length > 0)
      throw new Error(`awaitReplicated: table ${this.o.table.name} does not live in ${unknown.join(', ')} (its regions: ${this.o.table.regions.join(', ')})`);
    const started = Date.now();
    const deadline = started + (options.timeoutMs ?? 10_000);
    const done: Record<string, RegionReplication> = {};
    const last: Record<string, string | undefined> = {};
    let pause = 25;
    for (;;) {
      const pending = regions.filter((r) => !done[r]);
      await Promise.all(
        pending.map(async (region) => {
          const item = (await this.metadata(region, key)) ?? (await this.tombstone(region, key));
          last[region] = item?.[META.version]?.S;
          if (item && covers(item, v, this.o.table.strategy ?? 'lww')) done[region] = { version: item[META.version]!.S!, afterMs: Date.now() - started };
        }),
      );
      const left = regions.filter((r) => !done[r]);
      if (left.length === 0) return { version, regions: done };
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('awaitReplicated aborted');
      if (Date.now() + pause > deadline) throw new ReplicationTimeoutError(version, Object.fromEntries(left.map((r) => [r, last[r]])), done);
      await sleep(pause);
      pause = Math.min(500, pause * 2);
    }
  }

  /**
   * Waits until the item in `region` carries a version from `region` newer than `after` (the
   * version it had before a plain write; undefined for a new item) and returns it: the version
   * the shipper stamped on the write, to pass to awaitReplicated.
   */
  async waitForVersion(region: string, key: Key, after: string | undefined, options: { timeoutMs?: number } = {}): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    const floor = after === undefined ? undefined : decodeVersion(after);
    let pause = 25;
    for (;;) {
      const item = await this.metadata(region, key);
      const current = item?.[META.version]?.S;
      const cv = decodeVersion(current);
      if (cv && cv.region === region && (!floor || compareVersions(cv, floor) > 0)) return current!;
      if (Date.now() + pause > deadline)
        throw new Error(
          `no new version of ${region}'s item after ${after ?? 'none'} within ${options.timeoutMs ?? 10_000} ms (it holds ${current ?? 'no item'})`,
        );
      await sleep(pause);
      pause = Math.min(500, pause * 2);
    }
  }

  /** An absent item's tombstone in the region's tombstone table (its version and vector), when the app is known. */
  private async tombstone(region: string, key: Key): Promise<Record<string, AttributeValue> | undefined> {
    const { table } = this.o;
    if (!table.appName) return undefined;
    const out = await this.client(region).send(
      new GetItemCommand({
        TableName: tombstoneTableName(table.appName),
        Key: { [TOMBSTONE_TABLE.partitionKey]: { S: tombstoneRowKey(table.logicalName ?? table.name, toWire(key)) } },
        ConsistentRead: true,
        ProjectionExpression: '#v, #vv',
        ExpressionAttributeNames: { '#v': META.version, '#vv': META.vector },
      }),
    );
    return out.Item;
  }

  private client(region: string): DynamoDBClient {
    const client = typeof this.o.clients === 'function' ? this.o.clients(region) : this.o.clients[region];
    if (!client) throw new Error(`ReplicationWaiter: no DynamoDB client for region ${region}`);
    return client;
  }

  private async metadata(region: string, key: Key): Promise<Record<string, AttributeValue> | undefined> {
    const client = this.client(region);
    const out = await client.send(
      new GetItemCommand({
        TableName: this.o.table.name,
        Key: key,
        ConsistentRead: true,
        ProjectionExpression: '#v, #vv',
        ExpressionAttributeNames: { '#v': META.version, '#vv': META.vector },
      }),
    );
    return out.Item;
  }
}

/** One-call form: `awaitReplicated({ clients, table }, key, version, { regions, timeoutMs })`. */
export function awaitReplicated(waiter: ReplicationWaiterOptions, key: Key, version: string, options: AwaitReplicatedOptions = {}): Promise<ReplicatedResult> {
  return new ReplicationWaiter(waiter).awaitReplicated(key, version, options);
}

/** Whether a region's copy of the item (its metadata) includes the write with version `v`. */
export function covers(item: Record<string, AttributeValue>, v: Version, strategy: string): boolean {
  const fromOrigin = vectorFromAttribute(item[META.vector], item[META.version]?.S)[v.region];
  if (fromOrigin !== undefined) {
    const o = decodeVersion(fromOrigin);
    if (o && compareVersions(o, v) >= 0) return true;
  }
  const current = decodeVersion(item[META.version]?.S);
  if (!current) return false;
  // Without a vector (lww, or items older than vectors) the item's version is all there is.
  return (strategy === 'lww' || item[META.vector] === undefined) && compareVersions(current, v) >= 0;
}
