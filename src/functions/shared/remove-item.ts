/**
 * How regionsync removes an item from the application's table (core/tombstones.ts): the second
 * step of a delete (the applier's of a replicated one, the shipper's of a local one) and taking
 * back a put that a newer tombstone beats. Shared by the shipper and the applier.
 *
 * A removal first marks the item (`_rs_w = rm`, content and version unchanged), then deletes it
 * conditional on the mark. The mark is what the item's REMOVE record shows the shipper: a removal
 * of regionsync's own, not an application's delete, so it is neither shipped nor written as a new
 * tombstone. Without it the shipper could only guess from versions, and a guess drops an
 * application's delete that came after a third region's write (found by the tombstone property tests).
 *
 * Between the mark and the delete, the key's tombstone row records the time (`_rs_at`): a local
 * write older than that may have been removed by regionsync (or replaced by a replicated change
 * that was), and its stamp must then weigh it against the tombstone rather than take its absence
 * for the application's own delete (src/functions/shipper/shipper.ts).
 *
 * A removal for a tombstone (`olderThan`) does not stop at the item it marked. Only a replicated
 * put that finds the item absent reads the tombstone row afterwards (applier.ts checkTombstone); a
 * put that lands on an item, a marked one or one another put left a moment before and has not
 * checked yet, finds an item and reads nothing. Such a put lands between this removal's mark and
 * its delete, or replaces what a put taken back was about to remove, and would stay in this region
 * alone while the tombstone wins everywhere else (the chaos soak's divergent soak_items key). So a
 * removal whose delete found the item changed marks again whatever older than the tombstone
 * stands there now, until the key holds nothing older: the row is written before any removal
 * deletes, so a put landing after that last look finds the item absent and reads the row itself.
 */
import { ConditionalCheckFailedException, DeleteItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../core/change.ts';
import { fromWire, toWire } from '../../core/codec.ts';
import { META } from '../../core/contract.ts';
import type { Condition } from '../../core/writes.ts';
import { REMOVAL_WRITER, tombstoneRowKey } from '../../core/tombstones.ts';

/**
 * Which item a removal may take: older than a tombstone, or (a merged state,
 * src/functions/shared/state-store.ts) still exactly as read (core/writes.ts stateCondition).
 */
export type RemovalCondition = { readonly olderThan: string } | { readonly asRead: Condition };

/**
 * Rounds of mark and delete one removal makes while writes keep landing between the two; beyond
 * them it fails, and its message (or stream batch) is retried, which removes again.
 */
const MAX_REMOVAL_ROUNDS = 8;

/** The key's row in the region's tombstone table, whose `_rs_at` a removal moves to its own time. */
export interface TombstoneRowRef {
  readonly tombstoneTable: string;
  readonly logicalTable: string;
  readonly now: () => number;
}

/**
 * Marks the item for removal if the condition holds; returns it as marked, or undefined.
 * `olderThan` (`_rs_v < :v`): any versioned item older than the tombstone, an unstamped write
 * carrying a stale version too (its own record puts it back if it was the later write). An item
 * without a version is never taken: its stamp reads the tombstone.
 */
export async function markForRemoval(
  dynamodb: DynamoDBClient,
  tableName: string,
  key: AttributeMap,
  condition: RemovalCondition,
): Promise<AttributeMap | undefined> {
  // Only the placeholders the expressions use: DynamoDB refuses an unused one (ValidationException).
  const names: Record<string, string> = { '#w': META.writer };
  const values: Record<string, AttributeValue> = { ':rm': { S: REMOVAL_WRITER } };
  let expression: string;
  if ('asRead' in condition) {
    expression = condition.asRead.expression;
    Object.assign(names, condition.asRead.names);
    Object.assign(values, condition.asRead.values ?? {});
  } else {
    // `_rs_v < :v`: every versioned item the tombstone beats, whoever wrote it.
    names['#v'] = META.version;
    expression = '#v < :v';
    values[':v'] = { S: condition.olderThan };
  }
  try {
    const out = await dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: fromWire(key),
        UpdateExpression: 'SET #w = :rm',
        ConditionExpression: expression,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toWire(out.Attributes ?? {});
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return undefined;
    throw e;
  }
}

/** Deletes the marked item while it is still exactly as marked (a write that came in between stays). Returns whether it did. */
export async function deleteMarked(dynamodb: DynamoDBClient, tableName: string, key: AttributeMap, marked: AttributeMap): Promise<boolean> {
  const version = marked[META.version];
  // A merged state may remove an application's write not stamped yet (its fold puts it back if it was the later one).
  const versionCondition = version ? '#v = :v' : 'attribute_not_exists(#v)';
  try {
    await dynamodb.send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: fromWire(key),
        ConditionExpression: `#w = :rm AND ${versionCondition}`,
        ExpressionAttributeNames: { '#w': META.writer, '#v': META.version },
        ExpressionAttributeValues: { ':rm': { S: REMOVAL_WRITER }, ...(version ? { ':v': version } : {}) },
      }),
    );
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

/** Moves the tombstone row's `_rs_at` to now (a removal is about to happen). A missing row is left missing. */
export async function touchTombstone(dynamodb: DynamoDBClient, row: TombstoneRowRef, key: AttributeMap): Promise<void> {
  try {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: row.tombstoneTable,
        Key: { [META.tombstoneKey]: { S: tombstoneRowKey(row.logicalTable, key) } },
        UpdateExpression: 'SET #at = :now',
        ConditionExpression: 'attribute_exists(#tk)',
        ExpressionAttributeNames: { '#at': META.tombstoneWrittenAt, '#tk': META.tombstoneKey },
        ExpressionAttributeValues: { ':now': { N: String(Math.round(row.now())) } },
      }),
    );
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}

/**
 * Mark, record the time on the tombstone row, delete; for a tombstone (`olderThan`), again while
 * the delete finds a write landed since the mark (see above). Returns the item removed last, or undefined.
 */
export async function removeItem(
  dynamodb: DynamoDBClient,
  tableName: string,
  key: AttributeMap,
  condition: RemovalCondition,
  row: TombstoneRowRef,
): Promise<AttributeMap | undefined> {
  const marked = await markForRemoval(dynamodb, tableName, key, condition);
  if (!marked) return undefined;
  await touchTombstone(dynamodb, row, key);
  if ('olderThan' in condition) return removeMarkedAndOlder(dynamodb, tableName, key, marked, condition.olderThan, row);
  return (await deleteMarked(dynamodb, tableName, key, marked)) ? marked : undefined;
}

/**
 * The delete step of a removal for a tombstone at `olderThan`, whose row is written already:
 * deletes `marked` (if any); if a write replaced it since the mark, marks whatever older than the
 * tombstone stands there now (`_rs_v < :v`, markForRemoval) and deletes that, until the delete
 * succeeds or the key holds nothing older (absent, newer, or a local write without a version,
 * which its stamp weighs against the row). A put landing after that finds the item absent and
 * reads the row itself (see above). Returns the item removed last, or undefined.
 */
export async function removeMarkedAndOlder(
  dynamodb: DynamoDBClient,
  tableName: string,
  key: AttributeMap,
  marked: AttributeMap | undefined,
  olderThan: string,
  row: TombstoneRowRef,
): Promise<AttributeMap | undefined> {
  for (let round = 0; marked && round < MAX_REMOVAL_ROUNDS; round++) {
    if (await deleteMarked(dynamodb, tableName, key, marked)) return marked;
    // The item changed between the mark and the delete: a put landed on it without reading the row.
    marked = await markForRemoval(dynamodb, tableName, key, { olderThan });
    // The row's time follows every mark (a local write removed here may be the later one: see above).
    if (marked) await touchTombstone(dynamodb, row, key);
  }
  if (marked) throw new Error(`item kept changing while regionsync removed it for a tombstone at ${olderThan}; the removal will be retried`);
  return undefined;
}
