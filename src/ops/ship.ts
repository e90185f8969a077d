/**
 * What backfill, repair and replay share: sending item states as changes to a region's inbound
 * queue, so the region's own applier writes them with its conditional write (versions and the
 * table's conflict rules hold, whatever else is being written at the time), and "touching" an
 * item: giving it a new version of the region that holds it, with the shipper's own conditional
 * write, when its current version cannot be shipped as it is.
 */
import { ConditionalCheckFailedException, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { groupIntoBatches, keyToString, packChanges, type AttributeMap, type Change } from '../core/change.ts';
import { fromWire, toWire } from '../core/codec.ts';
import { withContentHash } from '../core/content-hash.ts';
import { putTombstoneInput, tombstoneRow } from '../core/tombstones.ts';
import { mapWithConcurrency } from '../core/concurrency.ts';
import { inboundQueueName, META, tombstoneTableName, type KeySchema } from '../core/contract.ts';
import { selectFor } from '../core/selection.ts';
import { changeFromImage } from '../core/stream-record.ts';
import { decodeVersion, encodeVersion, HybridLogicalClock, maxVersion, type Version } from '../core/version.ts';
import { advance, mergeVectors, vectorFromAttribute, vectorAttribute, type VersionVector } from '../core/vector.ts';
import { stampInput } from '../core/writes.ts';
import { physicalTableName, type ResolvedConfig, type ResolvedTableConfig } from '../infra/config/schema.ts';
import { dynamodb, type Target, sqs as sqsOf } from './aws.ts';
import type { Item } from './compare.ts';

/** The shipper's packing target (PACKED_MESSAGE_BYTES in src/infra/constructs/replicated-table.ts). */
export const PACKED_MESSAGE_BYTES = 256 * 1024;
/**
 * At most this many changes per message from the operations commands. A backfill page of 1,000
 * small items would otherwise fit one 256 KiB message, and an applier batch of 10 such messages
 * (10,000 conditional writes) can outlast the applier's 30 s timeout: every message of the batch
 * then waits out the queue's visibility timeout and is retried whole. The shipper's messages hold
 * one stream batch at most.
 */
export const OPS_CHANGES_PER_MESSAGE = 100;
/** SQS's limit for one message and for one SendMessageBatch call. */
const SQS_MAX_BYTES = 1024 * 1024;

/** One replicated table, as the operations commands address it. */
export interface OpsTable {
  readonly target: Target;
  readonly appName: string;
  readonly table: ResolvedTableConfig;
  /** Region → account, for queues in other accounts (from the config). */
  readonly accounts: Readonly<Record<string, string | undefined>>;
}

/** The {@link OpsTable} of a configured table; throws when the config has no table of that name. */
export function opsTable(config: ResolvedConfig, tableName: string, target: Target): OpsTable {
  const table = config.tables.find((t) => t.name === tableName);
  if (!table) throw new Error(`table "${tableName}" is not in the configuration (tables: ${config.tables.map((t) => t.name).join(', ')})`);
  return { target, appName: config.appName, table, accounts: Object.fromEntries(config.regions.map((r) => [r.region, r.account])) };
}

/** The table's key attribute names, as the core's KeySchema. */
export function keySchemaOf(table: ResolvedTableConfig): KeySchema {
  return { partitionKey: table.partitionKey.name, ...(table.sortKey ? { sortKey: table.sortKey.name } : {}) };
}

/** The table's key attribute names, partition key first. */
export function keyAttributesOf(table: ResolvedTableConfig): string[] {
  return [table.partitionKey.name, ...(table.sortKey ? [table.sortKey.name] : [])];
}

/**
 * Whether region `to`'s applier accepts a change made in `origin`: it takes changes only from the
 * table's other regions, so a region's own version (or one from a region no longer in the table)
 * cannot be delivered to it, and must be touched instead.
 */
export function deliverable(origin: string | undefined, to: string, tableRegions: readonly string[]): boolean {
  return origin !== undefined && origin !== to && tableRegions.includes(origin);
}

/** The change that carries an item state (content or tombstone) as stored. */
export function changeOf(o: OpsTable, item: Item, writtenAt: number): Change {
  return changeFromImage(toWire(item), { logicalTable: o.table.name, key: keySchemaOf(o.table) }, writtenAt, o.table.ttlAttribute);
}

/** What of `changes` the table's selection lets reach `region`, projected (as the shipper's selectedBatches). */
export function selectedFor(
  table: ResolvedTableConfig,
  region: string,
  changes: readonly Change[],
  old?: (change: Change) => AttributeMap | undefined,
): Change[] {
  if (!table.selection) return [...changes];
  return selectFor(
    changes.map((change) => {
      const o = old?.(change);
      return o ? { change, old: o } : { change };
    }),
    table.selection,
    region,
    keySchemaOf(table),
    table.tombstoneTtlSeconds,
  );
}

/**
 * Sends changes to regions' inbound queues as the shipper would (see `send`), counting the messages and
 * changes sent; queue URLs and clients are cached per region.
 */
export class ChangeSender {
  private readonly urls = new Map<string, Promise<string>>();
  private readonly clients = new Map<string, SQSClient>();
  messages = 0;
  changes = 0;

  constructor(private readonly o: OpsTable) {}

  /** The region's inbound queue, by name (GetQueueUrl), in the region's account. */
  queueUrl(region: string): Promise<string> {
    let url = this.urls.get(region);
    if (!url) {
      const name = inboundQueueName(this.o.appName, this.o.table.name);
      const account = this.o.accounts[region];
      url = this.client(region)
        .send(new GetQueueUrlCommand({ QueueName: name, ...(account ? { QueueOwnerAWSAccountId: account } : {}) }))
        .then((out) => {
          if (!out.QueueUrl) throw new Error(`GetQueueUrl for ${name} in ${region} returned no URL`);
          return out.QueueUrl;
        });
      url.catch(() => this.urls.delete(region));
      this.urls.set(region, url);
    }
    return url;
  }

  /**
   * Sends the changes to the region's inbound queue as the shipper would: only what the table's
   * selection lets reach the region, projected, packed many to a message. `old` gives a change's
   * previous state where known (the target's copy), so an item that stopped matching is deleted there.
   */
  async send(region: string, all: readonly Change[], old?: (change: Change) => AttributeMap | undefined): Promise<{ messages: number }> {
    const changes = selectedFor(this.o.table, region, all, old);
    if (changes.length === 0) return { messages: 0 };
    for (const c of changes) {
      if (!deliverable(c.origin, region, this.o.table.regions)) {
        throw new Error(
          `change for ${keyToString(c.key)} (version ${c.version}) cannot be sent to ${region}: its applier accepts only changes made in ${this.o.table.regions.filter((r) => r !== region).join(', ')}`,
        );
      }
    }
    const url = await this.queueUrl(region);
    const { bodies, oversized } = packChanges(changes, PACKED_MESSAGE_BYTES, OPS_CHANGES_PER_MESSAGE);
    for (const c of oversized) {
      const alone = packChanges([c], SQS_MAX_BYTES).bodies[0];
      if (!alone) throw new Error(`change for ${keyToString(c.key)} is larger than SQS's 1 MiB message limit`);
      bodies.push(alone);
    }
    const client = this.client(region);
    await mapWithConcurrency(groupIntoBatches(bodies, SQS_MAX_BYTES), 4, async (batch) => {
      const out = await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: batch.map((body, i) => ({ Id: String(i), MessageBody: body })) }));
      if (out.Failed && out.Failed.length > 0)
        throw new Error(
          `SendMessageBatch to ${region} failed for ${out.Failed.length} of ${batch.length} messages: ${out.Failed[0]?.Code} ${out.Failed[0]?.Message}`,
        );
    });
    this.messages += bodies.length;
    this.changes += changes.length;
    return { messages: bodies.length };
  }

  private client(region: string): SQSClient {
    let c = this.clients.get(region);
    // Bound to the queue's region; the queue URL's host must not override the endpoint (emulators).
    if (!c) this.clients.set(region, (c = sqsOf(this.o.target, region)));
    return c;
  }
}

/** What {@link Toucher.touch} did to an item. */
export type TouchResult =
  /** The item now carries a new version of this region: ship `item` to every other region. */
  | { readonly kind: 'stamped'; readonly item: Item }
  /** The item changed since it was read (a live write got in): nothing written; `current` is what is there now. */
  | { readonly kind: 'changed'; readonly current?: Item };

/**
 * Gives an item a new version of `region`, above `floor` and above its own version, with the
 * shipper's conditional writes: an UpdateItem that sets only the metadata (so a concurrent
 * application update is kept, and stamped by the shipper on top) conditional on the version
 * read (`_rs_v = :seen`, or `attribute_not_exists(_rs_v)` for an item never stamped); a tombstone
 * is re-put whole, conditional on its version. The stamp is written with writer `stamp`, so the
 * shipper skips its echo: the caller ships the returned item.
 */
export class Toucher {
  private readonly clocks = new Map<string, HybridLogicalClock>();
  private readonly clients = new Map<string, DynamoDBClient>();
  touched = 0;

  constructor(private readonly o: OpsTable) {}

  async touch(region: string, current: Item, opts: { floor?: Version; history?: VersionVector } = {}): Promise<TouchResult> {
    const { table } = this.o;
    const expected = current[META.version]?.S;
    if (expected === undefined && table.strategy.strategy !== 'lww') {
      throw new Error(
        `cannot stamp an unversioned item of table ${table.name} (strategy ${table.strategy.strategy}): only the shipper folds a plain write into the item's merge state`,
      );
    }
    const floor = maxVersion(opts.floor, decodeVersion(expected));
    let clock = this.clocks.get(region);
    // The table's clock bound: an item version beyond it ahead of this host's clock throws ClockOffsetError (fix the clock, run again).
    if (!clock) this.clocks.set(region, (clock = new HybridLogicalClock(region, Date.now, table.maxClockOffsetSeconds * 1000)));
    const version = clock.next(floor);
    const vector = advance(mergeVectors(opts.history ?? {}, vectorFromAttribute(current[META.vector], expected)), version);
    const keySchema = keySchemaOf(table);
    const client = this.client(region);
    try {
      if (current[META.deleted]?.BOOL === true) {
        if (expected === undefined) return { kind: 'changed', current };
        // The version metadata is replaced; everything else (merge state, the shipper's sequence bookkeeping) is kept.
        const { [META.version]: _v, [META.origin]: _o, [META.writer]: _w, [META.vector]: _vv, ...rest } = current;
        return await this.touchTombstoneRow(client, toWire(rest), version, expected, vector);
      }
      const input = stampInput({
        tableName: physicalTableName(table, region),
        key: toWire(keyOf(current, keySchema)),
        keySchema,
        version,
        expectedVersion: expected,
        image: toWire(current),
        ttlAttribute: table.ttlAttribute,
        vector,
      });
      const out = await client.send(new UpdateItemCommand(input));
      this.touched++;
      return { kind: 'stamped', item: out.Attributes ?? {} };
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return { kind: 'changed', ...(e.Item ? { current: e.Item } : {}) };
      throw e;
    }
  }

  /** A tombstone lives in the region's tombstone table: re-put there, conditional on the version read. */
  private async touchTombstoneRow(client: DynamoDBClient, rest: AttributeMap, version: Version, expected: string, vector: VersionVector): Promise<TouchResult> {
    const { table, appName } = this.o;
    // A merged state's lock moves forward, so a merge that read the row before this write fails its condition and merges again.
    const lock = Number(rest[META.lock]?.S);
    const tombstone = withContentHash({
      ...rest,
      [META.version]: { S: encodeVersion(version) },
      [META.writer]: { S: 'stamp' },
      ...vectorAttribute(vector, encodeVersion(version)),
      ...(Number.isSafeInteger(lock) ? { [META.lock]: { S: String(lock + 1) } } : {}),
    });
    const key = keyOf(fromWire(rest), keySchemaOf(table));
    const row = tombstoneRow(table.name, tombstone, toWire(key), table.ttlAttribute, Date.now());
    await client.send(new PutItemCommand(putTombstoneInput(tombstoneTableName(appName), row, { seen: expected })));
    this.touched++;
    return { kind: 'stamped', item: fromWire(tombstone) };
  }

  private client(region: string): DynamoDBClient {
    let c = this.clients.get(region);
    if (!c) this.clients.set(region, (c = dynamodb(this.o.target, region)));
    return c;
  }
}

/** The key attributes of an item; throws when one is missing. */
export function keyOf(item: Item, key: KeySchema): Item {
  const out: Item = {};
  for (const name of [key.partitionKey, key.sortKey]) {
    if (name === undefined) continue;
    const v = item[name];
    if (v === undefined) throw new Error(`item has no key attribute "${name}"`);
    out[name] = v;
  }
  return out;
}
