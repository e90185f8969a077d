/**
 * Custom conflict resolution: a function in the user's code decides what two concurrent versions
 * of an item become. It sees plain JavaScript values (unmarshalled), never regionsync metadata.
 * It must be deterministic (same inputs, same result: no clocks, no randomness, no I/O);
 * `checkResolver` in lib/client/testing.ts checks that on generated inputs.
 */
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeMap } from './change.ts';
import { stripMeta } from './change.ts';
import { fromWire, stableStringify, toWire } from './codec.ts';
import { META, type KeySchema } from './contract.ts';
import { advance, compareVectors, mergeVectors, vectorFromAttribute, vectorToAttribute, type VersionVector } from './vector.ts';
import { compareVersions, decodeVersion, encodeVersion, type Version } from './version.ts';

export type PlainItem = Record<string, NativeAttributeValue>;

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
 * Keeps every concurrent version that no other has superseded (a multi-value register, merged
 * by union minus what is dominated), and shows the application the resolver's fold of them, in
 * version order. Because the fold starts again from the siblings whenever one arrives or is
 * superseded, every region that has seen the same changes shows the same item, even when a
 * later write replaces just one side of an earlier conflict; the resolver need only be
 * deterministic.
 */
export function resolveCustom(stored: AttributeMap | undefined, incoming: AttributeMap, resolver: Resolver, key: KeySchema, ttlAttribute: string): CustomOutcome {
  if (!stored || !stored[META.version]) return { kind: 'apply', item: incoming, conflict: false };
  const before = siblingsOf(stored, ttlAttribute);
  const merged = maximal([...before, ...siblingsOf(incoming, ttlAttribute)]);
  if (sameSiblings(merged, before)) return { kind: 'stale' };
  return { kind: 'apply', item: materialize(merged, resolver, key, ttlAttribute, Math.max(expiryOf(stored, ttlAttribute), expiryOf(incoming, ttlAttribute))), conflict: merged.length > 1 };
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
    item: args.image ? stripMeta(args.image, [ttlAttribute]) : args.keyItem,
  };
  const siblings = current?.[META.version] ? maximal([...siblingsOf(current, ttlAttribute), own]) : [own];
  const expiresAt = Math.max(current ? expiryOf(current, ttlAttribute) : 0, own.del ? args.tombstoneExpiresAt : 0);
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
    [META.origin]: { S: newest.o },
    [META.writer]: { S: 'repl' },
    [META.vector]: vectorToAttribute(sorted.reduce((acc, s) => mergeVectors(acc, s.vv), {} as VersionVector)),
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
  meta[META.siblings] = { S: stableStringify(sorted) };
  if (acc === null) return { ...keyItem, ...meta, ...tombstone };
  const resolved = toWire(marshall(acc, { removeUndefinedValues: true, convertClassInstanceToMap: true }));
  return { ...stripMeta(resolved, [ttlAttribute]), ...keyItem, ...meta };
}

function siblingsOf(item: AttributeMap, ttlAttribute: string): Sibling[] {
  const raw = item[META.siblings]?.S;
  if (raw) {
    try {
      return JSON.parse(raw) as Sibling[];
    } catch {
      // fall through: treat the item as a single version
    }
  }
  return [
    {
      v: item[META.version]!.S!,
      o: item[META.origin]?.S ?? '',
      vv: vectorFromAttribute(item[META.vector]),
      del: item[META.deleted]?.BOOL === true,
      item: stripMeta(item, [ttlAttribute]),
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

function expiryOf(item: AttributeMap, ttlAttribute: string): number {
  return Number(item[ttlAttribute]?.N ?? 0) || 0;
}
