/**
 * Custom conflict resolution: a function in the user's code decides what two concurrent versions
 * of an item become. It sees plain JavaScript values (unmarshalled), never regionsync metadata.
 * It must be deterministic (same inputs, same result: no clocks, no randomness, no I/O);
 * `checkResolver` in src/client/testing.ts checks that on generated inputs.
 */
import { createHash } from 'node:crypto';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeMap } from './change.ts';
import { stripMeta } from './change.ts';
import { canonicalItem, fromWire, stableStringify, toWire } from './codec.ts';
import { META, type KeySchema } from './contract.ts';
import { advance, compareVectors, mergeVectors, vectorFromAttribute, vectorAttribute, type VersionVector } from './vector.ts';
import { compareVersions, decodeVersion, encodeVersion, regionOfVersion, type Version } from './version.ts';

/** An item as plain JavaScript values (unmarshalled): what a resolver sees and returns. */
export type PlainItem = Record<string, NativeAttributeValue>;

/** What a resolver is given: the item's key and the two concurrent versions, each with its version string. */
export interface ResolverInput {
  /** The item's key (plain values). */
  readonly key: PlainItem;
  /** What this region holds; null when it is a tombstone. */
  readonly local: PlainItem | null;
  /** The concurrent change that arrived; null for a delete. */
  readonly incoming: PlainItem | null;
  readonly localVersion: string;
  readonly incomingVersion: string;
}

/** Returns the resolved item (the key attributes are put back if missing), or null to delete it. */
export type Resolver = (input: ResolverInput) => PlainItem | null;

/** What {@link resolveCustom} decides: `stale` (nothing new), or the item to write and whether it holds concurrent versions. */
export type CustomOutcome = { readonly kind: 'stale' } | { readonly kind: 'apply'; readonly item: AttributeMap; readonly conflict: boolean };

/** One of the concurrent versions of an item that no later write has superseded yet. */
interface Sibling {
  readonly v: string;
  readonly o: string;
  readonly vv: VersionVector;
  readonly del: boolean;
  /** The application's attributes (wire shape), key included. */
  readonly item: AttributeMap;
}

/**
 * How siblings are stored in `_rs_sib`: each as its difference from the application's attributes
 * of the item that holds them (`p`: attributes whose value differs, `r`: attributes it lacks), so
 * a conflict on a large item costs what the versions changed, not a copy of each. `b` fingerprints
 * those attributes: if anything else rewrote them since (a plain write not folded in yet), the
 * differences no longer apply and the item is read as one version, as an unreadable `_rs_sib` is.
 * Items stored before this keep a JSON array of whole siblings; they are still read.
 */
interface StoredSiblings {
  readonly b: string;
  readonly s: ReadonlyArray<Omit<Sibling, 'item'> & { readonly p?: AttributeMap; readonly r?: string[] }>;
}

/**
 * Keeps every concurrent version that no other has superseded (a multi-value register, merged
 * by union minus what is dominated), and shows the application the resolver's fold of them, in
 * version order. Because the fold starts again from the siblings whenever one arrives or is
 * superseded, every region that has seen the same changes shows the same item, even when a
 * later write replaces just one side of an earlier conflict; the resolver need only be
 * deterministic.
 */
export function resolveCustom(
  stored: AttributeMap | undefined,
  incoming: AttributeMap,
  resolver: Resolver,
  key: KeySchema,
  ttlAttribute: string,
): CustomOutcome {
  if (!stored || !stored[META.version]) return { kind: 'apply', item: incoming, conflict: false };
  const before = siblingsOf(stored, ttlAttribute);
  const merged = maximal([...before, ...siblingsOf(incoming, ttlAttribute)]);
  if (sameSiblings(merged, before)) return { kind: 'stale' };
  return {
    kind: 'apply',
    item: materialize(
      merged,
      resolver,
      key,
      ttlAttribute,
      Math.max(stored ? tombstoneExpiryOf(stored, ttlAttribute) : 0, tombstoneExpiryOf(incoming, ttlAttribute)),
    ),
    conflict: merged.length > 1,
  };
}

/**
 * A local write under the custom strategy: a new version whose history is what the write's stream
 * record showed. It supersedes what the application saw, and stays beside (as a sibling of) any
 * replicated change that landed after it: that change and the write were concurrent.
 */
export function customLocalWrite(args: {
  current: AttributeMap | undefined;
  keyItem: AttributeMap;
  /** The application's item as written; undefined for a delete. */
  image: AttributeMap | undefined;
  baseVector: VersionVector;
  version: Version;
  resolver: Resolver;
  key: KeySchema;
  ttlAttribute: string;
  tombstoneExpiresAt: number;
}): { item: AttributeMap; conflict: boolean } {
  const { current, ttlAttribute } = args;
  const v = encodeVersion(args.version);
  const own: Sibling = {
    v,
    o: args.version.region,
    vv: advance(args.baseVector, args.version),
    del: args.image === undefined,
    item: args.image ? stripMeta(args.image) : args.keyItem,
  };
  const siblings = current?.[META.version] ? maximal([...siblingsOf(current, ttlAttribute), own]) : [own];
  const expiresAt = Math.max(current ? tombstoneExpiryOf(current, ttlAttribute) : 0, own.del ? args.tombstoneExpiresAt : 0);
  const item = materialize(siblings, args.resolver, args.key, ttlAttribute, expiresAt);
  return { item: { ...item, [META.writer]: { S: 'stamp' } }, conflict: siblings.length > 1 };
}

/** The item the application sees: the one version, or the resolver's fold of the siblings, oldest first. */
function materialize(siblings: Sibling[], resolver: Resolver, key: KeySchema, ttlAttribute: string, expiresAt: number): AttributeMap {
  const sorted = [...siblings].sort((a, b) => compareVersions(decodeVersion(a.v)!, decodeVersion(b.v)!));
  const newest = sorted[sorted.length - 1]!;
  const keyNames = [key.partitionKey, ...(key.sortKey ? [key.sortKey] : [])];
  const keyItem = Object.fromEntries(keyNames.map((k) => [k, newest.item[k]!]));
  const meta: AttributeMap = {
    [META.version]: { S: newest.v },
    [META.writer]: { S: 'repl' },
    ...vectorAttribute(
      sorted.reduce((acc, s) => mergeVectors(acc, s.vv), {} as VersionVector),
      newest.v,
    ),
  };
  const tombstone = { [META.deleted]: { BOOL: true }, [ttlAttribute]: { N: String(expiresAt) } };
  if (sorted.length === 1) return newest.del ? { ...keyItem, ...meta, ...tombstone } : { ...newest.item, ...meta };
  const plainKey = unmarshall(fromWire(keyItem));
  let acc: PlainItem | null = sorted[0]!.del ? null : unmarshall(fromWire(sorted[0]!.item));
  let accVersion = sorted[0]!.v;
  for (const s of sorted.slice(1)) {
    acc = resolver({ key: plainKey, local: acc, incoming: s.del ? null : unmarshall(fromWire(s.item)), localVersion: accVersion, incomingVersion: s.v });
    accVersion = s.v;
  }
  const content =
    acc === null ? keyItem : { ...stripMeta(toWire(marshall(acc, { removeUndefinedValues: true, convertClassInstanceToMap: true }))), ...keyItem };
  meta[META.siblings] = { S: stableStringify(storeSiblings(sorted, content)) };
  return acc === null ? { ...content, ...meta, ...tombstone } : { ...content, ...meta };
}

function storeSiblings(siblings: readonly Sibling[], base: AttributeMap): StoredSiblings {
  const same = (x: AttributeMap[string], y: AttributeMap[string] | undefined) =>
    y !== undefined && canonicalItem({ x } as AttributeMap) === canonicalItem({ x: y } as AttributeMap);
  return {
    b: fingerprint(base),
    s: siblings.map(({ item, ...rest }) => {
      const p = Object.fromEntries(Object.entries(item).filter(([n, x]) => !same(x, base[n])));
      // Sorted: the base's attribute order depends on how each region's copy was written, and
      // every region must store the same siblings (found by the convergence property test).
      const r = Object.keys(base)
        .filter((n) => item[n] === undefined)
        .sort();
      return { ...rest, ...(Object.keys(p).length > 0 ? { p } : {}), ...(r.length > 0 ? { r } : {}) };
    }),
  };
}

function fingerprint(attributes: AttributeMap): string {
  return createHash('sha256').update(canonicalItem(attributes)).digest('base64').slice(0, 22);
}

function siblingsOf(item: AttributeMap, ttlAttribute: string): Sibling[] {
  const raw = item[META.siblings]?.S;
  if (raw) {
    try {
      const stored = JSON.parse(raw) as Sibling[] | StoredSiblings;
      if (Array.isArray(stored)) return stored;
      const base = contentOf(item, ttlAttribute);
      if (stored.b === fingerprint(base)) {
        return stored.s.map(({ p, r, ...rest }) => {
          const whole: AttributeMap = { ...base, ...p };
          for (const n of r ?? []) delete whole[n];
          return { ...rest, item: whole };
        });
      }
    } catch {
      // fall through: treat the item as a single version
    }
  }
  return [
    {
      v: item[META.version]!.S!,
      o: regionOfVersion(item[META.version]!.S) ?? '',
      vv: vectorFromAttribute(item[META.vector], item[META.version]!.S),
      del: item[META.deleted]?.BOOL === true,
      item: contentOf(item, ttlAttribute),
    },
  ];
}

/** Union, without duplicates and without any version another one has seen (dominated). */
function maximal(all: Sibling[]): Sibling[] {
  const unique = [...new Map(all.map((s) => [s.v, s])).values()];
  return unique.filter((s) => !unique.some((o) => o.v !== s.v && compareVectors(s.vv, o.vv) === 'before'));
}

function sameSiblings(a: readonly Sibling[], b: readonly Sibling[]): boolean {
  const va = a.map((s) => s.v).sort();
  const vb = b.map((s) => s.v).sort();
  return va.length === vb.length && va.every((v, i) => v === vb[i]);
}

/**
 * What the application wrote: a live item keeps the table's TTL attribute (the user's own expiry,
 * issue 14 finding 8); on a tombstone it is the tombstone's expiry, not content.
 */
function contentOf(item: AttributeMap, ttlAttribute: string): AttributeMap {
  return stripMeta(item, item[META.deleted]?.BOOL === true ? [ttlAttribute] : []);
}

/** A tombstone's expiry (a live item's TTL attribute is the application's, not a tombstone's). */
function tombstoneExpiryOf(item: AttributeMap, ttlAttribute: string): number {
  return item[META.deleted]?.BOOL === true ? expiryOf(item, ttlAttribute) : 0;
}

function expiryOf(item: AttributeMap, ttlAttribute: string): number {
  return Number(item[ttlAttribute]?.N ?? 0) || 0;
}
