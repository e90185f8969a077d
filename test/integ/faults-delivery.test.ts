/**
 * Delivery faults on moto, the functions' calls through the chaos proxy (`regionsync up --chaos`):
 * a Lambda runtime crash mid-batch (shipper on its stream, applier on its queue), SQS deliveries
 * duplicated (a send performed twice, a delete acknowledged but not performed), SQS deliveries
 * reordered, added latency between regions and calls that hang. Each is injected, shown to have happened, healed, and every write must arrive in
 * both regions with nothing in a dead-letter queue.
 *
 * The queues' visibility timeout is shortened to 5 s (3 min as deployed) so that the messages of
 * a crashed invocation, or of a lost delete, come back within the test.
 */
import { GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogQueueName, deadLetterQueueName, inboundQueueName } from '../../src/core/contract.ts';
import { dynamodb, sqs as sqsOf } from '../../src/ops/aws.ts';
import { waitConverged } from '../../dev/cli/demo.ts';
import type { Running } from '../../dev/cli/up.ts';
import type { ProxyRequest, ProxyResponse } from '../../dev/local/aws-proxy.ts';
import { setVisibilityTimeout } from '../../dev/local/queue-visibility.ts';
import { eventually } from '../support/eventually.ts';
import { queueDepth } from '../../src/ops/queue-depth.ts';
import { SHARED_APP, sharedDeployment, sharedTable, startSharedRuntime } from '../support/shared-deployment.ts';
import { sleep } from '../../src/core/concurrency.ts';

// Its own table of the shared deployment (fixtures/shared.config.ts). The faults are made by its
// own chaos proxy, which only its runtime (running only this table's functions) calls through.
const TABLE = 'fdel_items';
const APP = SHARED_APP;
const [EU, AP] = ['eu-west-1', 'ap-southeast-2'] as const;
const REGIONS = [EU, AP];

let endpoint: string;
let running: Running;

const db = (region: string) => dynamodb({ endpoint }, region);
const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: id } });
const get = async (region: string, id: string) => (await db(region).send(new GetItemCommand({ TableName: TABLE, Key: key(id), ConsistentRead: true }))).Item;
const put = (region: string, id: string, v: string) => db(region).send(new PutItemCommand({ TableName: TABLE, Item: { ...key(id), v: { S: v } } }));

/** Messages in a region's dead-letter queue, visible or not. */
async function deadLetters(region: string): Promise<number> {
  const sqs = sqsOf({ endpoint }, region);
  return queueDepth(sqs, (await sqs.send(new GetQueueUrlCommand({ QueueName: deadLetterQueueName(APP, TABLE) }))).QueueUrl!);
}

interface Delivery {
  readonly region: string;
  readonly messageId: string;
  readonly body: string;
}

/** Records every message the inbound queues hand out (after the faults), as the applier receives them. */
function watchInbound(): { deliveries: Delivery[]; stop: () => void } {
  const deliveries: Delivery[] = [];
  const stop = running.proxy!.addHooks({
    onResponse(req: ProxyRequest, res: ProxyResponse) {
      if (req.operation !== 'ReceiveMessage' || res.status !== 200 || !req.body.toString().includes(inboundQueueName(APP, TABLE))) return;
      const messages = (JSON.parse(res.body.toString() || '{}') as { Messages?: Array<{ MessageId: string; Body: string }> }).Messages ?? [];
      for (const m of messages) deliveries.push({ region: req.region!, messageId: m.MessageId, body: m.Body });
    },
  });
  return { deliveries, stop };
}

const repeated = (xs: readonly string[]): string[] => xs.filter((x, i) => xs.indexOf(x) !== i);

async function expectAllConverged(expected: Record<string, string>): Promise<void> {
  const comparison = await waitConverged({ endpoint }, sharedTable(running.config, TABLE), 40_000);
  expect(comparison.divergent).toEqual([]);
  for (const region of REGIONS) {
    for (const [id, v] of Object.entries(expected)) expect({ region, id, v: (await get(region, id))?.v?.S }).toEqual({ region, id, v });
    expect(await deadLetters(region)).toBe(0);
  }
}

beforeAll(async () => {
  const shared = await sharedDeployment();
  endpoint = shared.endpoint;
  // No fault yet: the proxy is in place, faults are added and healed by the tests.
  running = await startSharedRuntime({ endpoint, config: shared.config, tables: [TABLE], chaos: '' });
  for (const r of REGIONS) await setVisibilityTimeout(endpoint, r, [inboundQueueName(APP, TABLE), backlogQueueName(APP, TABLE)], 5);
});

afterAll(async () => {
  await running?.stop();
});

describe('delivery faults', () => {
  it('a Lambda crash mid-batch: the shipper retries its stream batch, the applier gets its messages again, nothing is lost', async () => {
    const chaos = running.chaos!;
    const expected: Record<string, string> = {};
    const writeBurst = async (region: string, prefix: string, round: number) => {
      // Concurrent writes land in one stream batch: an invocation that makes several calls.
      await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) => {
          expected[`${prefix}-${round}-${i}`] = `${prefix}${round}.${i}`;
          return put(region, `${prefix}-${round}-${i}`, `${prefix}${round}.${i}`);
        }),
      );
    };
    const crashedIn = (fnRole: string, region: string) => chaos.crashes.filter((c) => c.region === region && c.function.toLowerCase().includes(fnRole));

    // Act: the shipper in EU is killed at its second call of each invocation.
    let heal = chaos.add({ kind: 'crash', region: EU, function: 'shipper', p: 1, after: 1 });
    for (let round = 0; round < 4 && crashedIn('shipper', EU).length === 0; round++) {
      await writeBurst(EU, 'shipper', round);
      await eventually(
        () => crashedIn('shipper', EU).length,
        (n) => n > 0,
        5_000,
      );
    }
    heal();
    // Assess: it crashed after a call had taken effect, and the function came back in a fresh environment.
    const shipperCrash = crashedIn('shipper', EU)[0];
    expect(shipperCrash?.afterCalls).toBe(1);
    expect(
      await eventually(
        () => crashedIn('shipper', EU)[0]?.restartedAt,
        (t) => t !== undefined,
      ),
    ).toBeDefined();

    // Act: the applier in AP is killed at its second call, with the messages of EU's writes in hand.
    heal = chaos.add({ kind: 'crash', region: AP, function: 'applier', p: 1, after: 1 });
    for (let round = 0; round < 4 && crashedIn('applier', AP).length === 0; round++) {
      await writeBurst(EU, 'applier', round);
      await eventually(
        () => crashedIn('applier', AP).length,
        (n) => n > 0,
        5_000,
      );
    }
    heal();
    // Assess: the failed invocation is reported as a crashed runtime, and after the visibility timeout everything arrives.
    expect(crashedIn('applier', AP)[0]?.afterCalls).toBe(1);
    const applierStats = running.runtime!.stats().find((s) => s.region === AP && s.eventSourceArn.endsWith(inboundQueueName(APP, TABLE)))!;
    expect(applierStats.failures).toBeGreaterThan(0);
    expect(chaos.injected.crash).toBeGreaterThanOrEqual(2);
    await expectAllConverged(expected);
  });

  it('duplicated deliveries: a send performed twice and a lost delete deliver a change again, and an old duplicate never undoes a newer write', async () => {
    const chaos = running.chaos!;
    const before = chaos.injected.duplicate ?? 0;
    const watch = watchInbound();
    try {
      // Act: every send into AP happens twice.
      let heal = chaos.add({ kind: 'duplicate', region: AP, op: 'SendMessageBatch', p: 1 });
      await put(EU, 'dup-send', 'one');
      expect(
        (
          await eventually(
            () => get(AP, 'dup-send'),
            (i) => i !== undefined,
          )
        )?.v,
      ).toEqual({ S: 'one' });
      // Assess: AP's applier got the same change in two messages.
      const bodies = await eventually(
        () => repeated(watch.deliveries.filter((d) => d.region === AP).map((d) => d.body)),
        (r) => r.length > 0,
        10_000,
      );
      expect(bodies.length).toBeGreaterThan(0);
      heal();

      // Act: EU's deletes are acknowledged but not done: v1's message comes back after 5 s, after v2 applied.
      heal = chaos.add({ kind: 'duplicate', region: EU, op: 'DeleteMessageBatch', p: 1 });
      await put(AP, 'dup-del', 'v1');
      await eventually(
        () => get(EU, 'dup-del'),
        (i) => i?.v?.S === 'v1',
      );
      await put(AP, 'dup-del', 'v2');
      await eventually(
        () => get(EU, 'dup-del'),
        (i) => i?.v?.S === 'v2',
      );
      const redelivered = await eventually(
        () => repeated(watch.deliveries.filter((d) => d.region === EU).map((d) => d.messageId)),
        (r) => r.length >= 2,
        15_000,
      );
      heal();
      // Assess: the same messages (same ids) were delivered again, and v2 stands.
      expect(redelivered.length).toBeGreaterThanOrEqual(2);
      expect(chaos.injected.duplicate).toBeGreaterThan(before);
      await expectAllConverged({ 'dup-send': 'one', 'dup-del': 'v2' });
    } finally {
      watch.stop();
    }
  });

  it('added latency between regions and a region whose calls hang: changes still arrive, nothing is lost', async () => {
    const chaos = running.chaos!;
    const before = { latency: chaos.injected.latency ?? 0, cut: chaos.injected.cut ?? 0 };
    // Act: EU's calls into AP take 300-400 ms longer
    let heal = chaos.add({ kind: 'latency', from: EU, to: AP, ms: 300, jitter: 100 });
    await Promise.all([0, 1, 2].map((i) => put(EU, `slow-${i}`, 'late')));
    await eventually(
      () => get(AP, 'slow-2'),
      (i) => i !== undefined,
    );
    heal();
    // Act: AP's side of every cross-region call hangs for 1.5 s and then the connection closes
    heal = chaos.add({ kind: 'cut', region: AP, scope: 'cross', mode: 'hang', ms: 1500 });
    await Promise.all([0, 1, 2].map((i) => put(EU, `hung-${i}`, 'parked')));
    await eventually(
      () => chaos.injected.cut ?? 0,
      (n) => n > before.cut,
      15_000,
    );
    heal();
    // Assess: both faults were felt, and everything arrived once they were gone
    expect(chaos.injected.latency ?? 0).toBeGreaterThan(before.latency);
    expect(chaos.injected.cut ?? 0).toBeGreaterThan(before.cut);
    await expectAllConverged({ 'slow-0': 'late', 'slow-1': 'late', 'slow-2': 'late', 'hung-0': 'parked', 'hung-1': 'parked', 'hung-2': 'parked' });
  });

  it('reordered deliveries: shuffled and held-back messages still leave every key at its last write', async () => {
    const chaos = running.chaos!;
    const before = chaos.injected.reorder ?? 0;
    const expected: Record<string, string> = {};
    // Act: every receive from AP's inbound queue is shuffled and some of it held back.
    const heal = chaos.add({ kind: 'reorder', region: AP, p: 1 });
    for (let round = 1; round <= 4; round++) {
      await Promise.all(
        [0, 1, 2, 3, 4].map((i) => {
          expected[`ord-${i}`] = `r${round}`;
          return put(EU, `ord-${i}`, `r${round}`);
        }),
      );
      await sleep(150);
    }
    await eventually(
      () => chaos.injected.reorder ?? 0,
      (n) => n > before + 2,
      15_000,
    );
    heal();
    // Assess
    expect(chaos.injected.reorder ?? 0).toBeGreaterThan(before);
    await expectAllConverged(expected);
  });
});
