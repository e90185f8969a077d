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
 */
import { ConditionalCheckFailedException, DeleteItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../core/change.ts';
import { fromWire, toWire } from '../../core/codec.ts';
import { META } from '../../core/contract.ts';
import type { Condition } from '../../core/writes.ts';
import { REMOVAL_WRITER, tombstoneRowKey } from '../../core/tombstones.ts';

/**
 * Which item a removal may take: older than a tombstone, exactly one version and content, or (a
 * merged state, src/functions/shared/state-store.ts) still exactly as read (core/writes.ts stateCondition).
 */
export type RemovalCondition =
  | { readonly olderThan: string }
  | { readonly exactly: { readonly version: string; readonly contentHash?: string } }
  | { readonly asRead: Condition };

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
  } else if ('olderThan' in condition) {
    names['#v'] = META.version;
    expression = '#v < :v';
    values[':v'] = { S: condition.olderThan };
  } else {
    names['#v'] = META.version;
    expression = '#v = :v';
    values[':v'] = { S: condition.exactly.version };
    names['#h'] = META.contentHash;
    if (condition.exactly.contentHash === undefined) expression += ' AND attribute_not_exists(#h)';
    else {
      expression += ' AND #h = :h';
      values[':h'] = { S: condition.exactly.contentHash };
    }
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

/** Mark, record the time on the tombstone row, delete. Returns the item removed, or undefined. */
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
  return (await deleteMarked(dynamodb, tableName, key, marked)) ? marked : undefined;
}
