/**
 * Region isolation on moto with three regions, the functions' calls through the chaos proxy
 * (`regionsync up --chaos`): one region cut off while writes continue in all three; the other two
 * keep replicating between themselves, every change for or from the cut region waits in its
 * source region's backlog queue, and after the cut heals all three end identical and the
 * backlogs empty. Also: throttling and 5xx answers from a target are survived the same way.
 */
import { regionOfVersion } from '../../src/core/version.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { backlogQueueName, META } from '../../src/core/contract.ts';
import { dynamodb, sqs as sqsOf } from '../../src/ops/aws.ts';
import { waitConverged } from '../../dev/cli/demo.ts';
import { statusMain } from '../../src/cli/status.ts';
import type { StatusReport } from '../../src/ops/status.ts';
import { bringUp, type Running } from '../../dev/cli/up.ts';
import { eventually } from '../support/eventually.ts';
import { readTombstoneRow } from '../support/tombstones.ts';
import { queueDepth } from '../../src/ops/queue-depth.ts';

const CONFIG = path.resolve(import.meta.dirname, 'fixtures/faults-isolation.config.ts');
const TABLE = 'fiso_items';
const APP = 'fiso';
const [US, EU, AP] = ['us-west-1', 'eu-west-2', 'ap-south-2'] as const;
const REGIONS = [US, EU, AP];

let endpoint: string;
let stateDir: string;
let running: Running;

const db = (region: string) => dynamodb({ endpoint }, region);
const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: id }, sk: { N: '1' } });
const get = async (region: string, id: string) => (await db(region).send(new GetItemCommand({ TableName: TABLE, Key: key(id), ConsistentRead: true }))).Item;
const put = (region: string, id: string, attrs: Record<string, AttributeValue>) =>
  db(region).send(new PutItemCommand({ TableName: TABLE, Item: { ...key(id), ...attrs } }));

/** Messages in a region's backlog queue, visible or being retried. */
async function backlog(region: string): Promise<number> {
  const sqs = sqsOf({ endpoint }, region);
  return queueDepth(sqs, (await sqs.send(new GetQueueUrlCommand({ QueueName: backlogQueueName(APP, TABLE) }))).QueueUrl!);
}

/** `regionsync status --json` against the emulator (it reads it directly, not through the chaos proxy). */
async function status(): Promise<StatusReport> {
  let text = '';
  await statusMain(['--endpoint', endpoint, '--config', CONFIG, '--json'], (s) => (text += s));
  return JSON.parse(text) as StatusReport;
}
const parkedIn = (r: StatusReport) => Object.fromEntries(r.parked.map((p) => [p.region, p.messages]));

beforeAll(async () => {
  endpoint = inject('endpoint');
  stateDir = await mkdtemp(path.join(tmpdir(), 'regionsync-fiso-'));
  // No fault yet: the proxy is in place, faults are added and healed by the tests.
  running = await bringUp({ endpoint, configFile: CONFIG, chaos: '', stateDir, log: () => undefined });
});

afterAll(async () => {
  await running?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('region isolation', () => {
  it('with one region cut off, the other two keep replicating; its changes wait in the backlogs and all three converge after the heal', async () => {
    // Prepare
    await put(US, 'shared', { n: { N: '0' } });
    await put(EU, 'del-me', { n: { N: '0' } });
    await eventually(
      () => get(AP, 'shared'),
      (i) => i !== undefined,
    );
    await eventually(
      () => get(AP, 'del-me'),
      (i) => i !== undefined,
    );
    const heal = running.chaos!.add({ kind: 'cut', region: AP, scope: 'cross', mode: 'refuse', ms: 0 });
    // Act: writes continue in every region during the cut.
    for (let i = 0; i < 8; i++) {
      await put(US, `us-${i}`, { v: { N: String(i) } });
      await put(EU, `eu-${i}`, { v: { N: String(i) } });
      await put(AP, `ap-${i}`, { v: { N: String(i) } });
    }
    await db(EU).send(
      new UpdateItemCommand({ TableName: TABLE, Key: key('shared'), UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': { N: '1' } } }),
    );
    await db(AP).send(new DeleteItemCommand({ TableName: TABLE, Key: key('del-me') }));
    // Assess: US and EU replicate with each other while AP is cut off.
    for (let i = 0; i < 8; i++) {
      expect(
        await eventually(
          () => get(EU, `us-${i}`),
          (x) => x !== undefined,
        ),
      ).toBeDefined();
      expect(
        await eventually(
          () => get(US, `eu-${i}`),
          (x) => x !== undefined,
        ),
      ).toBeDefined();
    }
    expect(
      (
        await eventually(
          () => get(US, 'shared'),
          (x) => x?.n?.N === '1',
        )
      )?.n,
    ).toEqual({ N: '1' });
    // Nothing crossed the cut; it all waits in the source regions' backlogs.
    expect(await get(AP, 'eu-7')).toBeUndefined();
    expect(await get(US, 'ap-7')).toBeUndefined();
    expect((await get(AP, 'shared'))?.n).toEqual({ N: '0' });
    for (const r of REGIONS)
      expect(
        await eventually(
          () => backlog(r),
          (n) => n > 0,
        ),
      ).toBeGreaterThan(0);
    expect(running.chaos!.injected.cut).toBeGreaterThan(0);
    // Operators see it: status reports the parked changes in every source region (below the age threshold: no breach yet).
    const cut = await status();
    expect(cut.parked.map((p) => p.table)).toEqual([TABLE, TABLE, TABLE]);
    for (const r of REGIONS) expect(parkedIn(cut)[r], `parked in ${r}`).toBeGreaterThan(0);
    expect(cut.parked.every((p) => !p.breached && p.thresholdSeconds === 600)).toBe(true);

    // Act: heal
    heal();
    // Assess: everything arrives, all three identical, backlogs drained.
    const comparison = await waitConverged({ endpoint }, running.config.tables[0]!, 40_000);
    expect(comparison.divergent).toEqual([]);
    expect(comparison.keys).toBe(25); // 24 written during the cut and 'shared'; 'del-me' is absent everywhere
    expect((await get(AP, 'eu-7'))?.v).toEqual({ N: '7' });
    expect(regionOfVersion((await get(US, 'ap-7'))?.[META.version]?.S)).toBe(AP);
    for (const r of REGIONS) {
      expect(await get(r, 'del-me')).toBeUndefined();
      expect((await readTombstoneRow(endpoint, r, running.config.appName, TABLE, key('del-me')))?.[META.deleted]).toEqual({ BOOL: true });
    }
    expect((await get(AP, 'shared'))?.n).toEqual({ N: '1' });
    for (const r of REGIONS)
      expect(
        await eventually(
          () => backlog(r),
          (n) => n === 0,
        ),
      ).toBe(0);
    const healed = await status();
    expect(parkedIn(healed)).toEqual({ [US]: 0, [EU]: 0, [AP]: 0 });
    expect(healed.parked.map((p) => [p.oldestAgeSeconds, p.nonEmptySeconds, p.breached])).toEqual([
      [0, 0, false],
      [0, 0, false],
      [0, 0, false],
    ]);
  });

  it('a target answering with throttling errors and 500s does not hold up the others, and catches up afterwards', async () => {
    // Prepare: every SQS send into EU throttled, every one into AP answered 500.
    const heals = [
      running.chaos!.add({ kind: 'throttle', region: EU, service: 'sqs', op: 'SendMessageBatch', p: 1 }),
      running.chaos!.add({ kind: '5xx', region: AP, service: 'sqs', op: 'SendMessageBatch', p: 1, status: 500 }),
    ];
    const before = { ...running.chaos!.injected };
    // Act
    await put(US, 'thr-us', { v: { S: 'us' } });
    await put(AP, 'thr-ap', { v: { S: 'ap' } });
    // Assess: AP→US still flows (US is not faulty), US→EU and US→AP wait in the US backlog.
    expect(
      (
        await eventually(
          () => get(US, 'thr-ap'),
          (x) => x !== undefined,
        )
      )?.v,
    ).toEqual({ S: 'ap' });
    expect(
      await eventually(
        () => backlog(US),
        (n) => n > 0,
      ),
    ).toBeGreaterThan(0);
    expect(await get(EU, 'thr-us')).toBeUndefined();
    expect(running.chaos!.injected.throttle ?? 0).toBeGreaterThan(before.throttle ?? 0);
    expect(running.chaos!.injected['5xx'] ?? 0).toBeGreaterThan(before['5xx'] ?? 0);
    // Act: heal
    for (const h of heals) h();
    // Assess
    expect(
      (
        await eventually(
          () => get(EU, 'thr-us'),
          (x) => x !== undefined,
          40_000,
        )
      )?.v,
    ).toEqual({ S: 'us' });
    expect((await waitConverged({ endpoint }, running.config.tables[0]!, 40_000)).divergent).toEqual([]);
  });
});
