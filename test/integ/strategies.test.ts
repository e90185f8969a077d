/**
 * Every conflict strategy on moto, 3 regions, through the real deploy and the local runtime:
 * concurrent writes through the plain SDK and through the client helper end identical in every
 * region, with each strategy's promise kept, and the conflicts are in the conflict log.
 */
import { GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { META, tombstoneTableName } from '../../src/core/contract.ts';
import { tombstoneRowKey } from '../../src/core/tombstones.ts';
import { dynamodb } from '../../src/ops/aws.ts';
import { listConflicts } from '../../src/cli/conflicts.ts';
import { waitConverged } from '../../dev/cli/demo.ts';
import type { Running } from '../../dev/cli/up.ts';
import { RegionSyncClient } from '../../src/client/index.ts';
import type { ResolvedTableConfig } from '../../src/infra/config/schema.ts';
import { resolveDocument } from '../../resolvers/documents.ts';
import { SHARED_APP, sharedDeployment, sharedTable, startSharedRuntime } from '../support/shared-deployment.ts';

// Its own tables of the shared deployment (fixtures/shared.config.ts); only their functions run here.
const TABLES = ['integ4_lww', 'integ4_fields', 'integ4_merge', 'integ4_custom'];
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2'] as const;

let endpoint: string;
let running: Running;
const table = (name: string): ResolvedTableConfig => sharedTable(running.config, name);
const ddb = (region: string) => dynamodb({ endpoint }, region);
const key = (id: string): Record<string, AttributeValue> => ({ id: { S: id } });

async function converged(name: string) {
  const comparison = await waitConverged({ endpoint }, table(name), 45_000);
  expect(comparison.divergent, JSON.stringify(comparison.divergent, null, 1).slice(0, 3000)).toEqual([]);
}

beforeAll(async () => {
  const shared = await sharedDeployment();
  endpoint = shared.endpoint;
  running = await startSharedRuntime({ endpoint, config: shared.config, tables: TABLES });
});

afterAll(async () => {
  await running?.stop();
});

describe('conflict strategies on moto, 3 regions', () => {
  it('lww: concurrent plain puts in all regions end identical, and the conflict log names both sides', async () => {
    // Act
    await Promise.all(REGIONS.map((r) => ddb(r).send(new PutItemCommand({ TableName: 'integ4_lww', Item: { ...key('race'), writer: { S: r } } }))));
    // Assess
    await converged('integ4_lww');
    const conflicts = await listConflicts({ endpoint }, SHARED_APP, 'integ4_lww', REGIONS, 50);
    expect(conflicts.length).toBeGreaterThan(0);
    expect(conflicts[0]!.strategy).toBe('lww');
    expect(conflicts[0]!.local.version).not.toEqual(conflicts[0]!.incoming.version);
  });

  it('fields: concurrent updates of different attributes in different regions both survive', async () => {
    // Prepare
    await ddb(REGIONS[0]).send(new PutItemCommand({ TableName: 'integ4_fields', Item: { ...key('u1'), email: { S: 'old@x' }, city: { S: 'Paris' } } }));
    await converged('integ4_fields');
    // Act
    await Promise.all([
      ddb(REGIONS[1]).send(
        new UpdateItemCommand({
          TableName: 'integ4_fields',
          Key: key('u1'),
          UpdateExpression: 'SET email = :e',
          ExpressionAttributeValues: { ':e': { S: 'new@x' } },
        }),
      ),
      ddb(REGIONS[2]).send(
        new UpdateItemCommand({
          TableName: 'integ4_fields',
          Key: key('u1'),
          UpdateExpression: 'SET city = :c',
          ExpressionAttributeValues: { ':c': { S: 'Lyon' } },
        }),
      ),
    ]);
    // Assess
    await converged('integ4_fields');
    for (const r of REGIONS) {
      const item = await new RegionSyncClient({
        dynamodb: ddb(r),
        region: r,
        table: { name: 'integ4_fields', partitionKey: 'id', strategy: { strategy: 'fields' } },
      }).get({ id: 'u1' });
      expect(item).toMatchObject({ email: 'new@x', city: 'Lyon' });
    }
  });

  it('merge: increments from every region, plain ADD and client helper, all count; an add wins over a concurrent remove', async () => {
    // Prepare
    const strategy = table('integ4_merge').strategy;
    const helper = (r: string) => new RegionSyncClient({ dynamodb: ddb(r), region: r, table: { name: 'integ4_merge', partitionKey: 'id', strategy } });
    await helper(REGIONS[0]).addToSet({ id: 'p1' }, 'tags', ['news']);
    await converged('integ4_merge');
    // Act: 3 plain `ADD likes :n` and 3 helper increments, concurrently across regions
    await Promise.all([
      ...REGIONS.map((r, i) =>
        ddb(r).send(
          new UpdateItemCommand({
            TableName: 'integ4_merge',
            Key: key('p1'),
            UpdateExpression: 'ADD likes :n',
            ExpressionAttributeValues: { ':n': { N: String(i + 1) } },
          }),
        ),
      ),
      ...REGIONS.map((r) => helper(r).increment({ id: 'p1' }, 'likes', 10)),
      helper(REGIONS[1]).removeFromSet({ id: 'p1' }, 'tags', ['news']),
      helper(REGIONS[2]).addToSet({ id: 'p1' }, 'tags', ['sport']),
    ]);
    // Assess
    await converged('integ4_merge');
    for (const r of REGIONS) {
      const item = await helper(r).get({ id: 'p1' });
      expect(item?.likes).toBe(1 + 2 + 3 + 30);
      expect([...(item?.tags as Set<string>)].sort()).toEqual(['sport']);
    }
  });

  it('custom: a concurrent edit in two regions is resolved by the table`s resolver, the same everywhere', async () => {
    // Prepare
    const custom = (r: string) =>
      new RegionSyncClient({
        dynamodb: ddb(r),
        region: r,
        table: { name: 'integ4_custom', partitionKey: 'id', strategy: { strategy: 'custom' }, resolver: resolveDocument },
      });
    // Act: plain SDK in one region, the helper in another, at once
    await Promise.all([
      ddb(REGIONS[0]).send(new PutItemCommand({ TableName: 'integ4_custom', Item: { ...key('d1'), body: { S: 'short text' }, tags: { SS: ['a'] } } })),
      custom(REGIONS[1]).put({ id: 'd1', body: 'a much longer body of text', tags: new Set(['b']) }),
    ]);
    // Assess
    await converged('integ4_custom');
    for (const r of REGIONS) {
      const item = await custom(r).get({ id: 'd1' });
      expect(item?.body).toBe('a much longer body of text');
      expect([...(item?.tags as Set<string>)].sort()).toEqual(['a', 'b']);
    }
  });

  it('a delete that wins stays deleted everywhere (the table holds no tombstone)', async () => {
    // Prepare
    const lww = (r: string) => new RegionSyncClient({ dynamodb: ddb(r), region: r, table: { name: 'integ4_lww', partitionKey: 'id' } });
    await lww(REGIONS[0]).put({ id: 'gone', v: 1 });
    await converged('integ4_lww');
    // Act
    await lww(REGIONS[1]).delete({ id: 'gone' });
    // Assess
    await converged('integ4_lww');
    for (const r of REGIONS) {
      expect(await lww(r).get({ id: 'gone' })).toBeUndefined();
      // Not in the table at all (issue 15): the tombstone, versioned, is kept in the tombstone table,
      // where it stops a late older write resurrecting the item.
      const raw = await ddb(r).send(new GetItemCommand({ TableName: 'integ4_lww', Key: key('gone'), ConsistentRead: true }));
      expect(raw.Item).toBeUndefined();
      const row = await ddb(r).send(
        new GetItemCommand({
          TableName: tombstoneTableName(SHARED_APP),
          Key: { [META.tombstoneKey]: { S: tombstoneRowKey('integ4_lww', key('gone')) } },
          ConsistentRead: true,
        }),
      );
      expect(row.Item?.[META.deleted]).toEqual({ BOOL: true });
    }
  });
});
