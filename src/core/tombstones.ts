/**
 * The tombstone table (`lww` tables): where a deleted item's tombstone is kept, so that the
 * application's table holds live items only. GetItem, Query, Scan and `Select: COUNT` then find
 * nothing for a deleted key, and an ORM's conditional create (`attribute_not_exists(pk)`) of it
 * succeeds, as on a single-region table; a late, older write still cannot resurrect the item,
 * because every write that could re-create it checks the tombstone. Pure: inputs only.
 *
 * Two tables cannot be written atomically without a transaction (2× the write cost of every
 * create). The protocol that keeps them consistent instead, for a delete at version `d` racing a
 * re-creating put at version `p`:
 *  - a delete writes its tombstone first, then deletes the item if it is older (`_rs_v < d`; never
 *    an item without a version, a local write not stamped yet: its stamp reads the tombstone), and
 *    again while its delete finds that an older put landed since its mark;
 *  - a put that found the item absent or unstamped (or a stamp of a write that re-created it) then
 *    reads the tombstone, strongly consistent, and if the tombstone is newer removes every item
 *    older than it (its own, or an older put that landed on it without reading the row).
 * Whichever order the four steps run in, when `d > p` one of the two removes the put's item: if the
 * put's read comes before the tombstone write, the put's item is there before the delete's item
 * step. When `p > d` neither removes it. The property tests (write-patterns, tombstones) check this
 * against every interleaving they draw.
 *
 * One table per region for the whole app (one CloudFormation resource, not one per table): a row's
 * key is the logical table and a hash of the item's key (key values can be up to 3 KB together; a
 * partition key value at most 2 KB). IAM confines each function to its own table's rows with
 * `dynamodb:LeadingKeys` (see the construct).
 */
import { createHash } from 'node:crypto';
import type { GetItemCommandInput, PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from './change.ts';
import { canonicalItem, fromWire } from './codec.ts';
import { META } from './contract.ts';
import { compareVersions, decodeVersion, type Version } from './version.ts';

/**
 * The writer marker of an item regionsync is about to remove (src/functions/shared/remove-item.ts): its
 * REMOVE record then says it was regionsync's removal, not the application's delete.
 */
export const REMOVAL_WRITER = 'rm';

/** The tombstone table's schema (the construct creates it from these). */
export const TOMBSTONE_TABLE = {
  partitionKey: META.tombstoneKey,
  /** TTL: a row is purged after the table's `tombstoneTtlSeconds`, whatever the table's own TTL attribute is. */
  ttl: META.expiresAt,
} as const;

/** `<logical table>#<22-character hash of the key>`: fixed length, and a prefix per table for IAM. */
export function tombstoneRowKey(logicalTable: string, key: AttributeMap): string {
  return `${tombstoneRowPrefix(logicalTable)}${createHash('sha256').update(canonicalItem(key)).digest('base64url').slice(0, 22)}`;
}

/** The row prefix of one table's tombstones (IAM's `dynamodb:LeadingKeys`). */
export function tombstoneRowPrefix(logicalTable: string): string {
  return `${logicalTable}#`;
}

/**
 * The row that keeps a tombstone item (key, `_rs_del`, version, origin, writer, vector, expiry in
 * the table's TTL attribute), with its row key, its expiry in the tombstone table's TTL attribute,
 * and when it was written.
 */
export function tombstoneRow(logicalTable: string, tombstone: AttributeMap, key: AttributeMap, ttlAttribute: string, writtenAtMs: number): AttributeMap {
  const expiresAt = tombstone[ttlAttribute];
  return {
    ...tombstone,
    [META.tombstoneKey]: { S: tombstoneRowKey(logicalTable, key) },
    ...(expiresAt?.N !== undefined ? { [TOMBSTONE_TABLE.ttl]: { N: expiresAt.N } } : {}),
    [META.tombstoneWrittenAt]: { N: String(Math.round(writtenAtMs)) },
  };
}

/** The tombstone item a row keeps (as it would stand in the table): the row's own bookkeeping removed. */
export function tombstoneOfRow(row: AttributeMap | undefined, ttlAttribute: string): AttributeMap | undefined {
  if (!row) return undefined;
  const { [META.tombstoneKey]: _k, [META.tombstoneWrittenAt]: _a, [META.sequence]: _s, ...rest } = row;
  if (ttlAttribute !== TOMBSTONE_TABLE.ttl) delete rest[TOMBSTONE_TABLE.ttl];
  return rest;
}

/**
 * The tombstones (as they would stand in the table) of one table's rows among `rows`, a page of
 * the region's tombstone table, which every last-writer-wins table of the app shares.
 */
export function tombstonesOfTable(rows: readonly AttributeMap[], logicalTable: string, ttlAttribute: string): AttributeMap[] {
  const prefix = tombstoneRowPrefix(logicalTable);
  return rows.filter((row) => row[META.tombstoneKey]?.S?.startsWith(prefix)).map((row) => tombstoneOfRow(row, ttlAttribute)!);
}

/** When the row's tombstone was written (epoch ms), or undefined for a row without it. */
export function tombstoneWrittenAt(row: AttributeMap | undefined): number | undefined {
  const n = Number(row?.[META.tombstoneWrittenAt]?.N);
  return Number.isFinite(n) ? n : undefined;
}

/** The version of the tombstone a row keeps, or undefined for no row (or none readable). */
export function tombstoneVersion(row: AttributeMap | undefined): Version | undefined {
  return decodeVersion(row?.[META.version]?.S);
}

/** Whether the tombstone in `row` beats a write at `version` (is newer). */
export function tombstoneWins(row: AttributeMap | undefined, version: Version): boolean {
  const tomb = tombstoneVersion(row);
  return tomb !== undefined && compareVersions(tomb, version) > 0;
}

/** Strongly consistent: the protocol above needs the tombstone as it is now, not as it was. */
export function getTombstoneInput(tombstoneTable: string, logicalTable: string, key: AttributeMap): GetItemCommandInput {
  return { TableName: tombstoneTable, Key: { [META.tombstoneKey]: { S: tombstoneRowKey(logicalTable, key) } }, ConsistentRead: true };
}

/**
 * Writes a tombstone row.
 *  - `newer` (a replicated delete): `attribute_not_exists(_rs_v) OR _rs_v < :v`, only a strictly
 *    newer tombstone replaces the one kept (an equal one is a duplicate delivery);
 *  - `seen` (the shipper's tombstone of a local delete): the row is still exactly as the shipper
 *    read it (its version, or its absence), so a replicated tombstone that came in between is never
 *    overwritten; the shipper reads again and decides anew.
 * The replaced (or blocking) row comes back, which tells a conflict at no extra cost.
 */
export function putTombstoneInput(
  tombstoneTable: string,
  row: AttributeMap,
  expect: { readonly newer: true } | { readonly seen: string | undefined },
): PutItemCommandInput {
  const common = { TableName: tombstoneTable, Item: fromWire(row), ReturnValues: 'ALL_OLD' as const, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const };
  if ('newer' in expect) {
    return {
      ...common,
      ConditionExpression: 'attribute_not_exists(#v) OR #v < :v',
      ExpressionAttributeNames: { '#v': META.version },
      ExpressionAttributeValues: { ':v': row[META.version]! },
    };
  }
  if (expect.seen === undefined) return { ...common, ConditionExpression: 'attribute_not_exists(#tk)', ExpressionAttributeNames: { '#tk': META.tombstoneKey } };
  return {
    ...common,
    ConditionExpression: '#v = :seen',
    ExpressionAttributeNames: { '#v': META.version },
    ExpressionAttributeValues: { ':seen': { S: expect.seen } },
  };
}
