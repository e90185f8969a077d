/**
 * Selective replication and renamed tables on moto, deployed by the real CDK deploy. First only
 * the source region's functions run, so what the shipper sent waits in the target's inbound queue
 * and is read there directly: a filtered item and an excluded attribute never leave the source.
 * Then both regions run: renamed tables replicate both ways, an item that starts matching arrives
 * whole, one that stops matching is deleted there, and each region keeps its own value of an
 * attribute the pair does not share.
 */
import { regionOfVersion } from '../../src/core/version.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, type Change } from '../../src/core/change.ts';
import { inboundQueueName, META } from '../../src/core/contract.ts';
import { dynamodb, sqs } from '../../src/ops/aws.ts';
import type { Running } from '../../dev/cli/up.ts';
import type { ResolvedConfig } from '../../src/infra/config/schema.ts';
import { eventually } from '../support/eventually.ts';
import { readTombstoneRow } from '../support/tombstones.ts';
import { SHARED_APP, sharedDeployment, startSharedRuntime } from '../support/shared-deployment.ts';

// Its own table of the shared deployment (fixtures/shared.config.ts); only its functions run here.
const TABLE = 'integsel_orders';
const [EU, US] = ['eu-west-1', 'us-east-1'] as const;
const TABLES = { [EU]: 'integsel_orders_eu', [US]: 'integsel_orders_us' } as const;

let endpoint: string;
let config: ResolvedConfig;
// One state directory for both runtimes: the second resumes the EU stream where the first stopped.
let stateDir: string;
let runtime: Running | undefined;
const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: id } });
const get = async (region: keyof typeof TABLES, id: string) =>
  (await dynamodb({ endpoint }, region).send(new GetItemCommand({ TableName: TABLES[region], Key: key(id), ConsistentRead: true }))).Item;
const put = (region: keyof typeof TABLES, id: string, attrs: Record<string, AttributeValue>) =>
  dynamodb({ endpoint }, region).send(new PutItemCommand({ TableName: TABLES[region], Item: { ...key(id), ...attrs } }));

/** Receives (and deletes) what is in the US inbound queue until `done` holds for everything received. */
async function drainUsQueue(done: (changes: readonly Change[]) => boolean): Promise<{ bodies: string[]; changes: Change[] }> {
  const client = sqs({ endpoint }, US);
  const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: inboundQueueName(SHARED_APP, TABLE) }));
  const bodies: string[] = [];
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const out = await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of out.Messages ?? []) {
      bodies.push(m.Body!);
      await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
    if (done(bodies.flatMap((b) => decodeMessage(b).changes)) && (out.Messages ?? []).length === 0) break;
  }
  return { bodies, changes: bodies.flatMap((b) => decodeMessage(b).changes) };
}

beforeAll(async () => {
  ({ endpoint, config } = await sharedDeployment());
  stateDir = await mkdtemp(path.join(tmpdir(), 'regionsync-integsel-'));
});

afterAll(async () => {
  await runtime?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('selective replication and renamed tables on moto', () => {
  it("filtered items and excluded attributes never reach the target region's queue", async () => {
    // Prepare: only the source region's functions run, so nothing consumes the US queue.
    runtime = await startSharedRuntime({ endpoint, config, tables: [TABLE], regions: [EU], stateDir, publishMetrics: false });
    // Act: the filtered item first; the stream keeps order, so once the second has arrived the first has been shipped or dropped.
    await put(EU, 'q-de', { country: { S: 'DE' }, email: { S: 'de@example.com' } });
    await put(EU, 'q-us', { country: { S: 'US' }, email: { S: 'us@example.com' }, total: { N: '7' } });
    // Assess
    const { bodies, changes } = await drainUsQueue((cs) => cs.some((c) => c.key.pk?.S === 'q-us'));
    const shipped = changes.find((c) => c.key.pk?.S === 'q-us');
    expect(shipped?.item).toEqual({ pk: { S: 'q-us' }, country: { S: 'US' }, total: { N: '7' } });
    expect(changes.filter((c) => c.key.pk?.S === 'q-de')).toEqual([]);
    for (const body of bodies) {
      expect(body).not.toContain('@example.com');
      expect(body).not.toContain('q-de');
    }
    await runtime.stop();
    runtime = undefined;
  });

  it('renamed tables replicate both ways', async () => {
    // Prepare
    runtime = await startSharedRuntime({ endpoint, config, tables: [TABLE], regions: [EU, US], stateDir, publishMetrics: false });
    // Act
    await put(EU, 'r-eu', { country: { S: 'CA' }, n: { N: '1' } });
    await put(US, 'r-us', { country: { S: 'US' }, n: { N: '2' } });
    // Assess
    expect(
      (
        await eventually(
          () => get(US, 'r-eu'),
          (i) => i !== undefined,
        )
      )?.n,
    ).toEqual({ N: '1' });
    const inEu = await eventually(
      () => get(EU, 'r-us'),
      (i) => i !== undefined,
    );
    expect(inEu?.n).toEqual({ N: '2' });
    expect(regionOfVersion(inEu?.[META.version]?.S)).toBe(US);
  });

  it('an item that starts matching arrives whole; one that stops matching is deleted in the target', async () => {
    // Prepare
    await put(EU, 's-1', { country: { S: 'DE' }, total: { N: '1' }, email: { S: 'a@example.com' } });
    await put(EU, 'marker-1', { country: { S: 'US' } });
    await eventually(
      () => get(US, 'marker-1'),
      (i) => i !== undefined,
    );
    expect(await get(US, 's-1')).toBeUndefined();
    // Act: starts matching
    await dynamodb({ endpoint }, EU).send(
      new UpdateItemCommand({ TableName: TABLES[EU], Key: key('s-1'), UpdateExpression: 'SET country = :c', ExpressionAttributeValues: { ':c': { S: 'US' } } }),
    );
    // Assess
    const arrived = await eventually(
      () => get(US, 's-1'),
      (i) => i !== undefined,
    );
    expect(arrived?.total).toEqual({ N: '1' });
    expect(arrived?.email).toBeUndefined();
    // Act: stops matching
    await dynamodb({ endpoint }, EU).send(
      new UpdateItemCommand({ TableName: TABLES[EU], Key: key('s-1'), UpdateExpression: 'SET country = :c', ExpressionAttributeValues: { ':c': { S: 'FR' } } }),
    );
    // Assess: absent in the target (its tombstone kept in the tombstone table), alive in the source
    await eventually(
      () => get(US, 's-1'),
      (i) => i === undefined,
    );
    expect((await readTombstoneRow(endpoint, US, SHARED_APP, TABLE, key('s-1')))?.[META.deleted]).toEqual({ BOOL: true });
    expect((await get(EU, 's-1'))?.country).toEqual({ S: 'FR' });
  });

  it('each region keeps its own value of an attribute the pair does not share, through whole-item puts both ways', async () => {
    // Prepare: EU's email never goes to US
    await put(EU, 'x-1', { country: { S: 'US' }, email: { S: 'eu@example.com' }, total: { N: '1' } });
    await eventually(
      () => get(US, 'x-1'),
      (i) => i !== undefined,
    );
    // Act: US writes its own email and a total; then EU writes a new total
    await dynamodb({ endpoint }, US).send(
      new UpdateItemCommand({
        TableName: TABLES[US],
        Key: key('x-1'),
        UpdateExpression: 'SET email = :e, #t = :t',
        ExpressionAttributeNames: { '#t': 'total' },
        ExpressionAttributeValues: { ':e': { S: 'us-local' }, ':t': { N: '2' } },
      }),
    );
    await eventually(
      () => get(EU, 'x-1'),
      (i) => i?.total?.N === '2',
    );
    await dynamodb({ endpoint }, EU).send(
      new UpdateItemCommand({
        TableName: TABLES[EU],
        Key: key('x-1'),
        UpdateExpression: 'SET #t = :t',
        ExpressionAttributeNames: { '#t': 'total' },
        ExpressionAttributeValues: { ':t': { N: '3' } },
      }),
    );
    // Assess
    const us = await eventually(
      () => get(US, 'x-1'),
      (i) => i?.total?.N === '3',
    );
    const eu = await get(EU, 'x-1');
    expect(us?.total).toEqual({ N: '3' });
    expect(us?.email).toEqual({ S: 'us-local' });
    expect(eu?.total).toEqual({ N: '3' });
    expect(eu?.email).toEqual({ S: 'eu@example.com' });
  });
});
