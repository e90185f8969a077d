/**
 * Compares a table across regions item by item: what `npm start`, the integration tests and
 * operators use to check that replicas agree. A full scan of every region; bounded verification
 * with digests is `regionsync verify` (planned).
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Item } from './types.ts';
import { canonicalItem, toWire } from '../core/codec.ts';
import { META } from '../core/contract.ts';
import { dynamodb, type Target } from './aws.ts';
import { vectorAttribute, vectorFromAttribute } from '../core/vector.ts';
import { physicalTableName, type ResolvedTableConfig } from '../infra/config/schema.ts';
import { comparisonScope, type ComparisonScope } from './selection-view.ts';

export type { Item };

/** A key whose copies differ between regions. */
export interface Divergence {
  readonly key: string;
  /** Canonical JSON per region; undefined where the region lacks the item. */
  readonly byRegion: Readonly<Record<string, string | undefined>>;
}

/** The result of {@link compareTable}: what was compared and the keys that differ. */
export interface Comparison {
  readonly table: string;
  readonly regions: readonly string[];
  /** Distinct keys seen in any region (tombstones included). */
  readonly keys: number;
  /** Live (non-tombstone) items per region. */
  readonly liveItems: Readonly<Record<string, number>>;
  readonly divergent: readonly Divergence[];
}

/**
 * Every item of a region's table, tombstones included, by strongly consistent scan pages: a full
 * read for small tables (tests, the demo); verify scans in segments within a read budget.
 */
export async function scanAll(t: Target, region: string, tableName: string): Promise<Item[]> {
  const client = dynamodb(t, region);
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const out = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * What must be equal in every region: everything but who wrote the version (stamp here, repl
 * there) and local bookkeeping (sequence, lock, and the content hash, which only restates the
 * content compared here and is missing on items written before regionsync kept it). The version
 * vector is compared as the history it means, not as stored (an older release stored it whole
 * and kept the origin in `_rs_o`, which the version names anyway).
 */
export function replicaView(item: Item): string {
  const {
    [META.writer]: _writer,
    [META.sequence]: _sequence,
    [META.lock]: _lock,
    [META.contentHash]: _hash,
    [META.origin]: _origin,
    [META.vector]: stored,
    ...rest
  } = item;
  const version = rest[META.version]?.S;
  const vector = stored === undefined && version === undefined ? {} : vectorAttribute(vectorFromAttribute(stored, version), version);
  return canonicalItem(toWire({ ...rest, ...vector }));
}

/** Whether an item is a tombstone (`_rs_del` true): the state of a deleted key. */
export function isTombstone(item: Item): boolean {
  return item[META.deleted]?.BOOL === true;
}

/** A table as compareTable addresses it: physical name per region, key, selection. */
export type CompareTarget = Pick<ResolvedTableConfig, 'name' | 'names' | 'regions' | 'partitionKey' | 'sortKey' | 'selection'>;

/**
 * Compares the table's copies in `regions` (default: all of its regions), each read under its
 * physical name, through the table's selection (selection-view.ts): filtered items and excluded
 * attributes are not divergences.
 */
export async function compareTable(t: Target, table: CompareTarget, regions: readonly string[] = table.regions): Promise<Comparison> {
  const keyAttributes = [table.partitionKey.name, ...(table.sortKey ? [table.sortKey.name] : [])];
  const scope = comparisonScope(
    {
      ...(table.selection ? { selection: table.selection } : {}),
      key: { partitionKey: table.partitionKey.name, ...(table.sortKey ? { sortKey: table.sortKey.name } : {}) },
    },
    regions,
  );
  const scans = await Promise.all(regions.map((r) => scanAll(t, r, physicalTableName(table, r))));
  return compareScans(scans, regions, keyAttributes, scope, table.name);
}

/** The comparison of scanned copies (one list per region, in `regions` order). Pure. */
export function compareScans(
  scans: readonly (readonly Item[])[],
  regions: readonly string[],
  keyAttributes: readonly string[],
  scope: ComparisonScope,
  table: string,
): Comparison {
  const byKey = new Map<string, Record<string, string | undefined>>();
  const out = new Set<string>();
  const liveItems: Record<string, number> = {};
  scans.forEach((items, i) => {
    const region = regions[i]!;
    liveItems[region] = items.filter((x) => !isTombstone(x)).length;
    for (const item of items) {
      const key = canonicalItem(toWire(Object.fromEntries(keyAttributes.map((k) => [k, item[k]!]))));
      const entry = byKey.get(key) ?? {};
      const view = scope.view(item, region);
      if (view.kind === 'out') out.add(key);
      if (view.kind === 'in') entry[region] = replicaView(view.item);
      byKey.set(key, entry);
    }
  });
  const divergent: Divergence[] = [];
  for (const [key, byRegion] of byKey) {
    if (out.has(key)) continue;
    const values = regions.map((r) => byRegion[r]);
    if (values.some((v) => v !== values[0])) divergent.push({ key, byRegion: Object.fromEntries(regions.map((r) => [r, byRegion[r]])) });
  }
  return { table, regions, keys: byKey.size, liveItems, divergent };
}
