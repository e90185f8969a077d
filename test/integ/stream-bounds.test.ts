/**
 * Finding "no shard is ever blocked by one record", on moto through the real deploy and the local
 * runtime: an item at DynamoDB's size limit, which the shipper's stamp would push over it, used to
 * make the stream mapping retry the same sequence number until the record expired, so no later
 * write to the table reached the other region. Now the shipper parks such a record (or replicates
 * it with a compact stamp when that fits) and goes on; the stream mapping is bounded (retries,
 * record age, bisect) with an on-failure queue, which the local runtime sends Lambda's on-failure
 * record to; and `regionsync redrive --stream-failures` replays both kinds once the cause is fixed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BatchWriteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { LambdaClient, ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { META, streamFailureQueueName } from '../../src/core/contract.ts';
import { itemSizeBytes } from '../../src/core/item-size.ts';
import { parseStreamFailureMessage } from '../../src/core/stream-failures.ts';
import { encodeVersion, regionOfVersion } from '../../src/core/version.ts';
import { clientConfig, dynamodb, sqs as sqsOf } from '../../src/ops/aws.ts';
import { queueDepth } from '../../src/ops/queue-depth.ts';
import { startAwsProxy, type AwsProxy } from '../../dev/local/aws-proxy.ts';
import { Chaos, chaosFunctionCredentials } from '../../dev/local/chaos.ts';
import { startRuntime, type LocalRuntime } from '../../dev/local/runtime.ts';
import { runCli } from '../support/cli.ts';
import { eventually } from '../support/eventually.ts';
import { peekAll } from '../support/queues.ts';
import { SHARED_APP, SHARED_CONFIG, servesOneOf, sharedDeployment, sharedTable } from '../support/shared-deployment.ts';
import type { ResolvedTableConfig } from '../../src/infra/config/schema.ts';

// On the shared deployment (test/support/shared-deployment.ts): its own table, its own runtime and chaos proxy.
const CONFIG = SHARED_CONFIG;
const TABLE = 'sbnd_items';
const APP = SHARED_APP;
const [SRC, DST] = ['ap-southeast-2', 'eu-west-1'] as const;
/** moto refuses an item above 405,000 of its bytes (DynamoDB: 409,600); for string attributes its count is item-size.ts's. */
const EMULATOR_ITEM_LIMIT = 405_000;

let endpoint: string;
let stateDir: string;
let runtime: LocalRuntime | undefined;
let proxy: AwsProxy | undefined;
let chaos: Chaos | undefined;
let tables: ResolvedTableConfig[] = [];

const db = (region: string) => dynamodb({ endpoint }, region);
const sqs = (region: string) => sqsOf({ endpoint }, region);
const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: id }, sk: { N: '1' } });
const get = async (region: string, id: string) => (await db(region).send(new GetItemCommand({ TableName: TABLE, Key: key(id), ConsistentRead: true }))).Item;
const put = (region: string, item: Record<string, AttributeValue>) => db(region).send(new PutItemCommand({ TableName: TABLE, Item: item }));
const failuresUrl = async () => (await sqs(SRC).send(new GetQueueUrlCommand({ QueueName: streamFailureQueueName(APP, TABLE) }))).QueueUrl!;

/** An item of exactly `bytes` (item-size.ts), key included. */
function itemOfSize(id: string, bytes: number): Record<string, AttributeValue> {
  const base = { ...key(id), blob: { S: '' } };
  return { ...base, blob: { S: 'z'.repeat(bytes - itemSizeBytes(base)) } };
}

/** Starts the local runtime, its calls through a chaos proxy (faults added by the tests). */
async function start(): Promise<void> {
  chaos = new Chaos([]);
  proxy = await startAwsProxy({ target: endpoint, hooks: chaos });
  runtime = await startRuntime({
    endpoint: proxy.endpoint,
    regions: [SRC, DST],
    // Only this file's table's functions: the shared app's other tables belong to other files.
    include: servesOneOf(tables),
    stateDir,
    publishMetrics: false,
    logger: () => undefined,
    functionCredentials: chaosFunctionCredentials,
    retryBaseMs: 50,
  });
  await runtime.ready;
}

async function stop(): Promise<void> {
  chaos?.heal();
  await runtime?.stop();
  await proxy?.stop();
  runtime = undefined;
  proxy = undefined;
}

beforeAll(async () => {
  endpoint = inject('endpoint');
  stateDir = await mkdtemp(path.join(tmpdir(), 'regionsync-sbnd-'));
  tables = [sharedTable((await sharedDeployment()).config, TABLE)];
  await start();
});

afterAll(async () => {
  await stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('no shard is ever blocked by one record', () => {
  it('after an item at the size limit, later writes still replicate; the item is parked with its reason', async () => {
    // Prepare: 10 bytes under the emulator's limit: no stamp fits. Then more writes than one stream
    // batch holds (500): in AWS the retried batch carries the next 499, the rest waited forever.
    const big = itemOfSize('big', EMULATOR_ITEM_LIMIT - 10);
    const later = Array.from({ length: 520 }, (_, i) => ({ ...key(`later-${i}`), v: { S: 'ok' } }));
    // Act
    await put(SRC, big);
    for (let i = 0; i < later.length; i += 25) {
      await db(SRC).send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: later.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
    }
    // Assess: the later writes replicate; the big write is parked in SRC, named, sized and explained.
    expect(
      (
        await eventually(
          () => get(DST, `later-${later.length - 1}`),
          (i) => i !== undefined,
          60_000,
        )
      )?.v,
    ).toEqual({ S: 'ok' });
    expect(await get(DST, 'big')).toBeUndefined();
    const url = await failuresUrl();
    await eventually(
      () => queueDepth(sqs(SRC), url),
      (n) => n >= 1,
    );
    const parked = (await peekAll(sqs(SRC), url)).map((m) => ({ m, parsed: parseStreamFailureMessage(m.Body!) }));
    expect(parked).toHaveLength(1);
    const { m, parsed } = parked[0]!;
    expect(parsed.kind).toBe('parked');
    if (parsed.kind !== 'parked') return;
    expect(parsed.record).toMatchObject({ table: TABLE, region: SRC, key: key('big'), failed: 'stamp', itemBytes: EMULATOR_ITEM_LIMIT - 10 });
    expect(parsed.record.sequenceNumber).toMatch(/^\d+$/);
    expect(parsed.record.reason).toMatch(/ValidationException.*size/i);
    expect(m.MessageAttributes?.reason?.StringValue).toMatch(/pk="big"/);
  });

  it('an item with room for a compact stamp but not the full one replicates', async () => {
    // Prepare: room for version, origin, writer and content hash only.
    const compact = itemSizeBytes({
      [META.version]: { S: encodeVersion({ ms: Date.now(), counter: 0, region: SRC }) },
      [META.writer]: { S: 'stamp' },
      [META.contentHash]: { S: 'x'.repeat(11) },
    });
    const tight = itemOfSize('tight', EMULATOR_ITEM_LIMIT - compact - 4);
    // Act
    await put(SRC, tight);
    // Assess
    const copy = await eventually(
      () => get(DST, 'tight'),
      (i) => i !== undefined,
      30_000,
    );
    expect(copy?.blob?.S?.length).toBe(tight.blob!.S!.length);
    expect(regionOfVersion(copy?.[META.version]?.S)).toBe(SRC);
  });

  it('the parked record is redriven once the item is shrunk: it leaves the queue, both regions hold the same item', async () => {
    // Prepare: the cause fixed: the application shrinks the item (a write of its own, which replicates).
    await put(SRC, { ...key('big'), v: { S: 'shrunk' } });
    await eventually(
      () => get(DST, 'big'),
      (i) => i !== undefined,
      30_000,
    );
    const url = await failuresUrl();
    // Act
    const out = await runCli(['redrive', '--region', SRC, '--table', TABLE, '--config', CONFIG, '--endpoint', endpoint, '--stream-failures', '--json']);
    // Assess
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as { parked: number; batches: number; failed: number };
    expect(report).toMatchObject({ parked: 1, batches: 0, failed: 0 });
    expect(await queueDepth(sqs(SRC), url)).toBe(0);
    const [a, b] = [await get(SRC, 'big'), await get(DST, 'big')];
    expect(a?.v).toEqual({ S: 'shrunk' });
    expect(b?.[META.version]).toEqual(a?.[META.version]);
  });

  it("a batch that exhausts its retries goes to the on-failure queue as Lambda's record, does not block the shard, and is redriven after the fault heals", async () => {
    // Prepare: the deployed bounds, read by the runtime; lowered for this test (AWS would take
    // minutes of failures), and a fault that fails every stamp in SRC.
    const lambda = new LambdaClient(clientConfig({ endpoint }, SRC));
    const mappings = (await lambda.send(new ListEventSourceMappingsCommand({}))).EventSourceMappings ?? [];
    const stream = mappings.find((x) => x.EventSourceArn?.includes(`table/${TABLE}/stream`))!;
    expect(stream).toMatchObject({ BisectBatchOnFunctionError: true, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(stream.MaximumRetryAttempts).toBeGreaterThan(0);
    expect(stream.MaximumRecordAgeInSeconds).toBeGreaterThan(0);
    expect(stream.DestinationConfig?.OnFailure?.Destination).toMatch(new RegExp(`:sqs:${SRC}:\\d+:${streamFailureQueueName(APP, TABLE)}$`));
    await stop();
    await lambda.send(new UpdateEventSourceMappingCommand({ UUID: stream.UUID, MaximumRetryAttempts: 1 }));
    await start();
    const heal = chaos!.add({ kind: '5xx', region: SRC, service: 'dynamodb', op: 'UpdateItem', p: 1 });
    const url = await failuresUrl();
    // Act: a write whose stamp always fails, until its retries run out.
    await put(SRC, { ...key('lost'), v: { S: 'back' } });
    await eventually(
      () => queueDepth(sqs(SRC), url),
      (n) => n >= 1,
      60_000,
    );
    heal();
    await put(SRC, { ...key('after-heal'), v: { S: 'ok' } });
    // Assess: Lambda's on-failure record; the shard moved on; the failed write is not there yet.
    expect(
      (
        await eventually(
          () => get(DST, 'after-heal'),
          (i) => i !== undefined,
          30_000,
        )
      )?.v,
    ).toEqual({ S: 'ok' });
    expect(await get(DST, 'lost')).toBeUndefined();
    const [failure] = (await peekAll(sqs(SRC), url)).map((m) => parseStreamFailureMessage(m.Body!));
    expect(failure?.kind).toBe('batch');
    if (failure?.kind !== 'batch') return;
    expect(failure.failure.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(failure.failure.requestContext.approximateInvokeCount).toBe(2);
    expect(failure.failure.DDBStreamBatchInfo).toMatchObject({ batchSize: 1, streamArn: expect.stringContaining(`table/${TABLE}/stream/`) });
    expect(failure.failure.DDBStreamBatchInfo.startSequenceNumber).toBe(failure.failure.DDBStreamBatchInfo.endSequenceNumber);
    expect(failure.failure.DDBStreamBatchInfo.approximateArrivalOfFirstRecord).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Act: redrive, the cause healed.
    const out = await runCli(['redrive', '--region', SRC, '--table', TABLE, '--config', CONFIG, '--endpoint', endpoint, '--stream-failures', '--json']);
    // Assess: replayed from the stream at its sequence number; nothing lost; the queue is empty.
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ batches: 1, records: 1, failed: 0 });
    expect(
      (
        await eventually(
          () => get(DST, 'lost'),
          (i) => i !== undefined,
          30_000,
        )
      )?.v,
    ).toEqual({ S: 'back' });
    expect(await queueDepth(sqs(SRC), url)).toBe(0);
  });
});
