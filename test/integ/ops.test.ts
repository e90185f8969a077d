/**
 * Operations on moto, through the real CDK deploy and the local runtime: verify finds exactly the
 * divergence injected behind the pipeline's back and repair converges it; replay re-ships lost
 * changes from the stream and moves dead letters back; a two-region table with data gains a
 * third region and converges while writes continue.
 *
 * How divergence is injected so that the pipeline never fixes it on its own: replication is
 * stopped (runtime.stop()), plain writes and deletes are made, and then the shippers' stream
 * checkpoints are moved past those records (as if the stream had trimmed them after an outage
 * longer than its 24 h), so the restarted runtime never sees them. An item written with
 * regionsync's metadata and writer `repl` is skipped by the shipper like any applied change.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { GetQueueUrlCommand, PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeMessage } from '../../src/core/change.ts';
import { deadLetterQueueName, inboundQueueName, META, tombstoneTableName } from '../../src/core/contract.ts';
import { tombstoneRowKey } from '../../src/core/tombstones.ts';
import { CheckpointStore } from '../../dev/local/checkpoints.ts';
import { startRuntime, type LocalRuntime } from '../../dev/local/runtime.ts';
import { clientConfig, dynamodb, sqs as sqsOf } from '../../src/ops/aws.ts';
import { deploy } from '../../dev/cli/deploy.ts';
import { loadConfig } from '../../src/infra/config/load.ts';
import type { ResolvedConfig } from '../../src/infra/config/schema.ts';
import { validateConfig } from '../../src/infra/config/validate.ts';
import { backfill } from '../../src/ops/backfill.ts';
import { repairTable } from '../../src/ops/repair.ts';
import { redriveDeadLetters } from '../../src/ops/redrive.ts';
import { replayStream } from '../../src/ops/replay.ts';
import { changeOf, opsTable, type OpsTable } from '../../src/ops/ship.ts';
import { verifyTable, type VerifyReport } from '../../src/ops/verify.ts';
import { eventually } from '../support/eventually.ts';
import { readTombstoneRow } from '../support/tombstones.ts';
import { runCli } from '../support/cli.ts';
import { sleep } from '../../src/core/concurrency.ts';

const TWO = path.resolve(import.meta.dirname, 'fixtures/ops-two-regions.config.ts');
const THREE = path.resolve(import.meta.dirname, 'fixtures/ops-three-regions.config.ts');
const ITEMS = 'opsit_items';
const [CA, EU, AP] = ['ca-central-1', 'eu-north-1', 'ap-northeast-2'] as const;
const silent = () => undefined;

let endpoint: string;
let stateDir: string;
let runtime: LocalRuntime | undefined;
let config2: ResolvedConfig;
let items: OpsTable;

const db = (region: string) => dynamodb({ endpoint }, region);
const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: id }, sk: { N: '1' } });
const canonicalKey = (id: string) => JSON.stringify({ M: { pk: { S: id }, sk: { N: '1' } } });
const get = async (region: string, table: string, k: Record<string, AttributeValue>) =>
  (await db(region).send(new GetItemCommand({ TableName: table, Key: k, ConsistentRead: true }))).Item;
const version = (region: string) => `${String(Date.now()).padStart(15, '0')}.000000.${region}`;

async function loadResolved(file: string): Promise<ResolvedConfig> {
  return validateConfig(await loadConfig(file));
}

async function startReplication(regions: readonly string[]): Promise<void> {
  runtime = await startRuntime({ endpoint, regions, stateDir, logger: (level, msg) => level === 'error' && console.error(msg) });
  await runtime.ready;
}

const verifyQuietly = (ops: OpsTable, extra: Partial<Parameters<typeof verifyTable>[0]> = {}) => verifyTable({ ops, progress: false, settleMs: 400, ...extra });

/** Converged = verify agrees (it re-reads differing keys, so changes in flight settle first). */
async function waitAgree(ops: OpsTable, timeoutMs = 30_000): Promise<VerifyReport> {
  return eventually(
    () => verifyQuietly(ops),
    (r) => r.agree,
    timeoutMs,
  );
}

/**
 * Moves the stopped runtime's stream checkpoints of `table` in `region` past every record in the
 * stream: the restarted shipper never sees them, like records trimmed after 24 hours.
 */
async function loseStreamRecords(region: string, table: string): Promise<void> {
  const arn = (await db(region).send(new DescribeTableCommand({ TableName: table }))).Table!.LatestStreamArn!;
  const fn = runtime!.functions.find((f) => f.region === region && f.mappings.some((m) => m.eventSourceArn === arn));
  if (!fn) throw new Error(`no function reads the stream of ${table} in ${region}`);
  const streams = new DynamoDBStreamsClient(clientConfig({ endpoint }, region));
  const store = await CheckpointStore.open(CheckpointStore.fileFor(stateDir, region, fn.name, arn), arn, fn.name);
  for (const shard of (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards!) {
    let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' })))
      .ShardIterator;
    let last: string | undefined;
    for (let empty = 0; iterator && empty < 2; ) {
      const out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      const records = out.Records ?? [];
      if (records.length === 0) empty++;
      else last = records.at(-1)!.dynamodb!.SequenceNumber;
      iterator = out.NextShardIterator;
    }
    if (last) store.advance(shard.ShardId!, last);
  }
  await store.flush();
}

/** Runs the real CLI against the test's emulator. */
const cli = (args: string[]) => runCli([...args, '--endpoint', endpoint]);

beforeAll(async () => {
  endpoint = inject('endpoint');
  stateDir = await mkdtemp(path.join(tmpdir(), 'regionsync-opsit-'));
  config2 = await loadResolved(TWO);
  items = opsTable(config2, ITEMS, { endpoint });
  await deploy({ endpoint, configFile: TWO, regions: [CA, EU], log: silent, outputDir: path.join('.regionsync', 'cdk.out.opsit') });
  await startReplication([CA, EU]);
});

afterAll(async () => {
  await runtime?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('verify and repair', () => {
  it('verify reports exactly the keys changed behind the pipeline, with what each region holds; repair --apply converges them', async () => {
    // Prepare: replicated data in both regions.
    for (let i = 0; i < 20; i++) {
      const region = i < 10 ? CA : EU;
      await db(region).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key(`base-${i}`), colour: { S: 'blue' }, n: { N: String(i) } } }));
    }
    await db(CA).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key('chg'), colour: { S: 'red' } } }));
    await db(EU).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key('del'), colour: { S: 'red' } } }));
    await db(EU).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key('tomb'), colour: { S: 'red' } } }));
    await eventually(
      () => get(CA, ITEMS, key('tomb')),
      (i) => i !== undefined,
    );
    await db(EU).send(new DeleteItemCommand({ TableName: ITEMS, Key: key('tomb') }));
    expect((await waitAgree(items)).agree).toBe(true);
    const chgVersion = (await get(CA, ITEMS, key('chg')))![META.version]!.S;

    // Prepare: divergence behind the pipeline's back.
    await runtime!.stop();
    await db(EU).send(new DeleteItemCommand({ TableName: ITEMS, Key: key('del') }));
    // The tombstone itself, kept in the region's tombstone table (docs/deletes.md).
    await db(EU).send(
      new DeleteItemCommand({ TableName: tombstoneTableName('opsit'), Key: { [META.tombstoneKey]: { S: tombstoneRowKey(ITEMS, key('tomb')) } } }),
    );
    await db(EU).send(
      new UpdateItemCommand({ TableName: ITEMS, Key: key('chg'), UpdateExpression: 'SET colour = :g', ExpressionAttributeValues: { ':g': { S: 'green' } } }),
    );
    await db(CA).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key('new-ca'), colour: { S: 'plain' } } }));
    await db(EU).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key('new-eu'), colour: { S: 'plain' } } }));
    await db(CA).send(
      new PutItemCommand({
        TableName: ITEMS,
        Item: {
          ...key('only-ca'),
          colour: { S: 'applied here only' },
          [META.version]: { S: version(CA) },
          [META.origin]: { S: CA },
          [META.writer]: { S: 'repl' },
        },
      }),
    );
    await loseStreamRecords(CA, ITEMS);
    await loseStreamRecords(EU, ITEMS);
    await startReplication([CA, EU]);
    const injected = ['chg', 'del', 'new-ca', 'new-eu', 'only-ca', 'tomb'].map(canonicalKey).sort();

    // Act: the CLI, as an operator runs it.
    const verified = await cli(['verify', '--table', ITEMS, '--config', TWO, '--json']);

    // Assess: exit 1, the injected keys and nothing else, and what each region holds.
    expect(verified.code).toBe(1);
    const report = JSON.parse(verified.stdout) as VerifyReport;
    expect(report.divergent.map((d) => d.key).sort()).toEqual(injected);
    expect(report.buckets.differing).toBeLessThan(report.buckets.total);
    const byKey = Object.fromEntries(report.divergent.map((d) => [JSON.parse(d.key).M.pk.S as string, d.byRegion]));
    expect(byKey.del![CA]).toMatchObject({ present: true, origin: EU });
    expect(byKey.del![EU]).toEqual({ present: false });
    expect(byKey.chg![CA]).toMatchObject({ version: chgVersion, item: { colour: { S: 'red' } } });
    expect(byKey.chg![EU]).toMatchObject({ version: chgVersion, item: { colour: { S: 'green' } } });
    expect(byKey['new-ca']![CA]).toMatchObject({ present: true, item: { colour: { S: 'plain' } } });
    expect(byKey['new-ca']![CA]!.version).toBeUndefined();
    expect(byKey['only-ca']![EU]).toEqual({ present: false });
    expect(byKey.tomb![CA]).toMatchObject({ present: true, tombstone: true, origin: EU });
    expect(byKey.tomb![EU]).toEqual({ present: false });

    // Act: a dry run writes nothing.
    const dry = await repairTable({ ops: items, progress: false, settleMs: 400 });
    expect(dry.keys.map((k) => k.outcome)).toEqual(injected.map(() => 'planned'));
    expect(dry.touched + dry.changesSent).toBe(0);
    expect(await get(EU, ITEMS, key('only-ca'))).toBeUndefined();

    // Act: repair --apply through the CLI.
    const repaired = await cli(['repair', '--table', ITEMS, '--config', TWO, '--apply', '--json']);

    // Assess: exit 0, every key converged, and verify agrees.
    expect(repaired.code, `${repaired.stderr}\n${repaired.stdout}`).toBe(0);
    const applied = JSON.parse(repaired.stdout) as { remaining: unknown[]; keys: { outcome: string }[]; touched: number };
    expect(applied.remaining).toEqual([]);
    expect(applied.keys.map((k) => k.outcome)).toEqual(injected.map(() => 'shipped'));
    expect(applied.touched).toBe(5); // chg (same version), del and tomb (their origin lost them), new-ca, new-eu (never stamped)
    const after = await verifyQuietly(items);
    expect(after.divergent).toEqual([]);
    expect(after.agree).toBe(true);
    // The version's origin region kept its copy; the lost item is back where it was lost.
    expect((await get(EU, ITEMS, key('chg')))?.colour).toEqual({ S: 'red' });
    expect((await get(EU, ITEMS, key('del')))?.colour).toEqual({ S: 'red' });
    expect((await get(EU, ITEMS, key('only-ca')))?.colour).toEqual({ S: 'applied here only' });
    expect(await get(EU, ITEMS, key('tomb'))).toBeUndefined();
    expect((await readTombstoneRow(endpoint, EU, 'opsit', ITEMS, key('tomb')))?.[META.deleted]).toEqual({ BOOL: true });
  });
});

describe('replay', () => {
  it('re-ships from the stream the changes a region made in a time range that a target lost', async () => {
    // Prepare: only ca-central-1 runs, so its changes wait in eu-north-1's inbound queue; then that queue is purged.
    await runtime!.stop();
    await startReplication([CA]);
    // Stream times are whole seconds: start the range on a second boundary, so no earlier record falls in it.
    const since = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    await sleep(since - Date.now());
    for (const id of ['lost-1', 'lost-2', 'lost-3']) await db(CA).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key(id), colour: { S: 'lost' } } }));
    await eventually(
      () => get(CA, ITEMS, key('lost-3')),
      (i) => i?.[META.version] !== undefined,
    );
    await sleep(500);
    const sqs = sqsOf({ endpoint }, EU);
    const inbound = (await sqs.send(new GetQueueUrlCommand({ QueueName: inboundQueueName('opsit', ITEMS) }))).QueueUrl!;
    await sqs.send(new PurgeQueueCommand({ QueueUrl: inbound }));
    await runtime!.stop();
    await startReplication([CA, EU]);
    await sleep(1000);
    expect(await get(EU, ITEMS, key('lost-1'))).toBeUndefined();

    // Act
    const report = await replayStream({ ops: items, region: CA, since, progress: false });

    // Assess: exactly the three keys made in ca-central-1 in the range, applied with their versions.
    expect(report.keys).toBe(3);
    expect(report.to).toEqual([EU]);
    for (const id of ['lost-1', 'lost-2', 'lost-3']) {
      const there = await eventually(
        () => get(EU, ITEMS, key(id)),
        (i) => i !== undefined,
      );
      expect(there?.[META.version]).toEqual((await get(CA, ITEMS, key(id)))?.[META.version]);
    }
  });

  it('replay --dlq moves dead-lettered change messages back to the inbound queue, and they apply', async () => {
    // Prepare: a change eu-north-1 never applied, parked in its dead-letter queue.
    const item = {
      ...key('dead-letter'),
      colour: { S: 'redriven' },
      [META.version]: { S: version(CA) },
      [META.origin]: { S: CA },
      [META.writer]: { S: 'repl' },
    };
    await db(CA).send(new PutItemCommand({ TableName: ITEMS, Item: item }));
    const sqs = sqsOf({ endpoint }, EU);
    const dlq = (await sqs.send(new GetQueueUrlCommand({ QueueName: deadLetterQueueName('opsit', ITEMS) }))).QueueUrl!;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: encodeMessage([changeOf(items, item, Date.now())]),
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'throttled' } },
      }),
    );

    // Act: the CLI entry point.
    const out = await cli(['replay', '--dlq', '--table', ITEMS, '--region', EU, '--config', TWO, '--json']);

    // Assess
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ moved: 1, changes: 1, byReason: { throttled: 1 } });
    const there = await eventually(
      () => get(EU, ITEMS, key('dead-letter')),
      (i) => i !== undefined,
    );
    expect(there?.colour).toEqual({ S: 'redriven' });
    expect((await redriveDeadLetters({ target: { endpoint }, appName: 'opsit', table: ITEMS, region: EU })).moved).toBe(0);
  });
});

describe('adding a region', () => {
  it('a two-region table with data gains a third region and converges while writes continue', async () => {
    // Prepare: data in both regions, replicated.
    const ids = Array.from({ length: 200 }, (_, i) => `grow-${i}`);
    for (let i = 0; i < ids.length; i += 25) {
      const region = i < 150 ? CA : EU;
      const puts = ids.slice(i, i + 25).map((id) => ({ PutRequest: { Item: { ...key(id), n: { N: '0' }, from: { S: region } } } }));
      await db(region).send(new BatchWriteItemCommand({ RequestItems: { [ITEMS]: puts } }));
    }
    expect((await waitAgree(items)).agree).toBe(true);
    // Prepare: items ca-central-1 held before regionsync (never stamped, in no other region).
    await runtime!.stop();
    for (let i = 0; i < 20; i++) await db(CA).send(new PutItemCommand({ TableName: ITEMS, Item: { ...key(`legacy-${i}`), n: { N: '7' } } }));
    await loseStreamRecords(CA, ITEMS);

    // Act: writes continue throughout: the config change, the deploy, the restart, the backfill.
    const writing = { regions: [CA, EU] as string[], stop: false, writes: 0 };
    const writer = (async () => {
      for (let i = 0; !writing.stop; i++) {
        const region = writing.regions[i % writing.regions.length]!;
        const id = key(`grow-${(i * 37) % 240}`);
        const op = i % 7;
        if (op === 6) await db(region).send(new DeleteItemCommand({ TableName: ITEMS, Key: id }));
        else if (op >= 4)
          await db(region).send(
            new UpdateItemCommand({ TableName: ITEMS, Key: id, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } } }),
          );
        else await db(region).send(new PutItemCommand({ TableName: ITEMS, Item: { ...id, n: { N: String(i) }, from: { S: region } } }));
        writing.writes++;
        await sleep(15);
      }
    })();
    const config3 = await loadResolved(THREE);
    const items3 = opsTable(config3, ITEMS, { endpoint });
    await deploy({ endpoint, configFile: THREE, regions: [CA, EU, AP], log: silent, outputDir: path.join('.regionsync', 'cdk.out.opsit') });
    await startReplication([CA, EU, AP]);
    writing.regions = [CA, EU, AP];
    // An interrupted backfill (stopped after two pages), then the same command again resumes it.
    const abort = new AbortController();
    let pages = 0;
    const first = await backfill({
      ops: items3,
      to: AP,
      from: CA,
      segments: 3,
      pageSize: 40,
      stateDir,
      progress: false,
      signal: abort.signal,
      onPage: () => ++pages >= 2 && abort.abort(),
    });
    const second = await backfill({ ops: items3, to: AP, from: CA, segments: 3, pageSize: 40, stateDir, progress: false });
    await sleep(1000);
    writing.stop = true;
    await writer;

    // Assess
    expect(first.complete).toBe(false);
    expect(second).toMatchObject({ resumed: true, complete: true });
    expect(second.touched).toBeGreaterThanOrEqual(20); // the legacy items, stamped at the source
    expect(second.sent).toBeGreaterThan(100);
    expect(writing.writes).toBeGreaterThan(50);
    const converged = await waitAgree(items3, 45_000);
    expect(converged.divergent).toEqual([]);
    // Once quiet, the three hash trees are identical (the first agreement may have re-read keys still in flight at scan time).
    const quiet = await verifyQuietly(items3);
    expect(quiet.buckets.differing).toBe(0);
    expect(new Set(Object.values(quiet.roots)).size).toBe(1);
    expect(quiet.items[AP]).toBe(quiet.items[CA]);
    expect(quiet.items[AP]).toBeGreaterThanOrEqual(220);
    const legacy = await get(AP, ITEMS, key('legacy-3'));
    expect(legacy?.[META.version]?.S).toMatch(/\.ca-central-1$/);
    expect(legacy?.n).toEqual({ N: '7' });
  });
});
