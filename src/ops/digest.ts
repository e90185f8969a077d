/**
 * The anti-entropy digests behind `regionsync verify`. Pure: no AWS calls.
 *
 * Every item becomes a leaf `(key, version, content hash)`; its key picks one of N buckets by
 * hash, so the same key lands in the same bucket in every region whatever the scan order or
 * the number of scan segments. A bucket's digest is the XOR of its leaves' SHA-256 plus a count:
 * order-independent, so segments scan in parallel and nothing is sorted or kept per item; keys
 * are unique within a table, so no leaf can cancel itself out. The root hashes the bucket
 * digests in bucket order (a two-level hash tree). Regions exchange only digests; a bucket whose
 * digests differ is drilled into, key by key.
 */
import { createHash } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { canonicalItem, toWire } from '../core/codec.ts';
import { META } from '../core/contract.ts';
import { replicaView, type Item } from './compare.ts';
import type { CopyView } from './selection-view.ts';

/** Buckets per region digest unless told otherwise (`regionsync verify --buckets`). */
export const DEFAULT_BUCKETS = 256;

/** One item as the digests see it: its key, version and content hash. */
export interface Leaf {
  /** Canonical JSON of the key attributes. */
  readonly key: string;
  /** `_rs_v`, or undefined for an item regionsync never stamped. @default none: the item was never stamped */
  readonly version?: string;
  /** SHA-256 (hex) of everything that must be equal in every region (see `replicaView`). */
  readonly content: string;
}

/** The digest of one bucket: how many leaves it holds and the XOR of their hashes. */
export interface BucketDigest {
  count: number;
  /** XOR of the leaves' hashes (32 bytes). */
  readonly hash: Buffer;
}

/** One region's digest of a table: a {@link BucketDigest} per bucket, filled leaf by leaf in any order. */
export class RegionDigest {
  readonly buckets: BucketDigest[];
  items = 0;

  constructor(readonly bucketCount: number = DEFAULT_BUCKETS) {
    if (!Number.isInteger(bucketCount) || bucketCount < 1 || bucketCount > 1 << 20) throw new RangeError(`buckets must be 1..${1 << 20}, got ${bucketCount}`);
    this.buckets = Array.from({ length: bucketCount }, () => ({ count: 0, hash: Buffer.alloc(32) }));
  }

  /** Adds a leaf; returns its bucket. */
  add(leaf: Leaf): number {
    const bucket = bucketOf(leaf.key, this.bucketCount);
    const b = this.buckets[bucket]!;
    const h = leafHash(leaf);
    for (let i = 0; i < 32; i++) b.hash[i]! ^= h[i];
    b.count++;
    this.items++;
    return bucket;
  }

  /** The root of the hash tree: equal roots mean equal tables (up to SHA-256 collisions). */
  root(): string {
    const h = createHash('sha256');
    for (const b of this.buckets) {
      h.update(String(b.count));
      h.update(b.hash);
    }
    return h.digest('hex');
  }

  toJSON(): { bucketCount: number; items: number; root: string } {
    return { bucketCount: this.bucketCount, items: this.items, root: this.root() };
  }
}

/** The bucket of a key: the first 4 bytes of SHA-256 of its canonical form, modulo N. */
export function bucketOf(key: string, bucketCount: number): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) % bucketCount;
}

/** SHA-256 of a leaf's key, version and content: what its bucket's digest XORs in. */
export function leafHash(leaf: Pick<Leaf, 'key' | 'version' | 'content'>): Buffer {
  return createHash('sha256')
    .update(`${leaf.key}\0${leaf.version ?? ''}\0${leaf.content}`)
    .digest();
}

/** Buckets whose digests are not the same in every region. */
export function differingBuckets(digests: readonly RegionDigest[]): number[] {
  if (digests.length === 0) return [];
  const n = digests[0]!.bucketCount;
  if (digests.some((d) => d.bucketCount !== n)) throw new RangeError('digests have different bucket counts');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const first = digests[0]!.buckets[i]!;
    if (digests.some((d) => d.buckets[i]!.count !== first.count || !d.buckets[i]!.hash.equals(first.hash))) out.push(i);
  }
  return out;
}

/**
 * Keys whose leaves differ between regions, given each region's leaves (of the differing buckets
 * only, or all). A key missing from a region counts as different.
 */
export function differingKeys(leavesByRegion: readonly (ReadonlyMap<string, Leaf> | readonly Leaf[])[]): string[] {
  const maps = leavesByRegion.map((l) => (Array.isArray(l) ? new Map((l as readonly Leaf[]).map((x) => [x.key, x])) : (l as ReadonlyMap<string, Leaf>)));
  const keys = new Set<string>();
  for (const m of maps) for (const k of m.keys()) keys.add(k);
  const out: string[] = [];
  for (const k of keys) {
    const first = maps[0]!.get(k);
    if (maps.some((m) => !sameLeaf(m.get(k), first))) out.push(k);
  }
  return out.sort();
}

function sameLeaf(a: Leaf | undefined, b: Leaf | undefined): boolean {
  if (!a || !b) return a === b;
  return a.version === b.version && a.content === b.content;
}

/** Canonical form of an item's key attributes. */
export function keyString(item: Item, keyAttributes: readonly string[]): string {
  const key: Item = {};
  for (const name of keyAttributes) {
    const v = item[name];
    if (v === undefined) throw new Error(`item has no key attribute "${name}": ${canonicalItem(toWire(item)).slice(0, 200)}`);
    key[name] = v;
  }
  return canonicalItem(toWire(key));
}

/**
 * An item as verify sees it: undefined when it does not count (a tombstone whose TTL has passed
 * is as good as purged: DynamoDB deletes expired items up to days late, at different times in
 * each region).
 */
export function leafOf(
  item: Item,
  keyAttributes: readonly string[],
  ttlAttribute: string,
  nowSeconds: number,
  view?: (item: Item) => CopyView,
): Leaf | undefined {
  if (isExpiredTombstone(item, ttlAttribute, nowSeconds)) return undefined;
  // Under selective replication, as compareTable sees it (selection-view.ts): a copy that is filtered out or counts as absent has no leaf.
  const v = view?.(item) ?? { kind: 'in', item };
  if (v.kind !== 'in') return undefined;
  return {
    key: keyString(item, keyAttributes),
    version: item[META.version]?.S,
    content: createHash('sha256').update(replicaView(v.item)).digest('hex'),
  };
}

/**
 * Whether an item is a tombstone whose TTL (epoch seconds in `ttlAttribute`) is before `nowSeconds`:
 * DynamoDB may purge it at any time, so verify and backfill leave it out.
 */
export function isExpiredTombstone(item: Item, ttlAttribute: string, nowSeconds: number): boolean {
  if (item[META.deleted]?.BOOL !== true) return false;
  const exp = Number(item[ttlAttribute]?.N);
  return Number.isFinite(exp) && exp > 0 && exp < nowSeconds;
}

/**
 * DynamoDB's item size: attribute names plus values (strings and binaries by length, numbers
 * about 1 byte per 2 digits + 1, 1 byte for booleans and nulls, 3 bytes of overhead per list or
 * map plus 1 per element). What read capacity is charged on.
 */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + numberSize(s), 0);
  if (v.BS !== undefined) return v.BS.reduce((n, b) => n + b.length, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((n, x) => n + 1 + valueSize(x), 0);
  if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((n, [k, x]) => n + 1 + Buffer.byteLength(k) + valueSize(x), 0);
  return 0;
}

function numberSize(n: string): number {
  const digits = n.replace(/^[-+]?0*/, '').replace(/[.eE].*$/, '').length + (n.includes('.') ? n.split('.')[1]!.replace(/[eE].*$/, '').length : 0);
  return Math.ceil(Math.max(1, digits) / 2) + 1;
}
