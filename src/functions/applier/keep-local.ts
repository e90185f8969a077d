/**
 * Last-writer-wins apply for a pair of regions that do not share every attribute (selective
 * replication): the whole-item PutItem must not overwrite or remove the target's own values of
 * the attributes that do not travel between them. So read the item, put the incoming item with
 * the stored local-only attributes, conditional on the version still being the one read (and
 * older than the incoming one). Costs one consistent read per change on such pairs only.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  type DynamoDBClient,
  type PutItemCommandInput,
  type PutItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { fromWire, toWire } from '../../core/codec.ts';
import { replicationWriterFor } from '../../core/echo-filter.ts';
import { META } from '../../core/contract.ts';
import { withLocalAttributes } from '../../core/selection.ts';
import { withContentHash } from '../../core/content-hash.ts';

const MAX_ATTEMPTS = 8;

/**
 * Sends `input` (from applyInput) keeping the stored item's local-only attributes. Throws
 * ConditionalCheckFailedException, like a plain apply, only when an equal or newer version is stored.
 */
export async function putKeepingLocal(
  dynamodb: DynamoDBClient,
  input: PutItemCommandInput,
  key: Record<string, unknown>,
  isLocal: (name: string) => boolean,
): Promise<PutItemCommandOutput> {
  const incoming = toWire(input.Item!);
  const version = incoming[META.version]!.S!;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stored = await dynamodb
      .send(new GetItemCommand({ TableName: input.TableName, Key: fromWire(key), ConsistentRead: true }))
      .then((o) => (o.Item ? toWire(o.Item) : undefined));
    const storedVersion = stored?.[META.version]?.S;
    const guard = storedVersion !== undefined ? '#v = :seen' : 'attribute_not_exists(#v)';
    try {
      return await dynamodb.send(
        new PutItemCommand({
          ...input,
          // The marker other than the stored one: the shipper's event filter then drops the echo.
          Item: fromWire(withContentHash({ ...withLocalAttributes(incoming, stored, isLocal), [META.writer]: { S: replicationWriterFor(version, stored) } })),
          ConditionExpression: `(${input.ConditionExpression}) AND ${guard}`,
          ExpressionAttributeValues: { ...input.ExpressionAttributeValues, ...(storedVersion !== undefined ? { ':seen': { S: storedVersion } } : {}) },
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      const now = e.Item ? toWire(e.Item)[META.version]?.S : undefined;
      // Equal or newer already there: a genuine stale change. Otherwise the item moved between read and write: read again.
      if (now !== undefined && now >= version) throw e;
    }
  }
  throw new Error(`item kept changing while a change was applied keeping its local attributes; the message will be retried`);
}
