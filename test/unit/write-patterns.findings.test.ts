/**
 * Issue 14, findings 7, 9 and 11: the paths by which an old or retried change could bring back
 * what a later write removed. Each test is named after its finding.
 */
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { META } from '../../src/core/contract.ts';
import { alreadyFolded, foldMarkOf } from '../../src/core/stream-record.ts';
import { Applier } from '../../src/functions/applier/applier.ts';
import { Shipper } from '../../src/functions/shipper/shipper.ts';
import { encodeMessage, type Change } from '../../src/core/change.ts';
import { encodeVersion } from '../../src/core/version.ts';
import { Cluster, KEY, settingsFor, silentLogger, silentMetrics } from '../support/cluster.ts';
import { FakeSqs, FakeTable, keyStates, regionClient } from '../support/fakes.ts';

const [US, EU] = ['us-east-1', 'eu-west-1'];
const DAY = 86_400_000;
const key = { pk: { S: 'k' }, sk: { S: 's' } };

describe('finding 7: a change older than the tombstone horizon never resurrects a deleted item', () => {
  for (const strategy of [{ strategy: 'lww' as const }, { strategy: 'fields' as const }]) {
    it(`${strategy.strategy}: a redriven change older than a tombstone lives is refused for an absent item, applied to a present one`, async () => {
      // Prepare: the applier's clock is 16 days past the change (tombstones live 15 days here)
      const table = new FakeTable(US, KEY);
      const tombstones = new FakeTable(US, { partitionKey: META.tombstoneKey });
      const sqs = new FakeSqs();
      const now = 1_764_000_000_000 + 16 * DAY;
      const applier = new Applier(settingsFor(US, [US, EU], strategy), {
        dynamodb: regionClient(table, tombstones),
        sqs: sqs.client,
        logger: silentLogger(),
        metrics: silentMetrics(),
        now: () => now,
      });
      const change = (pk: string, ms: number): Change => ({
        table: 'items',
        op: 'put',
        key: { ...key, pk: { S: pk } },
        item: { ...key, pk: { S: pk }, v: { S: 'old' } },
        version: encodeVersion({ ms, counter: 0, region: EU }),
        origin: EU,
        writtenAt: ms,
      });
      // A replicated item, older still than the change.
      table.appPut({
        ...key,
        pk: { S: 'present' },
        v: { S: 'before' },
        [META.version]: { S: encodeVersion({ ms: 1_763_000_000_000, counter: 0, region: EU }) },
        [META.origin]: { S: EU },
      });
      // Act
      const absent = await applier.apply(change('gone', 1_764_000_000_000));
      const present = await applier.apply(change('present', 1_764_000_000_000));
      const recent = await applier.apply(change('new', now - 1000));
      // Assess
      expect(absent).toBe('stale');
      expect(keyStates(table, tombstones).get(table.keyString({ ...key, pk: { S: 'gone' } }))).toBeUndefined();
      expect(recent).toBe('applied');
      // Applied: its state is kept (under `fields` this hand-made change, with no attribute versions, is a tombstone's state).
      expect(keyStates(table, tombstones).get(table.keyString({ ...key, pk: { S: 'new' } }))).toBeDefined();
      // Last writer wins compares the versions of an item that is there, as always (a per-attribute
      // strategy merges what the change carries, and this hand-made change carries no attribute versions).
      if (strategy.strategy === 'lww') {
        expect(present).toBe('applied');
        expect(table.get({ ...key, pk: { S: 'present' } })?.v).toEqual({ S: 'old' });
      }
    });
  }

  it('the refusal is a recorded conflict (both sides kept in the conflict log)', async () => {
    // Prepare
    const table = new FakeTable(US, KEY);
    const conflictLog = 'conflicts';
    const now = 1_764_000_000_000 + 16 * DAY;
    const sqs = new FakeSqs();
    const applier = new Applier(
      { ...settingsFor(US, [US, EU]), conflictLog: { tableName: conflictLog, retentionSeconds: 60 } },
      { dynamodb: table.client, sqs: sqs.client, logger: silentLogger(), metrics: silentMetrics(), now: () => now },
    );
    const version = encodeVersion({ ms: 1_764_000_000_000, counter: 0, region: EU });
    // Act
    const res = await applier.handle({
      Records: [
        {
          messageId: 'm',
          receiptHandle: 'r',
          body: encodeMessage([{ table: 'items', op: 'put', key, item: { ...key, v: { S: 'old' } }, version, origin: EU, writtenAt: 1_764_000_000_000 }]),
          attributes: {} as never,
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn',
          awsRegion: US,
        },
      ],
    });
    // Assess: the conflict log (same fake table, another table name) holds the refused change
    expect(res.batchItemFailures).toEqual([]);
    expect(sqs.sent).toEqual([]);
    const logged = [...table.items.values()].filter((i) => i.incoming !== undefined);
    expect(logged).toHaveLength(1);
    expect(logged[0]!.incoming!.M!.version).toEqual({ S: version });
    expect(table.get(key)).toBeUndefined();
  });
});

describe('finding 11: sequence numbers restart after a point-in-time restore or a re-enabled stream', () => {
  const oldStream = 'arn:aws:dynamodb:us-east-1:123456789012:table/items/stream/2026-11-01T00:00:00.000';
  const newStream = 'arn:aws:dynamodb:us-east-1:123456789012:table/items/stream/2026-12-01T00:00:00.000';

  it('the fold guard compares sequence numbers of the same stream only', () => {
    const folded = foldMarkOf(oldStream, '900'.padStart(40, '0'));
    expect(alreadyFolded(folded, foldMarkOf(oldStream, '100'.padStart(40, '0')))).toBe(true);
    expect(alreadyFolded(folded, foldMarkOf(newStream, '100'.padStart(40, '0')))).toBe(false);
    // Items folded before marks named their stream: the same stream, as before.
    expect(alreadyFolded('900'.padStart(40, '0'), foldMarkOf(newStream, '100'.padStart(40, '0')))).toBe(true);
  });

  it('a write on the new stream whose sequence number is below the last one folded is still folded and shipped', async () => {
    // Prepare: a `fields` item folded from the old stream at a high sequence number
    const table = new FakeTable(US, KEY, () => 1_764_000_000_000);
    const sqs = new FakeSqs();
    const shipper = new Shipper(settingsFor(US, [US, EU], { strategy: 'fields' }), {
      dynamodb: table.client,
      sqsFor: () => sqs.client,
      logger: silentLogger(),
      metrics: silentMetrics(),
    });
    const on = (r: DynamoDBRecord, arn: string, seq: string): DynamoDBRecord => ({
      ...r,
      eventSourceARN: arn,
      dynamodb: { ...r.dynamodb, SequenceNumber: seq },
    });
    table.appPut({ ...key, v: { S: 'one' } });
    await shipper.handle({ Records: [on(table.stream[0]!, oldStream, '900000')] });
    const sent = sqs.sent.length;
    // Act: the table's new stream starts numbering low again
    table.appUpdate(key, { v: { S: 'two' } });
    const record = table.stream.filter((r) => r.dynamodb?.NewImage?.v?.S === 'two' && !r.dynamodb?.NewImage?.[META.version])[0] ?? table.stream.at(-1)!;
    await shipper.handle({ Records: [on(record, newStream, '100')] });
    // Assess: folded (a new version of this region), not taken for the old stream's record 900000
    expect(sqs.sent.length).toBeGreaterThan(sent);
    const versionOf = (body: string) => (JSON.parse(body) as { changes: { version: string }[] }).changes[0]!.version;
    expect(versionOf(sqs.sent.at(-1)!.body)).not.toBe(versionOf(sqs.sent[sent - 1]!.body));
    expect(sqs.sent.at(-1)!.body).toContain('"two"');
    expect(table.get(key)?.[META.sequence]?.S).toBe(foldMarkOf(newStream, '100'.padStart(40, '0')));
  });
});

describe('finding 9: `_rs_sq` lost on a whole-item replace', () => {
  it('a batch retried after the application replaced the whole item folds a counter increment once', async () => {
    // Prepare: a merge counter, folded and replicated
    const strategy = { strategy: 'merge' as const, attributes: { likes: 'counter' as const } };
    const cluster = new Cluster([US, EU], {}, strategy);
    cluster.table(US).appPut({ ...key, likes: { N: '0' } });
    await cluster.drain();
    // Act: +1, whose batch fails to send once (so it is retried), then a whole-item PutItem
    // (a read-modify-write that drops `_rs_sq`) before the retry
    cluster.table(US).appAdd(key, 'likes', 1);
    cluster.sqs.failingQueues.add('inbound-eu-west-1');
    await cluster.ship(US);
    cluster.sqs.failingQueues.clear();
    const read = cluster.table(US).get(key)!;
    cluster.table(US).appPut({ ...key, likes: read.likes! });
    await cluster.drain();
    // Assess: one increment, everywhere
    expect(cluster.table(US).get(key)?.likes).toEqual({ N: '1' });
    expect(cluster.table(EU).get(key)?.likes).toEqual({ N: '1' });
  });
});

describe('finding 8: TTL', () => {
  const ttl = { ttlAttribute: 'expires' };
  const live = (cluster: Cluster, region: string) => cluster.table(region).get(key);

  it.each([
    // Tombstones are kept in the tombstone table: the re-created item has nothing to inherit.
    ['lww', { strategy: 'lww' }, (c: Cluster, r: string) => c.tombstoneTables.get(r)!.items.values().next().value],
    ['fields', { strategy: 'fields' }, (c: Cluster, r: string) => c.tombstoneTables.get(r)!.items.values().next().value],
  ] as const)("%s: an item re-created by UpdateItem on a deleted one does not inherit the tombstone's expiry (user-owned TTL attribute)", async (_name, strategy, tombstoneOf) => {
    // Prepare: an item, deleted (its tombstone carries the expiry in `expires`), everywhere
    const cluster = new Cluster([US, EU], {}, strategy, undefined, ttl);
    cluster.table(US).appPut({ ...key, v: { S: 'one' } });
    await cluster.drain();
    cluster.tick(5);
    cluster.table(US).delete(key);
    await cluster.drain();
    for (const region of [US, EU]) expect(tombstoneOf(cluster, region)?.expires).toBeDefined();
    cluster.tick(5);
    // Act: the application re-creates it with an UpdateItem, which keeps what it does not set
    cluster.table(US).appUpdate(key, { v: { S: 'two' } });
    await cluster.drain();
    // Assess
    for (const region of [US, EU]) {
      expect(live(cluster, region)?.v).toEqual({ S: 'two' });
      expect(live(cluster, region)?.[META.deleted]).toBeUndefined();
      expect(live(cluster, region)?.expires).toBeUndefined();
    }
  });

  it('an expiry the application sets on the re-created item is kept', async () => {
    // Prepare
    const cluster = new Cluster([US, EU], {}, { strategy: 'lww' }, undefined, ttl);
    cluster.table(US).appPut({ ...key, v: { S: 'one' } });
    await cluster.drain();
    cluster.table(US).delete(key);
    await cluster.drain();
    // Act
    cluster.table(US).appUpdate(key, { v: { S: 'two' }, expires: { N: '2000000000' } });
    await cluster.drain();
    // Assess
    for (const region of [US, EU]) expect(live(cluster, region)?.expires).toEqual({ N: '2000000000' });
  });

  it("the custom strategy keeps the application's TTL attribute on every write", async () => {
    // Prepare
    const cluster = new Cluster([US, EU], {}, { strategy: 'custom' }, ({ incoming }) => incoming, ttl);
    // Act
    cluster.table(US).appPut({ ...key, v: { S: 'one' }, expires: { N: '2000000000' } });
    await cluster.drain();
    cluster.table(EU).appUpdate(key, { v: { S: 'two' } });
    await cluster.drain();
    // Assess
    for (const region of [US, EU]) {
      expect(live(cluster, region)?.v).toEqual({ S: 'two' });
      expect(live(cluster, region)?.expires).toEqual({ N: '2000000000' });
    }
  });
});
