/**
 * Finding "no shard is ever blocked by one record": an item near DynamoDB's 400 KB limit, which
 * the shipper's stamp (or a merge strategy's fold) pushes over it, used to fail every invocation
 * with DynamoDB's ValidationException, so the stream mapping retried the same sequence number
 * until the record expired and nothing written after it replicated. On fakes (FakeTable enforces
 * the size limit as DynamoDB does): such a record is replicated with a compact stamp when that
 * fits, else parked in the region's stream-failures queue with the reason, and the batch goes on.
 */
import { describe, expect, it } from 'vitest';
import type { DynamoDBRecord } from 'aws-lambda';
import { Shipper } from '../../src/functions/shipper/shipper.ts';
import { decodeMessage } from '../../src/core/change.ts';
import { META, METRICS, type StrategySpec } from '../../src/core/contract.ts';
import { DYNAMODB_MAX_ITEM_BYTES, itemSizeBytes } from '../../src/core/item-size.ts';
import { parseStreamFailureMessage } from '../../src/core/stream-failures.ts';
import { encodeVersion } from '../../src/core/version.ts';
import { stampInput } from '../../src/core/writes.ts';
import { KEY, queueUrl, settingsFor, silentLogger } from '../support/cluster.ts';
import { FakeSqs, FakeTable } from '../support/fakes.ts';

const REGIONS = ['us-west-1', 'eu-west-2'];
const [US, EU] = REGIONS as [string, string];
const FAILURES = 'stream-failures-us-west-1';

function recordingMetrics() {
  const counts = new Map<string, number>();
  const metrics = {
    addMetric: (name: string, _unit: unknown, n: number) => counts.set(name, (counts.get(name) ?? 0) + n),
    publishStoredMetrics: () => undefined,
  };
  return { counts, metrics: metrics as never };
}

function setup(strategy: StrategySpec = { strategy: 'lww' }) {
  const table = new FakeTable(US, KEY);
  table.maxItemBytes = DYNAMODB_MAX_ITEM_BYTES;
  const sqs = new FakeSqs();
  const { counts, metrics } = recordingMetrics();
  const shipper = new Shipper(
    { ...settingsFor(US, REGIONS, strategy), streamFailureQueueUrl: FAILURES },
    { dynamodb: table.client, sqsFor: () => sqs.client, logger: silentLogger(), metrics },
  );
  return { table, sqs, shipper, counts };
}

/** An item of exactly `bytes` (item-size.ts), key included. */
function itemOfSize(id: string, bytes: number) {
  const base = { pk: { S: id }, sk: { N: '1' }, blob: { S: '' } };
  return { ...base, blob: { S: 'x'.repeat(bytes - itemSizeBytes(base)) } };
}

/** What the smallest stamp regionsync can write adds: version, origin and writer. */
function compactStampBytes(): number {
  return itemSizeBytes({
    [META.version]: { S: encodeVersion({ ms: Date.now(), counter: 0, region: US }) },
    [META.writer]: { S: 'stamp' },
    [META.contentHash]: { S: 'x'.repeat(11) },
  });
}

const shippedKeys = (sqs: FakeSqs, region: string) =>
  sqs.sent.filter((m) => m.queueUrl === queueUrl(region)).flatMap((m) => decodeMessage(m.body).changes.map((c) => c.key.pk?.S));

describe('no shard is ever blocked by one record', () => {
  it('an item the stamp pushes over 400 KB is parked with its reason, and the records after it ship', async () => {
    // Prepare: an item 10 bytes under the limit (no stamp fits), then a small write.
    const { table, sqs, shipper, counts } = setup();
    table.appPut(itemOfSize('big', DYNAMODB_MAX_ITEM_BYTES - 10));
    table.appPut({ pk: { S: 'after' }, sk: { N: '1' }, v: { S: 'ok' } });
    const records: DynamoDBRecord[] = [...table.stream];
    // Act
    const res = await shipper.handle({ Records: records });
    // Assess: the batch succeeds; the later write ships; the big one is parked, named and sized.
    expect(res.batchItemFailures).toEqual([]);
    expect(shippedKeys(sqs, EU)).toEqual(['after']);
    const parked = sqs.sent.filter((m) => m.queueUrl === FAILURES);
    expect(parked).toHaveLength(1);
    const message = parseStreamFailureMessage(parked[0]!.body);
    expect(message.kind).toBe('parked');
    if (message.kind !== 'parked') return;
    expect(message.record.key).toEqual({ pk: { S: 'big' }, sk: { N: '1' } });
    expect(message.record.sequenceNumber).toBe(records[0]!.dynamodb!.SequenceNumber);
    expect(message.record.itemBytes).toBe(DYNAMODB_MAX_ITEM_BYTES - 10);
    expect(message.record.failed).toBe('stamp');
    expect(message.record.reason).toMatch(/ValidationException.*Item size/);
    expect(parked[0]!.attributes?.reason).toMatchObject({ StringValue: expect.stringMatching(/pk="big".*too large/) });
    expect(counts.get(METRICS.names.recordsParked)).toBe(1);
  });

  it('an item that has room for a compact stamp (no version vector) but not the full one still replicates', async () => {
    // Prepare: room for version, origin, writer and content hash, not for the version vector.
    const { table, sqs, shipper, counts } = setup();
    table.appPut(itemOfSize('tight', DYNAMODB_MAX_ITEM_BYTES - compactStampBytes() - 4));
    // Act
    const res = await shipper.handle({ Records: [...table.stream] });
    // Assess
    expect(res.batchItemFailures).toEqual([]);
    expect(shippedKeys(sqs, EU)).toEqual(['tight']);
    const stored = table.get({ pk: { S: 'tight' }, sk: { N: '1' } })!;
    expect(stored[META.version]?.S).toMatch(new RegExp(`\\.${US}$`));
    expect(stored[META.vector]).toBeUndefined();
    expect(sqs.sent.filter((m) => m.queueUrl === FAILURES)).toEqual([]);
    expect(counts.get(METRICS.names.recordsParked)).toBeUndefined();
  });

  it('a merge-strategy fold that would exceed the limit is parked too, and the batch goes on', async () => {
    // Prepare: `fields` keeps a version per attribute, which the item has no room for.
    const { table, sqs, shipper } = setup({ strategy: 'fields' });
    table.appPut(itemOfSize('folded', DYNAMODB_MAX_ITEM_BYTES - 10));
    table.appPut({ pk: { S: 'after' }, sk: { N: '1' }, v: { S: 'ok' } });
    // Act
    const res = await shipper.handle({ Records: [...table.stream] });
    // Assess
    expect(res.batchItemFailures).toEqual([]);
    expect(shippedKeys(sqs, EU)).toEqual(['after']);
    const parked = sqs.sent.filter((m) => m.queueUrl === FAILURES).map((m) => parseStreamFailureMessage(m.body));
    expect(parked).toMatchObject([{ kind: 'parked', record: { failed: 'fold', key: { pk: { S: 'folded' } } } }]);
  });

  it('a transient error still fails the batch from that record (the mapping retries it, within its bounds)', async () => {
    // Prepare: DynamoDB throttles every write.
    const { table, sqs, shipper } = setup();
    table.appPut({ pk: { S: 'a' }, sk: { N: '1' }, v: { S: 'x' } });
    const throttled = Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' });
    const throttling = { send: () => Promise.reject(throttled) };
    const s = new Shipper(
      { ...settingsFor(US, REGIONS), streamFailureQueueUrl: FAILURES },
      { dynamodb: throttling as never, sqsFor: () => sqs.client, logger: silentLogger(), metrics: recordingMetrics().metrics },
    );
    void shipper;
    // Act
    const res = await s.handle({ Records: [...table.stream] });
    // Assess
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: table.stream[0]!.dynamodb!.SequenceNumber }]);
    expect(sqs.sent).toEqual([]);
  });

  it("the compact stamp keeps the full stamp's condition (a replicated change that landed since is never overwritten)", () => {
    // Prepare
    const version = { ms: 1_764_000_000_000, counter: 0, region: US };
    const args = {
      tableName: 't',
      key: { pk: { S: 'a' }, sk: { N: '1' } },
      keySchema: KEY,
      version,
      image: { pk: { S: 'a' }, sk: { N: '1' } },
      ttlAttribute: META.expiresAt,
    };
    for (const expectedVersion of [undefined, encodeVersion(version)]) {
      // Act
      const full = stampInput({ ...args, expectedVersion, vector: {} });
      const compact = stampInput({ ...args, expectedVersion });
      // Assess
      const resolve = (i: typeof full) =>
        i
          .ConditionExpression!.replace(/#\w+/g, (n) => i.ExpressionAttributeNames![n]!)
          .replace(/:\w+/g, (v) => JSON.stringify(i.ExpressionAttributeValues![v]));
      expect(resolve(compact)).toBe(resolve(full));
      expect(compact.UpdateExpression!.split(' REMOVE ')[0]).not.toContain('#vv');
      expect(compact.UpdateExpression!.split(' REMOVE ')[1]).toContain('#vv');
    }
  });
});
