/** Reads, as a test sees it, the tombstone row regionsync keeps for a deleted key (docs/deletes.md). */
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { dynamodb } from '../../src/ops/aws.ts';
import { META, tombstoneTableName } from '../../src/core/contract.ts';
import { tombstoneRowKey } from '../../src/core/tombstones.ts';

/** The row of `key` of the logical table `table` in the app's tombstone table of `region`, if any. */
export async function readTombstoneRow(endpoint: string, region: string, appName: string, table: string, key: Record<string, AttributeValue>) {
  const out = await dynamodb({ endpoint }, region).send(
    new GetItemCommand({ TableName: tombstoneTableName(appName), Key: { [META.tombstoneKey]: { S: tombstoneRowKey(table, key) } }, ConsistentRead: true }),
  );
  return out.Item;
}
