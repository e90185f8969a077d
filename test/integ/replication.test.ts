/**
 * The whole path on moto, deployed by the real CDK deploy and run by the local runtime: plain
 * SDK writes in either region reach the other, concurrent writes to one key end identical, and
 * replication does not echo back and forth.
 */
import { regionOfVersion } from '../../src/core/version.ts';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { META } from '../../src/core/contract.ts';
import { dynamodb } from '../../src/ops/aws.ts';
import { deploy } from '../../dev/cli/deploy.ts';
import { waitConverged } from '../../dev/cli/demo.ts';
import type { Running } from '../../dev/cli/up.ts';
import { eventually } from '../support/eventually.ts';
import { readTombstoneRow } from '../support/tombstones.ts';
import { SHARED_APP, SHARED_CONFIG, sharedDeployment, sharedTable, startSharedRuntime } from '../support/shared-deployment.ts';
import { sleep } from '../../src/core/concurrency.ts';

// Its own table of the shared deployment (fixtures/shared.config.ts); only its functions run here.
const TABLE = 'integ2_orders';
const [US, EU] = ['us-east-1', 'eu-west-1'] as const;

let endpoint: string;
let running: Running;
const silent = () => undefined;

const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: id }, sk: { N: '1' } });
const get = async (region: string, id: string) =>
  (await dynamodb({ endpoint }, region).send(new GetItemCommand({ TableName: TABLE, Key: key(id), ConsistentRead: true }))).Item;

beforeAll(async () => {
  const shared = await sharedDeployment();
  endpoint = shared.endpoint;
  running = await startSharedRuntime({ endpoint, config: shared.config, tables: [TABLE] });
});

afterAll(async () => {
  await running?.stop();
});

describe('replication between two regions on moto', () => {
  it('a plain PutItem in either region appears in the other with its version', async () => {
    // Act
    await dynamodb({ endpoint }, US).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('from-us'), colour: { S: 'red' } } }));
    await dynamodb({ endpoint }, EU).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('from-eu'), colour: { S: 'blue' } } }));
    // Assess
    const inEu = await eventually(
      () => get(EU, 'from-us'),
      (i) => i !== undefined,
    );
    const inUs = await eventually(
      () => get(US, 'from-eu'),
      (i) => i !== undefined,
    );
    expect(inEu?.colour).toEqual({ S: 'red' });
    // The version names the region that wrote it; no separate origin attribute.
    expect(regionOfVersion(inEu?.[META.version]?.S)).toBe(US);
    expect(inEu?.[META.origin]).toBeUndefined();
    expect(inUs?.colour).toEqual({ S: 'blue' });
    expect(inUs?.[META.version]?.S).toMatch(/\.eu-west-1$/);
  });

  it('UpdateItem and DeleteItem replicate; a deleted item is absent in both regions, its versioned tombstone kept in the tombstone table', async () => {
    // Prepare
    await dynamodb({ endpoint }, US).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('upd'), n: { N: '1' } } }));
    await dynamodb({ endpoint }, US).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('del'), n: { N: '1' } } }));
    await eventually(
      () => get(EU, 'del'),
      (i) => i !== undefined,
    );
    await eventually(
      () => get(EU, 'upd'),
      (i) => i !== undefined,
    );
    // Act
    await dynamodb({ endpoint }, EU).send(
      new UpdateItemCommand({ TableName: TABLE, Key: key('upd'), UpdateExpression: 'SET n = n + :one', ExpressionAttributeValues: { ':one': { N: '1' } } }),
    );
    await dynamodb({ endpoint }, EU).send(new DeleteItemCommand({ TableName: TABLE, Key: key('del') }));
    // Assess
    const updated = await eventually(
      () => get(US, 'upd'),
      (i) => i?.n?.N === '2',
    );
    expect(updated?.n).toEqual({ N: '2' });
    await eventually(
      () => get(US, 'del'),
      (i) => i === undefined,
    );
    expect(await get(EU, 'del')).toBeUndefined();
    for (const region of [US, EU]) {
      const row = await readTombstoneRow(endpoint, region, SHARED_APP, TABLE, key('del'));
      expect(row?.[META.deleted]).toEqual({ BOOL: true });
      expect(row?.[META.version]?.S).toMatch(/\.eu-west-1$/);
    }
  });

  it('concurrent writes to the same keys in both regions end identical in both', async () => {
    // Act
    const ids = Array.from({ length: 10 }, (_, i) => `race-${i}`);
    await Promise.all(
      ids.flatMap((id) =>
        [US, EU].map((region) => dynamodb({ endpoint }, region).send(new PutItemCommand({ TableName: TABLE, Item: { ...key(id), writer: { S: region } } }))),
      ),
    );
    // Assess
    const comparison = await waitConverged({ endpoint }, sharedTable(running.config, TABLE), 30_000);
    expect(comparison.divergent).toEqual([]);
    for (const id of ids) expect((await get(US, id))?.writer).toEqual((await get(EU, id))?.writer);
  });

  it('replication does not echo: once converged, no more changes flow', async () => {
    // Prepare
    await dynamodb({ endpoint }, US).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('echo'), v: { N: '1' } } }));
    await eventually(
      () => get(EU, 'echo'),
      (i) => i !== undefined,
    );
    await sleep(2000);
    const before = running.runtime!.stats().reduce((n, s) => n + s.invocations, 0);
    // Act: wait as long again
    await sleep(2000);
    // Assess
    const after = running.runtime!.stats().reduce((n, s) => n + s.invocations, 0);
    expect(after).toBe(before);
  });

  it("the applier's writes never invoke the target region's shipper: the deployed event filter drops their echoes", async () => {
    // Prepare
    const euStream = () => running.runtime!.stats().find((s) => s.region === EU && s.source === 'dynamodb')!;
    const before = { ...euStream() };
    const ids = Array.from({ length: 5 }, (_, i) => `filtered-${i}`);
    // Act
    await Promise.all(ids.map((id) => dynamodb({ endpoint }, US).send(new PutItemCommand({ TableName: TABLE, Item: { ...key(id), v: { N: '1' } } }))));
    for (const id of ids)
      await eventually(
        () => get(EU, id),
        (i) => i !== undefined,
      );
    await eventually(
      async () => euStream().filtered - before.filtered,
      (n) => n >= ids.length,
      5_000,
    );
    // Assess
    const after = euStream();
    expect(after.filtered - before.filtered).toBeGreaterThanOrEqual(ids.length);
    expect(after.invocations).toBe(before.invocations);
  });

  it('redeploying to an endpoint that already has the stacks succeeds', async () => {
    // Act + Assess: the shared app again, in one of its regions (each region's stack deploys alike)
    await expect(deploy({ endpoint, configFile: SHARED_CONFIG, regions: [US], log: silent })).resolves.toMatchObject({
      account: expect.stringMatching(/^\d{12}$/),
    });
  });
});
