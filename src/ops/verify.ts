/**
 * `regionsync verify`: anti-entropy check of one table across its regions without comparing
 * every item across regions. Each region is scanned once (parallel segments, bounded read
 * capacity) into bucket digests (digest.ts); only buckets whose digests differ are drilled into:
 * their keys and versions are compared, and the keys that differ are read again, consistently,
 * in every region, until they either agree (a change that was in flight) or stay divergent.
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromWire, toWire, canonicalItem } from '../core/codec.ts';
import { META, tombstoneTableName } from '../core/contract.ts';
import { tombstoneOfRow, tombstoneRowKey, tombstonesOfTable } from '../core/tombstones.ts';
import { regionOfVersion } from '../core/version.ts';
import { dynamodb } from './aws.ts';
import { replicaView, type Item } from './compare.ts';
import { bucketOf, DEFAULT_BUCKETS, differingBuckets, differingKeys, isExpiredTombstone, keyString, leafOf, RegionDigest, type Leaf } from './digest.ts';
import { progressFor, type ProgressSink } from './progress.ts';
import { batchGet, CapacityLimiter, emptyCapacity, parallelScan, type CapacityCount } from './scan.ts';
import { keyAttributesOf, keySchemaOf, type OpsTable } from './ship.ts';
import { comparisonScope, type ComparisonScope, type CopyView } from './selection-view.ts';
import { physicalTableName } from '../infra/config/schema.ts';
import { sleep } from '../core/concurrency.ts';

/** What {@link verifyTable} compares, and within what read budget. */
export interface VerifyOptions {
  readonly ops: OpsTable;
  /** Regions to compare. @default every region of the table */
  readonly regions?: readonly string[];
  /** @default 256 */
  readonly buckets?: number;
  /** Parallel scan segments per region. @default 4 */
  readonly segments?: number;
  /** Read capacity units per second per region's table (scans and reads together). @default unlimited */
  readonly maxRcu?: number;
  /** Strongly consistent scans (twice the read capacity). @default false: differing keys are re-read consistently anyway */
  readonly consistentScan?: boolean;
  /** Leaves kept in memory per region, so a drill-down needs no second scan; above it, differing buckets are scanned again. @default 250000 */
  readonly leafCap?: number;
  /** Times a differing key is read again before it is reported (changes in flight settle). @default 3 */
  readonly rechecks?: number;
  /** Wait before each re-read, ms. @default 1000 */
  readonly settleMs?: number;
  /** Where the progress bar goes; false for none. @default none (the CLI passes process.stderr) */
  readonly progress?: ProgressSink | false;
  /** Clock, epoch ms: decides which tombstones have expired. @default Date.now */
  readonly now?: () => number;
}

/** What one region holds for a key. */
export interface Holding {
  readonly present: boolean;
  /** The item's version (`_rs_v`). @default none: absent, or never stamped */
  readonly version?: string;
  /** The region that made the version. @default none: no version */
  readonly origin?: string;
  /** Who wrote the version (`_rs_w`: `stamp`, `repl`, `repl2`, `app`). @default none: not recorded, or absent */
  readonly writer?: string;
  /** Whether it is a tombstone. @default none: absent (set whenever `present`) */
  readonly tombstone?: boolean;
  /** The item as stored (wire JSON: binary as base64), metadata included. @default none: absent (set whenever `present`) */
  readonly item?: Record<string, unknown>;
}

/** A key that still differs after the re-reads, with what each region holds. */
export interface DivergentKey {
  /** Canonical JSON of the key attributes. */
  readonly key: string;
  /** The key attributes (wire JSON). */
  readonly keyAttributes: Record<string, unknown>;
  readonly byRegion: Readonly<Record<string, Holding>>;
  /** The key's state changed between re-reads: live writes to it may still be replicating. */
  readonly changing: boolean;
}

/** The result of {@link verifyTable}: digests, read capacity, and the keys that differ (`agree` when none). */
export interface VerifyReport {
  readonly table: string;
  readonly regions: readonly string[];
  readonly agree: boolean;
  /** Items counted per region (expired tombstones excluded). */
  readonly items: Readonly<Record<string, number>>;
  /** Root of each region's hash tree. */
  readonly roots: Readonly<Record<string, string>>;
  readonly buckets: { readonly total: number; readonly differing: number };
  /** Full scans made per region (2 when leaves did not fit in memory and differing buckets were scanned again). */
  readonly scansPerRegion: number;
  /** Keys whose leaves differed in the scans (before re-reading). */
  readonly candidates: number;
  readonly divergent: readonly DivergentKey[];
  readonly readCapacity: Readonly<Record<string, CapacityCount>>;
  readonly seconds: number;
}

interface RegionScan {
  readonly region: string;
  readonly digest: RegionDigest;
  /** key → leaf and bucket, while under the cap. */
  leaves?: Map<string, { leaf: Leaf; bucket: number }>;
}

/**
 * Verifies one table across `regions` (see above) and reports the keys that stay divergent. Throws when
 * fewer than two regions, or one that is not the table's, are given.
 */
export async function verifyTable(o: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const now = o.now ?? Date.now;
  const { table } = o.ops;
  const regions = o.regions ?? table.regions;
  for (const r of regions)
    if (!table.regions.includes(r)) throw new Error(`--regions: table ${table.name} does not replicate in ${r} (its regions: ${table.regions.join(', ')})`);
  if (regions.length < 2) throw new Error(`--regions: need at least two regions to compare, got ${regions.join(', ') || 'none'}`);
  const bucketCount = o.buckets ?? DEFAULT_BUCKETS;
  const segments = o.segments ?? 4;
  const leafCap = o.leafCap ?? 250_000;
  const keyAttrs = keyAttributesOf(table);
  const scope = scopeOf(o.ops, regions);
  const clients = new Map(regions.map((r) => [r, dynamodb(o.ops.target, r)] as const));
  const limiters = new Map(regions.map((r) => [r, new CapacityLimiter(o.maxRcu)] as const));
  const capacity: Record<string, CapacityCount> = Object.fromEntries(regions.map((r) => [r, emptyCapacity()]));
  const nowSeconds = () => Math.floor(now() / 1000);

  // Under last writer wins a deleted key's state is its row in the region's tombstone table
  // (docs/deletes.md): read those first, so that each key has one leaf, the table's item first.
  const tombstonesByRegion = new Map(
    await Promise.all(
      regions.map(
        async (region) =>
          [
            region,
            await scanTombstoneLeaves(
              o.ops,
              clients.get(region)!,
              limiters.get(region)!,
              capacity[region]!,
              segments,
              o.consistentScan,
              (x) => scope.view(x, region),
              nowSeconds(),
            ),
          ] as const,
      ),
    ),
  );

  // 1. One scan per region into bucket digests.
  const total = (await Promise.all(regions.map((r) => itemCount(clients.get(r)!, physicalTableName(table, r))))).reduce((a, b) => a + b, 0);
  const progress = progressFor(o.progress, `verify ${table.name}: scanning ${regions.length} regions`, total);
  const scans: RegionScan[] = await Promise.all(
    regions.map(async (region) => {
      const scan: RegionScan = { region, digest: new RegionDigest(bucketCount), leaves: new Map() };
      const addLeaf = (leaf: Leaf) => {
        const bucket = scan.digest.add(leaf);
        if (scan.leaves) {
          scan.leaves.set(leaf.key, { leaf, bucket });
          if (scan.leaves.size > leafCap) scan.leaves = undefined;
        }
      };
      const tombstones = new Map(tombstonesByRegion.get(region)!);
      await parallelScan({
        client: clients.get(region)!,
        tableName: physicalTableName(table, region),
        segments,
        limiter: limiters.get(region)!,
        capacity: capacity[region]!,
        consistent: o.consistentScan,
        onPage: (_segment, items) => {
          for (const item of items) {
            const leaf = leafOf(item, keyAttrs, table.ttlAttribute, nowSeconds(), (x) => scope.view(x, region));
            if (!leaf) continue;
            tombstones.delete(leaf.key);
            addLeaf(leaf);
          }
          progress?.add(items.length);
        },
      });
      for (const leaf of tombstones.values()) addLeaf(leaf);
      return scan;
    }),
  );
  progress?.finish();

  const differing = differingBuckets(scans.map((s) => s.digest));
  const base = {
    table: table.name,
    regions,
    items: Object.fromEntries(scans.map((s) => [s.region, s.digest.items])),
    roots: Object.fromEntries(scans.map((s) => [s.region, s.digest.root()])),
    buckets: { total: bucketCount, differing: differing.length },
    readCapacity: capacity,
  };
  if (differing.length === 0) {
    return { ...base, agree: true, scansPerRegion: 1, candidates: 0, divergent: [], seconds: (Date.now() - started) / 1000 };
  }

  // 2. Keys and versions of the differing buckets: from memory, or from a second scan keeping only those buckets.
  const wanted = new Set(differing);
  let scansPerRegion = 1;
  const leavesByRegion = await Promise.all(
    scans.map(async (scan) => {
      const out = new Map<string, Leaf>();
      if (scan.leaves) {
        for (const { leaf, bucket } of scan.leaves.values()) if (wanted.has(bucket)) out.set(leaf.key, leaf);
        return out;
      }
      scansPerRegion = 2;
      for (const leaf of tombstonesByRegion.get(scan.region)!.values()) if (wanted.has(bucketOf(leaf.key, bucketCount))) out.set(leaf.key, leaf);
      await parallelScan({
        client: clients.get(scan.region)!,
        tableName: physicalTableName(table, scan.region),
        segments,
        limiter: limiters.get(scan.region)!,
        capacity: capacity[scan.region]!,
        consistent: o.consistentScan,
        onPage: (_segment, items) => {
          for (const item of items) {
            const leaf = leafOf(item, keyAttrs, table.ttlAttribute, nowSeconds(), (x) => scope.view(x, scan.region));
            if (leaf && wanted.has(bucketOf(leaf.key, bucketCount))) out.set(leaf.key, leaf);
          }
        },
      });
      return out;
    }),
  );
  const candidates = differingKeys(leavesByRegion);

  // 3. Drill down: read the differing keys in every region, consistently, until they agree or stop changing.
  const divergent = await recheckKeys({ ...o, regions, clients, limiters, capacity, keys: candidates, nowSeconds });
  return { ...base, agree: divergent.length === 0, scansPerRegion, candidates: candidates.length, divergent, seconds: (Date.now() - started) / 1000 };
}

/**
 * The leaves of the table's tombstone rows in one region's tombstone table (a row beside a live
 * item is a past state: the item wins). The tombstone table is shared by the app's tables, so its
 * whole scan is read and the other tables' rows skipped.
 */
async function scanTombstoneLeaves(
  ops: OpsTable,
  client: DynamoDBClient,
  limiter: CapacityLimiter,
  capacity: CapacityCount,
  segments: number,
  consistent: boolean | undefined,
  view: (item: Item) => CopyView,
  nowSeconds: number,
): Promise<Map<string, Leaf>> {
  const { table } = ops;
  const leaves = new Map<string, Leaf>();
  const keyAttrs = keyAttributesOf(table);
  await parallelScan({
    client,
    tableName: tombstoneTableName(ops.appName),
    segments,
    limiter,
    capacity,
    consistent,
    onPage: (_segment, rows) => {
      for (const tombstone of tombstonesOfTable(rows.map(toWire), table.name, table.ttlAttribute)) {
        const leaf = leafOf(fromWire(tombstone), keyAttrs, table.ttlAttribute, nowSeconds, view);
        if (leaf) leaves.set(leaf.key, leaf);
      }
    },
  });
  return leaves;
}

/** What reading keys in every region needs (readStates, recheckKeys). */
export interface ReadKeysOptions {
  readonly ops: OpsTable;
  readonly regions: readonly string[];
  readonly keys: readonly string[];
  /** A DynamoDB client per region (verify passes its own). @default a new client per region and read */
  readonly clients?: ReadonlyMap<string, DynamoDBClient>;
  /** A read capacity limiter per region. @default unlimited */
  readonly limiters?: ReadonlyMap<string, CapacityLimiter>;
  /** Where read capacity is counted, per region. @default not counted */
  readonly capacity?: Record<string, CapacityCount>;
  /** Clock, epoch seconds: decides which tombstones have expired. @default the system clock */
  readonly nowSeconds?: () => number;
}

/** Reads `keys` in every region until they agree or their states stop changing; returns the divergent ones. */
export async function recheckKeys(
  o: ReadKeysOptions & {
    /** Times a differing key is read again. @default 3 */
    readonly rechecks?: number;
    /** Wait before each re-read, ms. @default 1000 */
    readonly settleMs?: number;
  },
): Promise<DivergentKey[]> {
  const rechecks = o.rechecks ?? 3;
  const scope = scopeOf(o.ops, o.regions);
  let pending = [...o.keys];
  let previous = new Map<string, string>();
  const changing = new Set<string>();
  let result: DivergentKey[] = [];
  for (let round = 0; round <= rechecks && pending.length > 0; round++) {
    if (round > 0) await sleep(o.settleMs ?? 1000);
    const states = await readStates({ ...o, keys: pending });
    result = [];
    const fingerprints = new Map<string, string>();
    for (const key of pending) {
      const byRegion = states.get(key)!;
      // Compared through the selection (selection-view.ts), as the digests were.
      const copies = o.regions.map((r) => (byRegion[r] ? scope.view(byRegion[r]!, r) : undefined));
      if (copies.some((c) => c?.kind === 'out')) continue;
      const views = copies.map((c) => (c?.kind === 'in' ? replicaView(c.item) : undefined));
      if (views.every((v) => v === views[0])) continue;
      const fp = JSON.stringify(views);
      fingerprints.set(key, fp);
      if (previous.has(key) && previous.get(key) !== fp) changing.add(key);
      result.push(divergentKey(key, o.regions, byRegion, changing.has(key)));
    }
    const stable = result.every((d) => previous.get(d.key) === fingerprints.get(d.key));
    pending = result.map((d) => d.key);
    // Nothing moved since the last read: the divergence is not a change in flight; waiting longer is pointless.
    if (round > 0 && stable) break;
    previous = fingerprints;
  }
  return result;
}

/** Current item per key per region (consistent reads); expired tombstones count as absent. */
export async function readStates(o: ReadKeysOptions): Promise<Map<string, Record<string, Item | undefined>>> {
  const { table } = o.ops;
  const keyAttrs = keyAttributesOf(table);
  const nowSeconds = o.nowSeconds?.() ?? Math.floor(Date.now() / 1000);
  const out = new Map<string, Record<string, Item | undefined>>(o.keys.map((k) => [k, {}]));
  await Promise.all(
    o.regions.map(async (region) => {
      const items = await batchGet(
        {
          client: o.clients?.get(region) ?? dynamodb(o.ops.target, region),
          tableName: physicalTableName(table, region),
          limiter: o.limiters?.get(region) ?? new CapacityLimiter(undefined),
          capacity: o.capacity?.[region] ?? emptyCapacity(),
        },
        o.keys.map(keyFromString),
      );
      for (const item of items) {
        if (isExpiredTombstone(item, table.ttlAttribute, nowSeconds)) continue;
        const entry = out.get(keyString(item, keyAttrs));
        if (entry) entry[region] = item;
      }
      // A deleted item's tombstone is kept in the region's tombstone table: that is its state.
      const absent = o.keys.filter((k) => out.get(k)![region] === undefined);
      if (absent.length === 0) return;
      const byRow = new Map(absent.map((k) => [tombstoneRowKey(table.name, toWire(keyFromString(k))), k]));
      const rows = await batchGet(
        {
          client: o.clients?.get(region) ?? dynamodb(o.ops.target, region),
          tableName: tombstoneTableName(o.ops.appName),
          limiter: o.limiters?.get(region) ?? new CapacityLimiter(undefined),
          capacity: o.capacity?.[region] ?? emptyCapacity(),
        },
        [...byRow.keys()].map((rowKey) => ({ [META.tombstoneKey]: { S: rowKey } })),
      );
      for (const row of rows) {
        const tombstone = fromWire(tombstoneOfRow(toWire(row), table.ttlAttribute)!);
        if (isExpiredTombstone(tombstone, table.ttlAttribute, nowSeconds)) continue;
        const k = byRow.get(row[META.tombstoneKey]?.S ?? '');
        if (k) out.get(k)![region] = tombstone;
      }
    }),
  );
  return out;
}

/** The key attributes (SDK shape) of a canonical key string. */
export function keyFromString(key: string): Item {
  const parsed = JSON.parse(key) as { M: Record<string, unknown> };
  return fromWire(parsed.M);
}

/** What a region holds for a key, from its item (undefined: absent), as reports show it. */
export function holdingOf(item: Item | undefined): Holding {
  if (!item) return { present: false };
  return {
    present: true,
    ...(item[META.version]?.S ? { version: item[META.version]!.S } : {}),
    ...(regionOfVersion(item[META.version]?.S) !== undefined ? { origin: regionOfVersion(item[META.version]?.S)! } : {}),
    ...(item[META.writer]?.S ? { writer: item[META.writer]!.S } : {}),
    tombstone: item[META.deleted]?.BOOL === true,
    item: JSON.parse(canonicalItem(toWire(item))).M as Record<string, unknown>,
  };
}

function divergentKey(key: string, regions: readonly string[], byRegion: Record<string, Item | undefined>, changing: boolean): DivergentKey {
  return {
    key,
    keyAttributes: (JSON.parse(key) as { M: Record<string, unknown> }).M,
    byRegion: Object.fromEntries(regions.map((r) => [r, holdingOf(byRegion[r])])),
    changing,
  };
}

async function itemCount(client: DynamoDBClient, tableName: string): Promise<number> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return out.Table?.ItemCount ?? 0;
  } catch (e) {
    throw new Error(`cannot describe table ${tableName}: ${(e as Error).message}`);
  }
}

/** A short human-readable rendering of what a region holds. */
export function describeHolding(h: Holding): string {
  if (!h.present) return 'absent';
  const what = h.tombstone ? 'tombstone' : 'item';
  if (!h.version) return `${what} never stamped (no ${META.version})`;
  return `${what} ${h.version} (writer ${h.writer ?? '?'})`;
}

/** What verify compares for these regions under the table's selection. */
export function scopeOf(ops: OpsTable, regions: readonly string[]): ComparisonScope {
  return comparisonScope({ ...(ops.table.selection ? { selection: ops.table.selection } : {}), key: keySchemaOf(ops.table) }, regions);
}
