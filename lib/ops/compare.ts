/**
 * Compares a table across regions item by item: what `npm start`, the integration tests and
 * operators use to check that replicas agree. A full scan of every region; bounded verification
 * with digests is `regionsync verify` (planned).
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { canonicalItem, toWire } from '../../lambda/core/codec.ts';
import { META } from '../../lambda/core/contract.ts';
import { dynamodb, type Target } from '../cli/aws.ts';

export type Item = Record<string, AttributeValue>;

export interface Divergence {
  readonly key: string;
  /** Canonical JSON per region; undefined where the region lacks the item. */
  readonly byRegion: Readonly<Record<string, string | undefined>>;
}

export interface Comparison {
  readonly table: string;
  readonly regions: readonly string[];
  /** Distinct keys seen in any region (tombstones included). */
  readonly keys: number;
  /** Live (non-tombstone) items per region. */
  readonly liveItems: Readonly<Record<string, number>>;
  readonly divergent: readonly Divergence[];
}

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

/** What must be equal in every region: everything but who wrote the version (stamp here, repl there) and local bookkeeping. */
export function replicaView(item: Item): string {
  const { [META.writer]: _writer, [META.sequence]: _sequence, ...rest } = item;
  return canonicalItem(toWire(rest));
}

export function isTombstone(item: Item): boolean {
  return item[META.deleted]?.BOOL === true;
}

export async function compareTable(t: Target, table: string, regions: readonly string[], keyAttributes: readonly string[]): Promise<Comparison> {
  const scans = await Promise.all(regions.map((r) => scanAll(t, r, table)));
  const byKey = new Map<string, Record<string, string | undefined>>();
  const liveItems: Record<string, number> = {};
  scans.forEach((items, i) => {
    const region = regions[i]!;
    liveItems[region] = items.filter((x) => !isTombstone(x)).length;
    for (const item of items) {
      const key = canonicalItem(toWire(Object.fromEntries(keyAttributes.map((k) => [k, item[k]!]))));
      const entry = byKey.get(key) ?? {};
      entry[region] = replicaView(item);
      byKey.set(key, entry);
    }
  });
  const divergent: Divergence[] = [];
  for (const [key, byRegion] of byKey) {
    const values = regions.map((r) => byRegion[r]);
    if (values.some((v) => v !== values[0])) divergent.push({ key, byRegion: Object.fromEntries(regions.map((r) => [r, byRegion[r]])) });
  }
  return { table, regions, keys: byKey.size, liveItems, divergent };
}
