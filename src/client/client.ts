/**
 * The client helper: writes that carry their regionsync version from the moment they are made.
 *
 * Plain writes from any SDK replicate too, but get their version from the shipper a moment later
 * (one extra write per item, ordered at stamp time). Through this helper a write is ordered when
 * it is made, costs one eventually consistent read (half a read unit) instead of the stamping write, and the CRDT operations of
 * the `merge` strategy are explicit (`increment`, `addToSet`, ...). Reads leave tombstones out.
 *
 * ```ts
 * const posts = new RegionSyncClient({ dynamodb: new DynamoDBClient({ region: 'eu-west-1' }), region: 'eu-west-1',
 *   table: { name: 'posts', partitionKey: 'postId', strategy: { strategy: 'merge', attributes: { likes: 'counter', tags: 'set' } } } });
 * await posts.increment({ postId: 'p1' }, 'likes');            // never lost, whatever other regions do
 * await posts.addToSet({ postId: 'p1' }, 'tags', ['news']);
 * const post = await posts.get({ postId: 'p1' });              // undefined if deleted (tombstone)
 * ```
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type DeleteItemCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall, type NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { stripMeta, type AttributeMap } from '../core/change.ts';
import { fromWire, toWire } from '../core/codec.ts';
import { META, type KeySchema, type StrategySpec } from '../core/contract.ts';
import { applyLocalWrite, emptyState, parseState, serializeState, type StateContext } from '../core/item-state.ts';
import { customLocalWrite, type Resolver } from '../core/resolver.ts';
import { advance, vectorFromAttribute, vectorAttribute } from '../core/vector.ts';
import { decodeVersion, encodeVersion, HybridLogicalClock, type Version } from '../core/version.ts';
import { statePutInput } from '../core/writes.ts';
import { DEFAULT_MAX_CLOCK_OFFSET_SECONDS, hostAheadOfServerMs } from '../core/clock-bound.ts';
import { ClockOffsetError } from '../core/errors.ts';

/** An item as the application reads and writes it: native JavaScript values (`@aws-sdk/util-dynamodb`). */
export type PlainItem = Record<string, NativeAttributeValue>;

/** The table a {@link RegionSyncClient} writes, as it is deployed: name, key, strategy. */
export interface ClientTable {
  /** The table's name in DynamoDB in this region. */
  readonly name: string;
  /** The partition key attribute's name. */
  readonly partitionKey: string;
  /** The sort key attribute's name. @default none: the partition key alone is the key */
  readonly sortKey?: string;
  /** @default { strategy: 'lww' } */
  readonly strategy?: StrategySpec;
  /**
   * The custom strategy's resolver (the same function the table is deployed with).
   * @default none; required with the custom strategy (the constructor throws without it)
   */
  readonly resolver?: Resolver;
  /** @default '_rs_exp' */
  readonly ttlAttribute?: string;
  /** Seconds a tombstone is kept. @default 1_296_000 */
  readonly tombstoneTtlSeconds?: number;
}

/** What a {@link RegionSyncClient} writes with: a DynamoDB client, its region, the table. */
export interface RegionSyncClientOptions {
  readonly dynamodb: DynamoDBClient;
  /** The region this client writes to (the origin of its versions). */
  readonly region: string;
  readonly table: ClientTable;
  /** Conditional-write attempts before giving up on a hot item. @default 8 */
  readonly maxAttempts?: number;
  /**
   * The deployment's `maxClockOffsetSeconds`: the helper refuses to write (ClockOffsetError, nothing
   * written) when this host's clock is further than this ahead of DynamoDB's, or an item's version
   * further than this ahead of this host's clock. @default 5
   */
  readonly maxClockOffsetSeconds?: number;
  /** This host's clock (tests). @default Date.now */
  readonly now?: () => number;
}

/** What a write through the helper returns. */
export interface WriteResult {
  /** The version the write carries: pass it to awaitReplicated for read-your-writes elsewhere. */
  readonly version: string;
}

/** One clock per region (and clock bound) and process: versions from this process only move forward. */
const clocks = new Map<string, HybridLogicalClock>();

/**
 * Reads and writes one table in one region, each write carrying its version from the start (see above).
 * Versions come from one clock per region and process, shared by the clients in it (not with a test clock, `now`).
 */
export class RegionSyncClient {
  private readonly ctx: StateContext;
  private readonly clock: HybridLogicalClock;
  private readonly now: () => number;
  private readonly maxOffsetMs: number;

  constructor(private readonly options: RegionSyncClientOptions) {
    const t = options.table;
    const key: KeySchema = { partitionKey: t.partitionKey, ...(t.sortKey ? { sortKey: t.sortKey } : {}) };
    this.ctx = { key, strategy: t.strategy ?? { strategy: 'lww' }, ttlAttribute: t.ttlAttribute ?? META.expiresAt };
    if (this.ctx.strategy.strategy === 'custom' && !t.resolver)
      throw new Error(`RegionSyncClient: table ${t.name} uses the custom strategy; pass its resolver`);
    this.now = options.now ?? Date.now;
    this.maxOffsetMs = (options.maxClockOffsetSeconds ?? DEFAULT_MAX_CLOCK_OFFSET_SECONDS) * 1000;
    const shared = `${options.region}\0${this.maxOffsetMs}`;
    let clock = options.now ? undefined : clocks.get(shared);
    if (!clock) clock = new HybridLogicalClock(options.region, this.now, this.maxOffsetMs);
    if (!options.now) clocks.set(shared, clock);
    this.clock = clock;
  }

  /** The item, without regionsync's metadata; undefined when absent or deleted (a tombstone). */
  async get(key: PlainItem): Promise<PlainItem | undefined> {
    const item = await this.read(key);
    return item && !isTombstone(item) ? unmarshall(fromWire(stripMeta(item, [this.ctx.ttlAttribute]))) : undefined;
  }

  /** Replaces the whole item. */
  put(item: PlainItem): Promise<WriteResult> {
    return this.write(this.keyOf(item), () => item);
  }

  /** Sets (or, with undefined, removes) the given attributes. */
  update(key: PlainItem, changes: PlainItem): Promise<WriteResult> {
    return this.write(key, (current) => {
      const next: PlainItem = { ...(current ?? key) };
      for (const [name, value] of Object.entries(changes)) {
        if (value === undefined) delete next[name];
        else next[name] = value;
      }
      return next;
    });
  }

  /** Deletes the item. Last writer wins: a plain conditional DeleteItem (the shipper versions it; the version returned is the client's, a lower bound). */
  delete(key: PlainItem): Promise<WriteResult> {
    return this.write(key, () => undefined);
  }

  /** Counter (`merge` strategy): increments from every region add up; none is lost. */
  increment(key: PlainItem, attribute: string, by = 1): Promise<WriteResult> {
    return this.write(key, (current) => ({ ...(current ?? key), [attribute]: Number(current?.[attribute] ?? 0) + by }));
  }

  /** Set (`merge` strategy): an add wins over a concurrent remove of the same element. */
  addToSet(key: PlainItem, attribute: string, values: readonly (string | number)[]): Promise<WriteResult> {
    return this.write(key, (current) => ({ ...(current ?? key), [attribute]: new Set([...toSet(current?.[attribute]), ...values]) }));
  }

  /** Set (`merge` strategy): removes the elements (an attribute left empty is removed); a concurrent add of the same element wins. */
  removeFromSet(key: PlainItem, attribute: string, values: readonly (string | number)[]): Promise<WriteResult> {
    return this.write(key, (current) => {
      const next: PlainItem = { ...(current ?? key) };
      const remaining = [...toSet(current?.[attribute])].filter((v) => !values.includes(v as string | number));
      if (remaining.length > 0) next[attribute] = new Set(remaining);
      else delete next[attribute];
      return next;
    });
  }

  /** Append-only list (`merge` strategy): appends from every region are kept, ordered by version. */
  append(key: PlainItem, attribute: string, value: NativeAttributeValue): Promise<WriteResult> {
    return this.write(key, (current) => ({ ...(current ?? key), [attribute]: [...((current?.[attribute] as unknown[]) ?? []), value] }));
  }

  /**
   * Read, compute the next item from what the application sees, and write it with a new version
   * of this region, conditional on the version read: the same fold the shipper does for plain
   * writes, done at write time (writer `app`, which the shipper ships as it is).
   */
  private async write(key: PlainItem, next: (current: PlainItem | undefined) => PlainItem | undefined): Promise<WriteResult> {
    const { ctx } = this;
    const wireKey = toWire(marshall(this.keyOf(key)));
    for (let attempt = 0; attempt < (this.options.maxAttempts ?? 8); attempt++) {
      // An eventually consistent read (half the price) is safe: the write is conditional on the
      // version read, so a stale read only costs a retry, which reads consistently.
      const { item: current, serverDateMs, sentAtMs } = await this.readWithTime(key, attempt > 0);
      this.checkHostClock(sentAtMs, serverDateMs);
      const visible = current && !isTombstone(current) ? unmarshall(fromWire(stripMeta(current, [ctx.ttlAttribute]))) : undefined;
      const wanted = next(visible);
      const oldImage = visible ? stripMeta(current!, [ctx.ttlAttribute]) : undefined;
      const newImage = wanted ? { ...toWire(marshall(wanted, { removeUndefinedValues: true })), ...wireKey } : undefined;
      const floor = decodeVersion(current?.[META.version]?.S);
      const version = this.nextVersion(floor);
      // Last writer wins keeps no state in a deleted item: a plain conditional DeleteItem, which the
      // shipper versions and keeps in the tombstone table like any application delete, so the table
      // never shows a tombstone. (Nothing to delete: nothing to do.)
      if (ctx.strategy.strategy === 'lww' && !newImage) {
        if (!visible) return { version: encodeVersion(version) };
        try {
          await this.options.dynamodb.send(new DeleteItemCommand(conditionalDeleteInput(this.options.table.name, wireKey, current!)));
          return { version: encodeVersion(version) };
        } catch (e) {
          if (e instanceof ConditionalCheckFailedException) continue;
          throw e;
        }
      }
      const expiresAt = Math.floor(this.now() / 1000) + (this.options.table.tombstoneTtlSeconds ?? 1_296_000);
      const item: AttributeMap = { ...this.stateAfter(current, oldImage, newImage, wireKey, version, expiresAt), [META.writer]: { S: 'app' } };
      if (current?.[META.sequence]) item[META.sequence] = current[META.sequence]!;
      try {
        await this.options.dynamodb.send(new PutItemCommand(statePutInput({ tableName: this.options.table.name, key: ctx.key }, item, current)));
        return { version: encodeVersion(version) };
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    }
    throw new Error(`RegionSyncClient: ${this.options.table.name} item kept changing; gave up after ${this.options.maxAttempts ?? 8} attempts`);
  }

  private stateAfter(
    current: AttributeMap | undefined,
    oldImage: AttributeMap | undefined,
    newImage: AttributeMap | undefined,
    key: AttributeMap,
    version: Version,
    expiresAt: number,
  ): AttributeMap {
    const { ctx } = this;
    switch (ctx.strategy.strategy) {
      case 'lww': {
        const meta = {
          [META.version]: { S: encodeVersion(version) },
          ...vectorAttribute(advance(vectorFromAttribute(current?.[META.vector], current?.[META.version]?.S), version), encodeVersion(version)),
        };
        if (newImage) return { ...newImage, ...meta };
        return { ...key, ...meta, [META.deleted]: { BOOL: true }, [ctx.ttlAttribute]: { N: String(expiresAt) } };
      }
      case 'custom':
        return customLocalWrite({
          current,
          keyItem: key,
          image: newImage,
          baseVector: vectorFromAttribute(current?.[META.vector], current?.[META.version]?.S),
          version,
          resolver: this.options.table.resolver!,
          key: ctx.key,
          ttlAttribute: ctx.ttlAttribute,
          tombstoneExpiresAt: expiresAt,
        }).item;
      default: {
        const state = current?.[META.version] ? parseState(current, ctx) : emptyState(key);
        return serializeState(applyLocalWrite(state, oldImage, newImage, version, ctx, expiresAt), ctx, 'app');
      }
    }
  }

  private async read(key: PlainItem, consistent = true): Promise<AttributeMap | undefined> {
    return (await this.readWithTime(key, consistent)).item;
  }

  /** The item, and DynamoDB's clock as its response's `Date` header shows it (whole seconds; absent without HTTP, e.g. in tests). */
  private async readWithTime(key: PlainItem, consistent: boolean): Promise<{ item?: AttributeMap; serverDateMs?: number; sentAtMs: number }> {
    const command = new GetItemCommand({ TableName: this.options.table.name, Key: marshall(this.keyOf(key)), ConsistentRead: consistent });
    let serverDateMs: number | undefined;
    // On this command only: the application's client is left as it is.
    command.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const date = Date.parse(String((out.response as { headers?: Record<string, string> }).headers?.date ?? ''));
        if (Number.isFinite(date)) serverDateMs = date;
        return out;
      },
      { step: 'deserialize', name: 'regionsyncServerDate' },
    );
    const sentAtMs = this.now();
    const out = await this.options.dynamodb.send(command);
    return { ...(out.Item ? { item: toWire(out.Item) } : {}), ...(serverDateMs !== undefined ? { serverDateMs } : {}), sentAtMs };
  }

  /** Clock bound: versions from a host clock ahead of DynamoDB's would win every conflict; refuse to make them. */
  private checkHostClock(sentAtMs: number, serverDateMs: number | undefined): void {
    if (serverDateMs === undefined) return;
    const aheadMs = hostAheadOfServerMs(sentAtMs, serverDateMs, this.maxOffsetMs);
    if (aheadMs === undefined) return;
    throw new ClockOffsetError(
      `RegionSyncClient: ${this.options.table.name}: this host's clock is ${aheadMs} ms ahead of DynamoDB's (maxClockOffsetSeconds: ${this.maxOffsetMs / 1000}); nothing written: fix this host's clock (NTP)`,
      aheadMs,
      this.maxOffsetMs,
      { table: this.options.table.name },
    );
  }

  /** The HLC refuses a floor beyond the bound: here that means this host's clock is behind (or the item's version is from the future). */
  private nextVersion(floor: Version | undefined): Version {
    try {
      return this.clock.next(floor);
    } catch (e) {
      if (!(e instanceof ClockOffsetError)) throw e;
      throw new ClockOffsetError(
        `RegionSyncClient: ${this.options.table.name}: the item's version is ${e.aheadMs} ms ahead of this host's clock (maxClockOffsetSeconds: ${this.maxOffsetMs / 1000}); ` +
          "nothing written: this host's clock is probably behind (check NTP), or the version came from a clock ahead",
        e.aheadMs,
        this.maxOffsetMs,
        { table: this.options.table.name, ...e.context },
      );
    }
  }

  private keyOf(item: PlainItem): PlainItem {
    const { partitionKey, sortKey } = this.ctx.key;
    if (item[partitionKey] === undefined) throw new Error(`RegionSyncClient: ${this.options.table.name} key needs "${partitionKey}"`);
    if (sortKey && item[sortKey] === undefined) throw new Error(`RegionSyncClient: ${this.options.table.name} key needs "${sortKey}"`);
    return { [partitionKey]: item[partitionKey], ...(sortKey ? { [sortKey]: item[sortKey] } : {}) };
  }
}

/** Read filter: true for a deleted item that regionsync keeps as a tombstone. */
export function isTombstone(item: Record<string, unknown>): boolean {
  const flag = item[META.deleted] as { BOOL?: boolean } | boolean | undefined;
  return flag === true || (typeof flag === 'object' && flag?.BOOL === true);
}

/** Read filter for Query/Scan results: drops tombstones. */
export function withoutTombstones<T extends Record<string, unknown>>(items: readonly T[]): T[] {
  return items.filter((i) => !isTombstone(i));
}

function toSet(v: unknown): Set<unknown> {
  return v instanceof Set ? v : new Set(Array.isArray(v) ? v : []);
}

/** DeleteItem conditional on the item's version (and content hash) as read: a write that came since wins. */
function conditionalDeleteInput(tableName: string, key: AttributeMap, read: AttributeMap): DeleteItemCommandInput {
  const v = read[META.version]?.S;
  const h = read[META.contentHash]?.S;
  const values: Record<string, { S: string }> = {};
  if (v !== undefined) values[':v'] = { S: v };
  if (h !== undefined) values[':h'] = { S: h };
  return {
    TableName: tableName,
    Key: fromWire(key),
    ConditionExpression: `${v === undefined ? 'attribute_not_exists(#v)' : '#v = :v'} AND ${h === undefined ? 'attribute_not_exists(#h)' : '#h = :h'}`,
    ExpressionAttributeNames: { '#v': META.version, '#h': META.contentHash },
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}
