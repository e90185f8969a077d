/**
 * The conditional writes regionsync makes, built as plain SDK inputs (no AWS calls here).
 * Every condition below is what makes replication safe under at-least-once, unordered
 * delivery; each says why it is there.
 */
import type { AttributeValue, PutItemCommandInput, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { META, type FunctionSettings, type KeySchema } from './contract.ts';
import type { StateContext } from './item-state.ts';
import type { AttributeMap, Change } from './change.ts';
import { fromWire } from './codec.ts';
import { replicationWriterFor } from './echo-filter.ts';
import { contentHash, withContentHash } from './content-hash.ts';
import type { ItemGuard } from './stream-record.ts';
import { encodeVersion, type Version } from './version.ts';
import { vectorAttribute, vectorToAttribute, type VersionVector } from './vector.ts';

/**
 * Stamps a plain application write with a version. Conditions:
 *  - `attribute_exists(pk)`: the item may have been deleted since the record; UpdateItem must not recreate it.
 *  - `_rs_v = :seen` (or `attribute_not_exists(_rs_v)`): the item still carries the version the
 *    record left, i.e. no replicated change has landed on top of it since. If one has, the shipper
 *    reconciles from the item as it is instead.
 *  - with `guard` (a reconciling restamp), also `_rs_h = :h`: the content hash the shipper saw,
 *    so nothing regionsync wrote since is stamped over.
 * The hash stored is that of the write being stamped (`image`): if the application wrote again
 * before the stamp, the item's content no longer matches it, which is what says that a later
 * write is still on its way (its own record follows).
 * Removing the tombstone marker: an UpdateItem on a tombstone by an application re-creates the item.
 */
export function stampInput(args: {
  tableName: string;
  key: AttributeMap;
  keySchema: KeySchema;
  version: Version;
  /** The item's version attribute as the record left it (first attempt). */
  expectedVersion?: string | undefined;
  /** The item's version and content hash exactly as last read (a reconciling restamp). */
  guard?: ItemGuard;
  image: AttributeMap;
  ttlAttribute: string;
  /** Remove the TTL attribute even when it is the user's (a re-created item must not keep its tombstone's expiry). */
  clearTtl?: boolean;
  /**
   * The item's history with this write: what tells a later change whether it is concurrent.
   * Omitted: a compact stamp for an item with no room left for it (src/functions/shipper/oversize.ts);
   * the vector is removed, last-writer-wins converges on versions alone.
   */
  vector?: VersionVector;
}): UpdateItemCommandInput {
  const names: Record<string, string> = {
    '#pk': args.keySchema.partitionKey,
    '#v': META.version,
    '#o': META.origin,
    '#w': META.writer,
    '#vv': META.vector,
    '#h': META.contentHash,
    '#d': META.deleted,
  };
  const values: Record<string, AttributeValue> = {
    ':v': { S: encodeVersion(args.version) },
    ':w': { S: 'stamp' },
    ':h': { S: contentHash(args.image) },
  };
  // The vector beyond the version itself (vector.ts); none to keep: the attribute goes.
  const vector = args.vector ? vectorToAttribute(args.vector, encodeVersion(args.version)) : undefined;
  if (vector) values[':vv'] = vector;
  const seen = args.guard ? args.guard.version : args.expectedVersion;
  let condition = `attribute_exists(#pk) AND ${seen === undefined ? 'attribute_not_exists(#v)' : '#v = :seen'}`;
  if (seen !== undefined) values[':seen'] = { S: seen };
  if (args.guard) condition += ` AND ${guardHash(args.guard, values)}`;
  // A local write supersedes every concurrent sibling (custom strategy): they collapse into it.
  names['#sib'] = META.siblings;
  // `_rs_o` is no longer written (the version names its region): a stamp removes one an older release left.
  const remove = [...(vector ? [] : ['#vv']), '#d', '#sib', '#o'];
  // Only our own tombstone expiry attribute is cleared; a user-owned TTL attribute is the user's,
  // unless it is still the tombstone's expiry on a re-created item (`clearTtl`).
  if (args.ttlAttribute === META.expiresAt || args.clearTtl) {
    names['#x'] = args.ttlAttribute;
    remove.push('#x');
  }
  return {
    TableName: args.tableName,
    Key: fromWire(args.key),
    UpdateExpression: `SET #v = :v, #w = :w, #h = :h${vector ? ', #vv = :vv' : ''} REMOVE ${remove.join(', ')}`,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** `_rs_h = :seenHash`, or its absence: the content hash exactly as the shipper saw it. */
function guardHash(guard: ItemGuard, values: Record<string, AttributeValue>): string {
  if (guard.contentHash === undefined) return 'attribute_not_exists(#h)';
  values[':seenHash'] = { S: guard.contentHash };
  return '#h = :seenHash';
}

/**
 * Replaces a plainly deleted item by a versioned tombstone, so a late, older put from another
 * region cannot resurrect it. Without `guard`: `attribute_not_exists(pk)`, only while the item is
 * still deleted (if it was written again in between, that write is stamped on its own). With it:
 * the version and content hash the shipper saw, replacing exactly the state it decided to replace.
 */
export function tombstoneInput(args: {
  tableName: string;
  key: AttributeMap;
  keySchema: KeySchema;
  version: Version;
  expiresAt: number;
  ttlAttribute: string;
  guard?: ItemGuard;
  vector: VersionVector;
}): PutItemCommandInput {
  return stampedPutInput({
    ...args,
    item: { ...args.key, [META.deleted]: { BOOL: true }, [args.ttlAttribute]: { N: String(args.expiresAt) } },
  });
}

/**
 * Writes a whole item (content or tombstone) with this region's stamp. With `guard`: the item's
 * version and content hash exactly as the shipper last saw them (`_rs_v = :seen AND _rs_h = :seenHash`,
 * or their absence), so neither a replicated change nor an application write that came since is
 * overwritten. Without: `attribute_not_exists(pk)`, the item must still be absent.
 */
export function stampedPutInput(args: {
  tableName: string;
  item: AttributeMap;
  keySchema: KeySchema;
  version: Version;
  guard?: ItemGuard;
  vector: VersionVector;
}): PutItemCommandInput {
  const item = withContentHash({
    ...args.item,
    [META.version]: { S: encodeVersion(args.version) },
    [META.writer]: { S: 'stamp' },
    ...vectorAttribute(args.vector, encodeVersion(args.version)),
  });
  const common = { TableName: args.tableName, Item: fromWire(item), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const };
  if (args.guard === undefined) {
    return { ...common, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': args.keySchema.partitionKey } };
  }
  const values: Record<string, AttributeValue> = {};
  let condition = args.guard.version === undefined ? 'attribute_exists(#pk) AND attribute_not_exists(#v)' : '#v = :seen';
  if (args.guard.version !== undefined) values[':seen'] = { S: args.guard.version };
  condition += ` AND ${guardHash(args.guard, values)}`;
  const names: Record<string, string> = {
    '#v': META.version,
    '#h': META.contentHash,
    ...(args.guard.version === undefined ? { '#pk': args.keySchema.partitionKey } : {}),
  };
  return {
    ...common,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}

/**
 * Applies a replicated change: the whole item (or a tombstone) with its version.
 * `attribute_not_exists(_rs_v) OR _rs_v < :v`: only a strictly newer version replaces what is
 * stored. Versions are fixed-width strings, so DynamoDB's string `<` is the version order; an
 * equal version is a duplicate delivery and changes nothing; an older one is stale. A missing
 * version means the item has never been replicated (or is a plain write not yet stamped, which
 * then loses, and its stamp's condition fails, so both regions keep this change).
 * A failed condition costs one write unit and returns the item that blocked it: no read before write.
 */
export function applyInput(args: { tableName: string; change: Change; ttlAttribute: string; beyondHorizon?: boolean }): PutItemCommandInput {
  return {
    TableName: args.tableName,
    Item: fromWire(withContentHash(changeToItem(args.change, args.ttlAttribute))),
    // Beyond the tombstone horizon (older than a tombstone lives) only an item that is there can be
    // compared: an absent one may have been deleted and its tombstone purged, and must not come back.
    ConditionExpression: args.beyondHorizon ? '#v < :v' : 'attribute_not_exists(#v) OR #v < :v',
    ExpressionAttributeNames: { '#v': META.version },
    ExpressionAttributeValues: { ':v': { S: args.change.version } },
    // The replaced item tells whether this was a conflict (concurrent versions) at no extra cost.
    ReturnValues: 'ALL_OLD',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** The item a change describes, as the applier stores it (a replication writer marker, see echo-filter.ts). */
export function changeToItem(change: Change, ttlAttribute: string): AttributeMap {
  const meta: AttributeMap = {
    ...change.meta,
    [META.version]: { S: change.version },
    [META.writer]: { S: replicationWriterFor(change.version) },
  };
  if (change.op === 'put') return { ...change.item, ...meta };
  return { ...(change.item ?? change.key), ...meta, [META.deleted]: { BOOL: true }, [ttlAttribute]: { N: String(change.expiresAt ?? 0) } };
}

/** What the state functions need to know about a table. */
export function stateContext(settings: FunctionSettings): StateContext {
  return { key: settings.key, strategy: settings.strategy ?? { strategy: 'lww' }, ttlAttribute: settings.ttlAttribute };
}

/**
 * Writes a merged item state (`fields`, `merge`, `custom`) read a moment ago. The condition is the
 * optimistic lock: the lock read is still there (`_rs_lk = :lk`; every merged write puts the next
 * one), or, for an item no merge has written yet, its version read is (or it is still
 * unversioned, or still absent). If another write got in, the caller reads and merges again.
 * The lock counts up (1, 2, 3 …), so a record whose lock went forward at an unchanged version is
 * a merge by regionsync, and one whose lock went back is an application's stale copy (stream-record.ts).
 */
export function statePutInput(settings: Pick<FunctionSettings, 'tableName' | 'key'>, item: AttributeMap, read: AttributeMap | undefined): PutItemCommandInput {
  const lock = read?.[META.lock]?.S;
  const previous = Number(lock);
  const next = String(Number.isSafeInteger(previous) && previous > 0 ? previous + 1 : 1);
  const condition = stateCondition(settings.key, read);
  return {
    TableName: settings.tableName,
    Item: fromWire(withContentHash({ ...item, [META.lock]: { S: next } })),
    ConditionExpression: condition.expression,
    ExpressionAttributeNames: condition.names,
    ...(condition.values ? { ExpressionAttributeValues: condition.values } : {}),
  };
}

/** A condition expression with its placeholders. */
export interface Condition {
  readonly expression: string;
  readonly names: Record<string, string>;
  /** @default none (the expression has no value placeholders) */
  readonly values?: Record<string, AttributeValue>;
}

/**
 * "The item is still as read" for merged states (see statePutInput): the lock read, else the
 * version read with no lock, else still unversioned, else still absent. Shared by the merged write
 * and by the removal of a merged item whose state became a tombstone (src/functions/shared/state-store.ts).
 */
export function stateCondition(key: KeySchema, read: AttributeMap | undefined): Condition {
  if (!read) return { expression: 'attribute_not_exists(#pk)', names: { '#pk': key.partitionKey } };
  const lock = read[META.lock]?.S;
  if (lock !== undefined) return { expression: '#lk = :lk', names: { '#lk': META.lock }, values: { ':lk': { S: lock } } };
  const readVersion = read[META.version]?.S;
  if (readVersion === undefined) {
    return {
      expression: 'attribute_exists(#pk) AND attribute_not_exists(#v) AND attribute_not_exists(#lk)',
      names: { '#pk': key.partitionKey, '#v': META.version, '#lk': META.lock },
    };
  }
  return { expression: '#v = :read AND attribute_not_exists(#lk)', names: { '#v': META.version, '#lk': META.lock }, values: { ':read': { S: readVersion } } };
}
