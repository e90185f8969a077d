/**
 * Issue 15 on moto, through the real deploy and the local runtime: an application that knows
 * nothing of regionsync (plain SDK calls, the conditional create every ORM uses) sees deleted
 * items as absent in every region, counts live items only, and can create a deleted key again.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamodb } from '../../src/ops/aws.ts';
import type { Running } from '../../dev/cli/up.ts';
import { LWW_LIVE_ITEM_METADATA, META } from '../../src/core/contract.ts';
import { eventually } from '../support/eventually.ts';
import { readTombstoneRow } from '../support/tombstones.ts';
import { sharedDeployment, startSharedRuntime } from '../support/shared-deployment.ts';
import { sleep } from '../../src/core/concurrency.ts';

const [US, EU] = ['us-east-1', 'eu-west-1'] as const;
const REGIONS = [US, EU] as const;
/** Last writer wins, and a merging strategy (whose tombstones carry merge state). */
const TABLES = ['trans_orders', 'trans_merged'] as const;
const run = Date.now().toString(36);

let endpoint: string;
let running: Running;
let appName: string;
const db = (region: string) => dynamodb({ endpoint }, region);
const key = (customer: string, order: number): Record<string, AttributeValue> => ({ customer: { S: `${run}-${customer}` }, order: { N: String(order) } });
let TABLE: string = TABLES[0];
const get = async (region: string, k: Record<string, AttributeValue>) =>
  (await db(region).send(new GetItemCommand({ TableName: TABLE, Key: k, ConsistentRead: true }))).Item;

/** The "create" of every ORM: PutItem only if nothing is stored under the key. */
async function create(region: string, item: Record<string, AttributeValue>): Promise<'created' | 'exists'> {
  try {
    await db(region).send(new PutItemCommand({ TableName: TABLE, Item: item, ConditionExpression: 'attribute_not_exists(customer)' }));
    return 'created';
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return 'exists';
    throw e;
  }
}

async function counts(region: string, customer: string): Promise<{ query: number; scan: number }> {
  const c = { ':c': { S: `${run}-${customer}` } };
  const query = await db(region).send(
    new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: c, Select: 'COUNT', ConsistentRead: true }),
  );
  const scan = await db(region).send(
    new ScanCommand({ TableName: TABLE, FilterExpression: 'customer = :c', ExpressionAttributeValues: c, Select: 'COUNT', ConsistentRead: true }),
  );
  return { query: query.Count ?? -1, scan: scan.Count ?? -1 };
}

beforeAll(async () => {
  const shared = await sharedDeployment();
  endpoint = shared.endpoint;
  appName = shared.config.appName;
  running = await startSharedRuntime({ endpoint, config: shared.config, tables: [...TABLES] });
});

afterAll(async () => {
  await running?.stop();
});

describe.each(TABLES)('issue 15: an unmodified application on a replicated table (%s)', (table) => {
  beforeAll(() => {
    TABLE = table;
  });

  it('creates, deletes, counts and re-creates as on a single-region table, in every region', async () => {
    // Prepare: five orders created in us-east-1, everywhere
    for (let order = 1; order <= 5; order++) expect(await create(US, { ...key('c1', order), status: { S: 'new' } })).toBe('created');
    await eventually(
      () => counts(EU, 'c1'),
      (c) => c.query === 5,
      30_000,
      200,
    );

    // Act: eu-west-1 deletes two of them
    await db(EU).send(new DeleteItemCommand({ TableName: TABLE, Key: key('c1', 2) }));
    await db(EU).send(new DeleteItemCommand({ TableName: TABLE, Key: key('c1', 4) }));

    // Assess: gone at once where deleted, and everywhere once replicated; counts are of live items
    expect(await get(EU, key('c1', 2))).toBeUndefined();
    await eventually(
      () => get(US, key('c1', 4)),
      (item) => item === undefined,
      30_000,
      200,
    );
    for (const region of REGIONS) {
      expect(await get(region, key('c1', 2))).toBeUndefined();
      expect(await get(region, key('c1', 4))).toBeUndefined();
      expect(await counts(region, 'c1')).toEqual({ query: 3, scan: 3 });
    }
    // The tombstones are kept where the application does not look, versioned (no resurrection).
    const row = await readTombstoneRow(endpoint, US, appName, TABLE, key('c1', 2));
    expect(row?.[META.deleted]).toEqual({ BOOL: true });
    expect(row?.[META.version]?.S).toMatch(/eu-west-1$/);

    // Act: the conditional create of a deleted key succeeds, in the other region, and replicates
    expect(await create(US, { ...key('c1', 2), status: { S: 'again' } })).toBe('created');
    await eventually(
      () => get(EU, key('c1', 2)),
      (item) => item?.status?.S === 'again',
      30_000,
      200,
    );
    for (const region of REGIONS) expect(await counts(region, 'c1')).toEqual({ query: 4, scan: 4 });
  });

  it('delete then re-create at once, in each region in turn: the re-create wins everywhere and nothing shows a tombstone', async () => {
    // Prepare
    const k = key('c2', 1);
    expect(await create(US, { ...k, v: { S: 'first' } })).toBe('created');
    await eventually(
      () => get(EU, k),
      (item) => item?.v?.S === 'first',
      30_000,
      200,
    );
    for (const region of REGIONS) {
      // Act: the application deletes and immediately creates the key again
      await db(region).send(new DeleteItemCommand({ TableName: TABLE, Key: k }));
      expect(await create(region, { ...k, v: { S: `re-created in ${region}` } })).toBe('created');
      // Assess
      for (const r of REGIONS) {
        const item = await eventually(
          () => get(r, k),
          (i) => i?.v?.S === `re-created in ${region}`,
          30_000,
          200,
        );
        expect(item?.[META.deleted]).toBeUndefined();
      }
    }
    // What the application sees besides its own attributes: exactly the documented metadata.
    if (TABLE === 'trans_orders')
      for (const region of REGIONS) {
        const item = (await get(region, k))!;
        const extra = Object.keys(item).filter((name) => !['customer', 'order', 'v'].includes(name));
        expect(extra.every((name) => LWW_LIVE_ITEM_METADATA.includes(name))).toBe(true);
      }
  });

  // Last writer wins only: the merge table's late-update case is the property tests' (strategies.property.test.ts), and its ~5 s of waits would cost the test budget.
  if (table === 'trans_orders') {
    it('a delete of an item created in the other region, then an older update arriving late, leaves it absent', async () => {
      // Prepare: an order everywhere
      const k = key('c3', 1);
      expect(await create(EU, { ...k, v: { S: 'one' } })).toBe('created');
      await eventually(
        () => get(US, k),
        (item) => item?.v?.S === 'one',
        30_000,
        200,
      );
      // Act: eu-west-1 updates it, us-east-1 deletes it 1.5 s later (whichever replicates first)
      await db(EU).send(new PutItemCommand({ TableName: TABLE, Item: { ...k, v: { S: 'two' } } }));
      await sleep(1500);
      await db(US).send(new DeleteItemCommand({ TableName: TABLE, Key: k }));
      // Assess: absent everywhere, and stays absent
      for (const region of REGIONS)
        await eventually(
          () => get(region, k),
          (item) => item === undefined,
          30_000,
          200,
        );
      await sleep(2000);
      for (const region of REGIONS) expect(await get(region, k)).toBeUndefined();
    });
  }
});
