/**
 * Issue 14 on moto, through the real deploy and the local runtime: an application that knows
 * nothing of regionsync writes with plain SDK calls (PutItem, UpdateItem, conditional creates,
 * whole-item read-modify-write, TransactWriteItems, BatchWriteItem), and every acknowledged write
 * either survives in both regions or loses to a write that really came later.
 */
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamodb } from '../../src/ops/aws.ts';
import type { Running } from '../../dev/cli/up.ts';
import { eventually } from '../support/eventually.ts';
import { sharedDeployment, startSharedRuntime } from '../support/shared-deployment.ts';
import { sleep } from '../../src/core/concurrency.ts';

const [US, EU] = ['us-east-1', 'eu-west-1'] as const;
const ITEMS = 'wpat_items';
const FIELDS = 'wpat_fields';
const run = Date.now().toString(36);

let endpoint: string;
let running: Running;
const db = (region: string) => dynamodb({ endpoint }, region);
const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: `${run}-${id}` } });
const get = async (region: string, id: string, table = ITEMS) =>
  (await db(region).send(new GetItemCommand({ TableName: table, Key: key(id), ConsistentRead: true }))).Item;
/** Waits until both regions hold `value` in `attribute` of every id (or time runs out), and returns what each holds. */
async function settled(
  ids: readonly string[],
  attribute: string,
  expected: (id: string) => string | undefined,
  table = ITEMS,
): Promise<Record<string, readonly [string | undefined, string | undefined]>> {
  const read = async () =>
    Object.fromEntries(
      await Promise.all(ids.map(async (id) => [id, [(await get(US, id, table))?.[attribute]?.S, (await get(EU, id, table))?.[attribute]?.S]] as const)),
    );
  return eventually(read, (all) => ids.every((id) => all[id]![0] === expected(id) && all[id]![1] === expected(id)), 60_000, 300);
}

beforeAll(async () => {
  const shared = await sharedDeployment();
  endpoint = shared.endpoint;
  running = await startSharedRuntime({ endpoint, config: shared.config, tables: [ITEMS, FIELDS] });
});

afterAll(async () => {
  await running?.stop();
});

describe('finding 1 on the emulator: a later plain write beats an earlier one from the other region', () => {
  it('16 keys written in eu-west-1, then 300 ms later in us-east-1: us-east-1 wins every key in both regions', async () => {
    // Prepare
    const ids = Array.from({ length: 16 }, (_, i) => `later-${i}`);
    // Act
    await Promise.all(ids.map((id) => db(EU).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key(id), v: { S: 'eu, earlier' } } }))));
    await sleep(300);
    await Promise.all(ids.map((id) => db(US).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key(id), v: { S: 'us, later' } } }))));
    // Assess
    const held = await settled(ids, 'v', () => 'us, later');
    expect(held).toEqual(Object.fromEntries(ids.map((id) => [id, ['us, later', 'us, later']])));
  });
});

describe('finding 3 on the emulator: whole-item read-modify-write with stale metadata', () => {
  for (const table of [ITEMS, FIELDS]) {
    it(`${table}: a PutItem of what the application read, after a change from the other region landed, replicates`, async () => {
      // Prepare: 5 items in both regions; the application in us-east-1 reads them
      const ids = Array.from({ length: 5 }, (_, i) => `rmw-${table}-${i}`);
      await Promise.all(ids.map((id) => db(US).send(new PutItemCommand({ TableName: table, Item: { ...key(id), v: { S: 'v1' }, other: { S: 'kept' } } }))));
      await settled(ids, 'v', () => 'v1', table);
      const read = await Promise.all(ids.map((id) => get(US, id, table)));
      // A change from eu-west-1 lands in us-east-1 between the GetItem and the PutItem
      await Promise.all(
        ids.map((id) =>
          db(EU).send(
            new UpdateItemCommand({ TableName: table, Key: key(id), UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { S: 'v2 from eu' } } }),
          ),
        ),
      );
      await settled(ids, 'v', () => 'v2 from eu', table);
      await sleep(50);
      // Act: the whole item put back, `_rs_*` attributes and all, one attribute changed
      await Promise.all(read.map((item) => db(US).send(new PutItemCommand({ TableName: table, Item: { ...item!, v: { S: 'v3 from us, last' } } }))));
      // Assess
      const held = await settled(ids, 'v', () => 'v3 from us, last', table);
      expect(held).toEqual(Object.fromEntries(ids.map((id) => [id, ['v3 from us, last', 'v3 from us, last']])));
    });
  }
});

describe('what ORMs and plain applications do', () => {
  it('a conditional create, a TransactWriteItems and a BatchWriteItem all replicate', async () => {
    // Act: a create that succeeds, one that fails (not acknowledged: nothing to replicate)
    await db(US).send(
      new PutItemCommand({ TableName: ITEMS, Item: { ...key('create'), v: { S: 'created' } }, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
    await expect(
      db(US).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key('create'), v: { S: 'again' } }, ConditionExpression: 'attribute_not_exists(pk)' })),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await db(EU).send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: ITEMS, Item: { ...key('tx-a'), v: { S: 'tx put' } } } },
          { Update: { TableName: ITEMS, Key: key('tx-b'), UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { S: 'tx update' } } } },
        ],
      }),
    );
    await db(US).send(
      new BatchWriteItemCommand({
        RequestItems: { [ITEMS]: ['b0', 'b1', 'b2'].map((id) => ({ PutRequest: { Item: { ...key(id), v: { S: `batch ${id}` } } } })) },
      }),
    );
    // Assess
    const expected: Record<string, string> = { create: 'created', 'tx-a': 'tx put', 'tx-b': 'tx update', b0: 'batch b0', b1: 'batch b1', b2: 'batch b2' };
    const held = await settled(Object.keys(expected), 'v', (id) => expected[id]);
    expect(held).toEqual(Object.fromEntries(Object.entries(expected).map(([id, v]) => [id, [v, v]])));
  });
});
