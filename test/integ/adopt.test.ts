/**
 * Adopting tables that already exist (issue 18): 1,200 items in af-south-1's table and an empty
 * table in me-south-1, both made with plain SDK calls and no stream, are brought under replication
 * while an application keeps writing to both: `regionsync adopt` (streams enabled, ARNs recorded
 * for the synth), the deploy (which imports both tables), the runtime, then the backfill. Afterwards
 * both regions hold the same items, and every acknowledged write is there.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sleep } from '../../src/core/concurrency.ts';
import { deadLetterQueueName, META } from '../../src/core/contract.ts';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { queueDepth } from '../../src/ops/queue-depth.ts';
import { loadConfig } from '../../src/infra/config/load.ts';
import { validateConfig } from '../../src/infra/config/validate.ts';
import { backfillAdoption, prepareAdoption } from '../../src/ops/adopt.ts';
import { dynamodb, sqs } from '../../src/ops/aws.ts';
import { opsTable, type OpsTable } from '../../src/ops/ship.ts';
import { verifyTable, type VerifyReport } from '../../src/ops/verify.ts';
import { deploy } from '../../dev/cli/deploy.ts';
import { type LocalRuntime, startRuntime } from '../../dev/local/runtime.ts';
import { runCli } from '../support/cli.ts';
import { eventually } from '../support/eventually.ts';

const CONFIG = path.resolve(import.meta.dirname, 'fixtures/adopt.config.ts');
const TABLE = 'adopt_items';
const [AF, ME] = ['af-south-1', 'me-south-1'] as const;
// Above the 1,000 keys the application keeps writing, so 200 items stay untouched from before regionsync.
const EXISTING = 1200;

let endpoint: string;
let stateDir: string;
let runtime: LocalRuntime | undefined;
let ops: OpsTable;

const db = (region: string) => dynamodb({ endpoint }, region);
const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: id } });
/** Every item's `v` in the region's table, by key (a scan: the table is small). */
async function valuesIn(region: string): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await db(region).send(new ScanCommand({ TableName: TABLE, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
    for (const item of page.Items ?? []) out.set(item.pk!.S!, item.v?.S);
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** The application's table as it was before regionsync: plain CreateTable, no stream. */
async function createPlainTable(region: string): Promise<void> {
  await db(region).send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

beforeAll(async () => {
  endpoint = inject('endpoint');
  stateDir = await mkdtemp(path.join(tmpdir(), 'regionsync-adopt-'));
  ops = opsTable(validateConfig(await loadConfig(CONFIG)), TABLE, { endpoint });
});

afterAll(async () => {
  await runtime?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('adopting tables that already exist', () => {
  it('1,200 items in one region and an empty table in the other converge while the application keeps writing to both', async () => {
    // Prepare: the application's tables before regionsync, with its data in af-south-1 only.
    await createPlainTable(AF);
    await createPlainTable(ME);
    const ids = Array.from({ length: EXISTING }, (_, i) => `item-${i}`);
    for (let i = 0; i < ids.length; i += 25) {
      const puts = ids.slice(i, i + 25).map((id) => ({ PutRequest: { Item: { ...key(id), v: { S: 'original' } } } }));
      await db(AF).send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: puts } }));
    }
    // The application writes all along (each key from one region, so its last write is well
    // defined): in af-south-1 it updates, overwrites and deletes existing items and creates new
    // ones; in me-south-1 it creates and updates items of its own.
    const expected = new Map<string, string | null>(ids.map((id) => [id, 'original']));
    const writing = { stop: false, writes: 0 };
    const writer = (async () => {
      for (let i = 0; !writing.stop; i++) {
        const op = i % 5;
        const value = `w${i}`;
        if (op === 0) {
          const id = `item-${(i * 7) % 1000}`;
          await db(AF).send(
            new UpdateItemCommand({ TableName: TABLE, Key: key(id), UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { S: value } } }),
          );
          expected.set(id, value);
        } else if (op === 1) {
          const id = `item-${(i * 13 + 1) % 1000}`;
          await db(AF).send(new DeleteItemCommand({ TableName: TABLE, Key: key(id) }));
          expected.set(id, null);
        } else if (op === 2) {
          const id = `af-new-${i % 40}`;
          await db(AF).send(new PutItemCommand({ TableName: TABLE, Item: { ...key(id), v: { S: value } } }));
          expected.set(id, value);
        } else {
          const id = `me-new-${i % 40}`;
          await db(ME).send(new PutItemCommand({ TableName: TABLE, Item: { ...key(id), v: { S: value } } }));
          expected.set(id, value);
        }
        writing.writes++;
        await sleep(25);
      }
    })();

    const t0 = Date.now();
    const step = (what: string) => console.log(`adopt test: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s, ${writing.writes} writes`);
    // Act: step 1, the CLI a user runs: streams enabled, their ARNs recorded for the synth.
    const contextFile = path.join(stateDir, 'cdk.context.json');
    const adopt = await runCli(['adopt', '--config', CONFIG, '--endpoint', endpoint, '--context-file', contextFile]);
    expect(adopt.stderr).toBe('');
    expect(adopt.code).toBe(0);
    expect(adopt.stdout).toContain(`${TABLE} in ${AF}: stream enabled`);
    const context = JSON.parse(await readFile(contextFile, 'utf8')) as Record<string, string>;
    expect(Object.keys(context).sort()).toEqual([`regionsync:adopted-stream:${AF}:${TABLE}`, `regionsync:adopted-stream:${ME}:${TABLE}`]);
    step('adopt done');
    // Step 2: the deploy imports both tables (with the context the CLI recorded), then replication runs.
    await deploy({ endpoint, configFile: CONFIG, regions: [AF, ME], log: () => undefined, outputDir: path.join('.regionsync', 'cdk.out.adoptit'), context });
    runtime = await startRuntime({ endpoint, regions: [AF, ME], stateDir, logger: (level, msg) => level === 'error' && console.error(msg) });
    await runtime.ready;
    step('deployed and running');
    // Step 3: the backfill, each region into the other.
    const reports = await backfillAdoption({ ops, stateDir: path.join(stateDir, 'backfill'), progress: false });
    step('backfilled');
    await sleep(500);
    writing.stop = true;
    await writer;

    // Assess: the deploy adopted the tables (they were neither replaced nor emptied) ...
    for (const region of [AF, ME]) {
      const t = (await db(region).send(new DescribeTableCommand({ TableName: TABLE }))).Table!;
      expect(t.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
      expect(t.LatestStreamArn).toBe(context[`regionsync:adopted-stream:${region}:${TABLE}`]);
    }
    expect(reports.map((r) => `${r.from}>${r.to}:${r.complete}`)).toEqual([`${AF}>${ME}:true`, `${ME}>${AF}:true`]);
    expect(reports[0]!.scanned).toBeGreaterThanOrEqual(EXISTING - 100);
    expect(writing.writes).toBeGreaterThan(100);
    // ... both regions end identical ...
    const converged = await eventually(
      () => verifyTable({ ops, progress: false, settleMs: 400 }),
      (r: VerifyReport) => r.agree,
      60_000,
      // Each verify scans both tables whole: every 2 s, not every 150 ms, or the scans slow the pipeline they wait for.
      2_000,
    );
    step('verified');
    // Nothing was dead-lettered on the way (an applier that refused a backfilled change would park it there).
    for (const region of [AF, ME]) {
      const url = (await sqs({ endpoint }, region).send(new GetQueueUrlCommand({ QueueName: deadLetterQueueName('adoptit', TABLE) }))).QueueUrl!;
      expect(await queueDepth(sqs({ endpoint }, region), url)).toBe(0);
    }
    expect(converged.divergent).toEqual([]);
    expect(converged.items[ME]).toBe(converged.items[AF]);
    // ... and hold every acknowledged write: the last one of each key, or its absence after a delete.
    for (const region of [AF, ME]) {
      const held = await valuesIn(region);
      const wrong = [...expected].filter(([id, want]) => (held.get(id) ?? null) !== want).map(([id, want]) => `${id}: ${held.get(id)} (expected ${want})`);
      expect({ region, wrong: wrong.slice(0, 10) }).toEqual({ region, wrong: [] });
      expect(held.size).toBe([...expected.values()].filter((v) => v !== null).length);
    }
    // An item from before regionsync (the application left items 1000 and up alone) now carries a
    // version, stamped in the region that held it.
    const legacy = (await db(ME).send(new GetItemCommand({ TableName: TABLE, Key: key(`item-${EXISTING - 1}`), ConsistentRead: true }))).Item;
    expect(legacy?.[META.version]?.S).toMatch(/\.af-south-1$/);
  });

  it('a table that expires items by another TTL attribute than the config says is refused, naming the setting; its stream stays off', async () => {
    // Prepare: a table the application expires by `expiresAt`, and a config that says nothing of it.
    await db(AF).send(
      new CreateTableCommand({
        TableName: 'adopt_ttl',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await db(AF).send(new UpdateTimeToLiveCommand({ TableName: 'adopt_ttl', TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' } }));
    const config = validateConfig({
      appName: 'adoptit',
      regions: [AF, ME],
      tables: [{ name: 'adopt_ttl', partitionKey: { name: 'pk', type: 'string' }, adoptIn: [AF] }],
    });
    // Act
    const attempt = prepareAdoption({ ops: opsTable(config, 'adopt_ttl', { endpoint }) });
    // Assess
    await expect(attempt).rejects.toThrow(
      /adopt_ttl in af-south-1 expires items by its TTL attribute expiresAt: set tables adopt_ttl\.ttlAttribute to 'expiresAt'/,
    );
    expect((await db(AF).send(new DescribeTableCommand({ TableName: 'adopt_ttl' }))).Table?.StreamSpecification?.StreamEnabled).not.toBe(true);
  });
});
