/**
 * Conflicts: two changes to one item whose version vectors are concurrent (neither had seen the
 * other). Every strategy counts them; the conflict log keeps both sides and the result, which is
 * what Global Tables never tells you about the write that lost.
 */
import { regionOfVersion } from './version.ts';
import type { AttributeMap } from './change.ts';
import { keyToString, stripMeta } from './change.ts';
import { META } from './contract.ts';
import { compareVectors, vectorFromAttribute } from './vector.ts';

/**
 * Whether neither item's version vector has seen the other's: a conflict, not just an older or
 * newer write. False when either carries no version (nothing to compare).
 */
export function isConcurrent(stored: AttributeMap, incoming: AttributeMap): boolean {
  const a = vectorFromAttribute(stored[META.vector], stored[META.version]?.S);
  const b = vectorFromAttribute(incoming[META.vector], incoming[META.version]?.S);
  if (Object.keys(a).length === 0 || Object.keys(b).length === 0) return false;
  return compareVectors(a, b) === 'concurrent';
}

/** Conflict-log keys: one partition per table, sorted by detection time. */
export const CONFLICT_LOG = { partitionKey: 'table', sortKey: 'at', ttl: 'expiresAt' } as const;

/** DynamoDB's item limit is 400 KB; both sides and the result may not fit, then values are left out. */
const MAX_RECORD_BYTES = 350_000;

/**
 * The conflict-log item for one conflict: both sides and the result (version, origin, whether
 * deleted, the application's attributes), expiring after `retentionSeconds`. Too large for one
 * item, the sides keep their versions only and the record is marked `truncated`.
 */
export function conflictRecord(args: {
  table: string;
  region: string;
  strategy: string;
  key: AttributeMap;
  local: AttributeMap;
  incoming: AttributeMap;
  result: AttributeMap;
  now: number;
  retentionSeconds: number;
}): AttributeMap {
  const side = (item: AttributeMap) => ({
    M: {
      version: { S: item[META.version]?.S ?? '' },
      origin: { S: regionOfVersion(item[META.version]?.S) ?? '' },
      deleted: { BOOL: item[META.deleted]?.BOOL === true },
      item: { M: stripMeta(item) },
    },
  });
  const record: AttributeMap = {
    [CONFLICT_LOG.partitionKey]: { S: args.table },
    [CONFLICT_LOG.sortKey]: { S: `${new Date(args.now).toISOString()}#${keyToString(args.key)}#${args.incoming[META.version]?.S ?? ''}` },
    key: { M: args.key },
    region: { S: args.region },
    strategy: { S: args.strategy },
    local: side(args.local),
    incoming: side(args.incoming),
    result: side(args.result),
    detectedAt: { N: String(args.now) },
    [CONFLICT_LOG.ttl]: { N: String(Math.floor(args.now / 1000) + args.retentionSeconds) },
  };
  if (Buffer.byteLength(JSON.stringify(record)) > MAX_RECORD_BYTES) {
    for (const s of ['local', 'incoming', 'result']) delete (record[s]!.M as AttributeMap).item;
    record.truncated = { BOOL: true };
  }
  return record;
}
