/**
 * Review finding 10: a region whose clock ran a day ahead won every conflict for a day and pushed
 * every other region's clock a day forward. What the clock bound (src/core/clock-bound.ts)
 * promises, and these tests check:
 *
 * - no hybrid logical clock is ever pushed more than `maxClockOffsetSeconds` ahead of its own wall
 *   clock, however far ahead another clock runs, and versions stay strictly increasing;
 * - no region applies a change whose version is more than the bound ahead of its clock: it waits
 *   (retried) or is dead-lettered with the reason, never lost and never rewritten;
 * - a client-helper write from an application host whose clock runs ahead is restamped at the
 *   origin with the shipper's clock (`lww`), so it wins no conflict against a later write elsewhere;
 *   the client helper itself refuses to write when it can see its clock is ahead of DynamoDB's.
 *
 * Not promised: a region whose own stamping clock runs beyond the bound has its changes held back,
 * not reordered; once applied (the clock fixed, the DLQ redriven) they win by their version. That
 * case is loud (ChangesAheadOfClock alarm) and needs its clock fixed.
 */
import fc from 'fast-check';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { Applier } from '../../src/functions/applier/applier.ts';
import { encodeMessage, type Change } from '../../src/core/change.ts';
import { admitChange, clientWriteAheadMs, hostAheadOfServerMs, restampFloor } from '../../src/core/clock-bound.ts';
import { META, type FunctionSettings } from '../../src/core/contract.ts';
import { ClockOffsetError } from '../../src/core/errors.ts';
import type { Pair, PairMetricsSink } from '../../src/core/metrics.ts';
import { compareVersions, decodeVersion, encodeVersion, HybridLogicalClock, type Version } from '../../src/core/version.ts';
import { RegionSyncClient } from '../../src/client/client.ts';
import { Cluster, KEY, settingsFor, silentLogger, silentMetrics } from '../support/cluster.ts';
import { FakeSqs, FakeTable } from '../support/fakes.ts';

const DAY = 86_400_000;
const BOUND = 5_000;
const T0 = 1_764_000_000_000;
const US = 'us-east-1';
const EU = 'eu-west-1';
const v = (ms: number, region = EU, counter = 0): Version => ({ ms, counter, region });

describe('finding 10: the hybrid logical clock adopts no floor beyond the bound', () => {
  it('is never pushed more than the bound ahead of its wall clock, however far ahead a floor is, and stays strictly increasing', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            advance: fc.integer({ min: -2_000, max: 5_000 }),
            floorOffset: fc.option(fc.oneof(fc.integer({ min: -DAY, max: DAY }), fc.integer({ min: -10, max: BOUND + 10 }))),
            counter: fc.integer({ min: 0, max: 999_999 }),
            region: fc.constantFrom(US, EU, 'ap-southeast-1'),
          }),
          { minLength: 1, maxLength: 100 },
        ),
        (steps) => {
          // Prepare
          let wall = T0;
          let maxWall = Number.NEGATIVE_INFINITY;
          const clock = new HybridLogicalClock(EU, () => wall, BOUND);
          let prev: Version | undefined;
          for (const s of steps) {
            wall += s.advance;
            maxWall = Math.max(maxWall, wall);
            const floor = s.floorOffset === null ? undefined : v(wall + s.floorOffset, s.region, s.counter);
            // Act
            let next: Version;
            try {
              next = clock.next(floor);
            } catch (e) {
              // Assess: refused only for a floor at or beyond the bound, with the typed error
              expect(e).toBeInstanceOf(ClockOffsetError);
              expect(floor!.ms).toBeGreaterThanOrEqual(maxWall + BOUND);
              continue;
            }
            // Assess: monotonic, above the floor (a later local write wins), within the bound
            if (prev) expect(compareVersions(prev, next)).toBeLessThan(0);
            if (floor) expect(compareVersions(floor, next)).toBeLessThan(0);
            expect(next.ms).toBeLessThanOrEqual(maxWall + BOUND);
            prev = next;
          }
        },
      ),
      {
        numRuns: 300,
        // The bound is from the highest wall reading the clock itself took (here T0 − 2, not T0).
        examples: [
          [
            [
              { advance: -2, floorOffset: null, counter: 0, region: US },
              { advance: -3, floorOffset: 5004, counter: 0, region: US },
              { advance: 0, floorOffset: null, counter: 0, region: US },
            ],
          ],
        ],
      },
    );
  });

  it('names how far ahead the floor is in its error', () => {
    // Prepare
    const clock = new HybridLogicalClock(US, () => T0, BOUND);
    // Act
    const act = () => clock.next(v(T0 + DAY));
    // Assess
    expect(act).toThrow(ClockOffsetError);
    expect(act).toThrow(/86400000 ms ahead/);
  });
});

function recordingPairMetrics(): PairMetricsSink & { ahead: Pair[]; applied: number } {
  const ahead: Pair[] = [];
  const sink = {
    ahead,
    applied: 0,
    shipped: () => undefined,
    publish: () => undefined,
    applyOutcome: () => void sink.applied++,
    aheadOfClock: (pair: Pair) => void ahead.push(pair),
  };
  return sink;
}

function applierAt(now: () => number, holdMs = 27 * 60_000) {
  const table = new FakeTable(US, KEY);
  const sqs = new FakeSqs();
  const pairMetrics = recordingPairMetrics();
  const settings: FunctionSettings = { ...settingsFor(US, [US, EU]), clockBound: { maxOffsetMs: BOUND, holdMs } };
  const applier = new Applier(settings, { dynamodb: table.client, sqs: sqs.client, logger: silentLogger(), metrics: silentMetrics(), now, pairMetrics });
  return { table, sqs, applier, pairMetrics };
}

function changeAt(ms: number, value = 'eu'): Change {
  const key = { pk: { S: 'k' }, sk: { S: 's' } };
  return { table: 'items', op: 'put', key, item: { ...key, a: { S: value } }, version: encodeVersion(v(ms)), origin: EU, writtenAt: T0 };
}

function sqsEvent(body: string) {
  return {
    Records: [
      {
        messageId: 'm1',
        receiptHandle: 'r',
        body,
        attributes: {} as never,
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn',
        awsRegion: US,
      },
    ],
  };
}

describe('finding 10: the applier applies no change from more than the bound in the future', () => {
  it('dead-letters a change from a clock a day ahead with the reason, counts it, and applies it when redriven once the clocks agree', async () => {
    // Prepare
    let now = T0;
    const { table, sqs, applier, pairMetrics } = applierAt(() => now);
    // Act
    const res = await applier.handle(sqsEvent(encodeMessage([changeAt(T0 + DAY)])));
    // Assess: not applied, parked with the reason (not retried: retries cannot wait a day), counted per pair
    expect(table.items.size).toBe(0);
    expect(res.batchItemFailures).toEqual([]);
    const parked = sqs.sent.filter((m) => m.queueUrl === `dlq-${US}`);
    expect(parked).toHaveLength(1);
    expect(String((parked[0]!.attributes as Record<string, { StringValue: string }>).reason.StringValue)).toMatch(/86400000 ms ahead of this region's clock/);
    expect(pairMetrics.ahead).toEqual([{ table: 'items', source: EU, target: US }]);
    // Act: a day later, the operator redrives the DLQ
    now = T0 + DAY;
    await applier.handle(sqsEvent(parked[0]!.body));
    // Assess: nothing was lost
    expect([...table.items.values()][0]?.a).toEqual({ S: 'eu' });
  });

  it('holds a change a little beyond the bound back with its message and applies it once within the bound, with no operator', async () => {
    // Prepare
    let now = T0;
    const { table, sqs, applier, pairMetrics } = applierAt(() => now);
    const body = encodeMessage([changeAt(T0 + BOUND + 2_000)]);
    // Act
    const first = await applier.handle(sqsEvent(body));
    // Assess: the message is retried (visibility timeout), nothing dead-lettered
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(table.items.size).toBe(0);
    expect(sqs.sent).toEqual([]);
    expect(pairMetrics.ahead).toHaveLength(1);
    // Act: the redelivery, 3 minutes later
    now += 180_000;
    const second = await applier.handle(sqsEvent(body));
    // Assess
    expect(second.batchItemFailures).toEqual([]);
    expect(table.items.size).toBe(1);
  });

  it('applies a change within the bound at once (skew inside the bound is ordinary HLC ordering)', async () => {
    // Prepare
    const { table, applier, pairMetrics } = applierAt(() => T0);
    // Act
    const res = await applier.handle(sqsEvent(encodeMessage([changeAt(T0 + BOUND)])));
    // Assess
    expect(res.batchItemFailures).toEqual([]);
    expect(table.items.size).toBe(1);
    expect(pairMetrics.ahead).toEqual([]);
  });
});

describe('finding 10: an application host whose clock runs a day ahead wins no conflict', () => {
  it('a client-helper write from a host a day ahead loses to a later concurrent write in another region, and pushes no clock', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: BOUND + 1_001, max: 2 * DAY }),
        fc.boolean(),
        async (laterMs, hostAheadMs, deliverEuFirst) => {
          // Prepare: eu-west-1's application host clock runs ahead; every AWS clock is right
          const cluster = new Cluster([US, EU]);
          const eu = new RegionSyncClient({
            dynamodb: cluster.table(EU).client,
            region: EU,
            table: { name: 'items', partitionKey: 'pk', sortKey: 'sk' },
            now: () => cluster.time + hostAheadMs,
          });
          // Act: eu writes through the helper; later, before eu's write reaches it, us-east-1 writes the same item
          await eu.put({ pk: 'k', sk: 's', a: 'eu' });
          await cluster.ship(EU);
          if (deliverEuFirst) await cluster.drain();
          cluster.tick(laterMs);
          cluster.table(US).appPut({ pk: { S: 'k' }, sk: { S: 's' }, a: { S: 'us' } });
          await cluster.drain();
          // Assess: the later write wins everywhere, and no version is beyond the bound of true time
          for (const region of [US, EU]) {
            const item = cluster.table(region).items.values().next().value!;
            expect(item.a).toEqual({ S: 'us' });
            expect(decodeVersion(item[META.version]?.S)!.ms).toBeLessThanOrEqual(cluster.time + BOUND);
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});

/** A real DynamoDBClient whose HTTP layer answers with `Date: serverNow` and the given bodies. */
function dynamodbAnswering(serverNow: () => number, bodies: { GetItem: object; PutItem?: object }): { client: DynamoDBClient; puts: number } {
  const seen = { puts: 0 };
  const client = new DynamoDBClient({
    region: US,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    requestHandler: {
      handle: async (request: { headers: Record<string, string> }) => {
        const op = String(request.headers['x-amz-target']).split('.')[1] as 'GetItem' | 'PutItem';
        if (op === 'PutItem') seen.puts++;
        const body = JSON.stringify(bodies[op] ?? {});
        return {
          response: {
            statusCode: 200,
            headers: {
              'content-type': 'application/x-amz-json-1.0',
              date: new Date(serverNow()).toUTCString(),
              'content-length': String(Buffer.byteLength(body)),
            },
            body: new Blob([body]).stream(),
          },
        };
      },
    } as never,
  });
  return {
    client,
    get puts() {
      return seen.puts;
    },
  };
}

describe('finding 10: the client helper refuses to version with a clock beyond the bound', () => {
  const table = { name: 'items', partitionKey: 'pk' };

  it('refuses to write, and says so, when its host clock is ahead of the time in DynamoDB`s responses', async () => {
    // Prepare
    const dynamodb = dynamodbAnswering(() => T0, { GetItem: {} });
    const client = new RegionSyncClient({ dynamodb: dynamodb.client, region: US, table, now: () => T0 + 60_000 });
    // Act
    const write = client.put({ pk: 'a', x: 1 });
    // Assess
    await expect(write).rejects.toBeInstanceOf(ClockOffsetError);
    await expect(client.put({ pk: 'a', x: 1 })).rejects.toThrow(/this host's clock is .* ahead of DynamoDB's/);
    expect(dynamodb.puts).toBe(0);
  });

  it('refuses to write above an item version beyond the bound ahead of its clock (its clock is behind, or the version is from the future)', async () => {
    // Prepare
    const stored = { pk: { S: 'a' }, [META.version]: { S: encodeVersion(v(T0 + DAY)) }, [META.origin]: { S: EU } };
    const dynamodb = dynamodbAnswering(() => T0, { GetItem: { Item: stored } });
    const client = new RegionSyncClient({ dynamodb: dynamodb.client, region: US, table, now: () => T0 });
    // Act + Assess
    await expect(client.put({ pk: 'a', x: 1 })).rejects.toBeInstanceOf(ClockOffsetError);
    expect(dynamodb.puts).toBe(0);
  });

  it('writes as usual when its clock agrees with DynamoDB`s within the bound', async () => {
    // Prepare
    const dynamodb = dynamodbAnswering(() => T0, { GetItem: {}, PutItem: {} });
    const client = new RegionSyncClient({ dynamodb: dynamodb.client, region: US, table, now: () => T0 + BOUND });
    // Act
    const { version } = await client.put({ pk: 'a', x: 1 });
    // Assess
    expect(decodeVersion(version)!.ms).toBe(T0 + BOUND);
    expect(dynamodb.puts).toBe(1);
  });
});

describe('clock-bound pure functions', () => {
  it('admitChange: applies within the bound, waits when retries can reach it, dead-letters beyond', () => {
    const bound = { maxOffsetMs: BOUND, holdMs: 60_000 };
    expect(admitChange(v(T0 + BOUND), T0, bound)).toEqual({ kind: 'apply' });
    expect(admitChange(v(T0 - DAY), T0, bound)).toEqual({ kind: 'apply' });
    expect(admitChange(v(T0 + BOUND + 60_000), T0, bound)).toMatchObject({ kind: 'wait', aheadMs: BOUND + 60_000 });
    expect(admitChange(v(T0 + BOUND + 60_001), T0, bound)).toMatchObject({ kind: 'dead-letter', aheadMs: BOUND + 60_001 });
  });

  it('clientWriteAheadMs: allows the stream time`s rounding down to the second, and nothing more', () => {
    // A whole-second creation time: the write happened in [t, t + 1000).
    expect(clientWriteAheadMs(v(T0 + 1_000 + BOUND), T0, BOUND)).toBeUndefined();
    expect(clientWriteAheadMs(v(T0 + 1_000 + BOUND + 1), T0, BOUND)).toBe(BOUND + 1);
    // A millisecond creation time is exact.
    expect(clientWriteAheadMs(v(T0 + 7 + BOUND + 1), T0 + 7, BOUND)).toBe(BOUND + 1);
  });

  it('restampFloor: keeps a replaced version within the bound, holds one beyond it to the bound', () => {
    expect(restampFloor(undefined, T0, BOUND)).toBeUndefined();
    expect(restampFloor(v(T0 + BOUND, US, 3), T0, BOUND)).toEqual(v(T0 + BOUND, US, 3));
    expect(restampFloor(v(T0 + DAY, US, 3), T0, BOUND)).toEqual(v(T0 + BOUND, US, 0));
  });

  it('hostAheadOfServerMs: never overstates the lead (the Date header is whole seconds)', () => {
    expect(hostAheadOfServerMs(T0 + 1_000 + BOUND, T0, BOUND)).toBeUndefined();
    expect(hostAheadOfServerMs(T0 + 1_000 + BOUND + 1, T0, BOUND)).toBe(BOUND + 1);
    expect(hostAheadOfServerMs(T0 - DAY, T0, BOUND)).toBeUndefined();
  });
});
