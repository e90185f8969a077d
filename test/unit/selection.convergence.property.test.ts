/**
 * Exclusions through the real Shipper and Applier over the in-memory DynamoDB/SQS fakes, for
 * random plain writes in two regions and random delivery orders (lww and fields): `email` is
 * excluded toward U, so every email U holds was written in U, every email E holds was written
 * in E, nothing sent to U carries E's email, and every shared attribute converges.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Applier } from '../../src/functions/applier/applier.ts';
import { META, type FunctionSettings, type StrategySpec } from '../../src/core/contract.ts';
import type { SelectionSpec } from '../../src/core/selection.ts';
import { Shipper } from '../../src/functions/shipper/shipper.ts';
import { KEY, settingsFor, silentLogger, silentMetrics } from '../support/cluster.ts';
import { FakeSqs, FakeTable, keyStates, regionClient } from '../support/fakes.ts';

const [E, U] = ['eu-west-1', 'us-east-1'] as const;
const REGIONS: readonly string[] = [E, U];
const SPEC: SelectionSpec = { to: { [U]: { exclude: ['email'] } } };

type Op =
  | { kind: 'write'; region: 0 | 1; key: number; attr: 'email' | 'total'; value: number }
  | { kind: 'ship'; region: 0 | 1 }
  | { kind: 'deliver'; pick: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    region: fc.constantFrom(0 as const, 1 as const),
    key: fc.nat(2),
    attr: fc.constantFrom('email' as const, 'total' as const),
    value: fc.nat(99),
  }),
  fc.record({ kind: fc.constant('ship' as const), region: fc.constantFrom(0 as const, 1 as const) }),
  fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(20) }),
);

const key = (k: number) => ({ pk: { S: `k${k}` }, sk: { S: 's' } });

async function run(strategy: StrategySpec, ops: readonly Op[], spec: SelectionSpec = SPEC, writes: Record<string, { S: string } | { N: string }>[] = []) {
  let t = 1_764_000_000_000;
  const now = () => t;
  const sqs = new FakeSqs();
  const tables = new Map(REGIONS.map((r) => [r, new FakeTable(r, KEY, now)]));
  const tombstones = new Map(REGIONS.map((r) => [r, new FakeTable(r, { partitionKey: META.tombstoneKey }, now)]));
  const client = (r: string) => regionClient(tables.get(r)!, tombstones.get(r)!);
  const settings = (r: string): FunctionSettings => ({ ...settingsFor(r, REGIONS, strategy), selection: spec });
  const shippers = new Map(
    REGIONS.map((r) => [r, new Shipper(settings(r), { dynamodb: client(r), sqsFor: () => sqs.client, logger: silentLogger(), metrics: silentMetrics(), now })]),
  );
  const appliers = new Map(
    REGIONS.map((r) => [r, new Applier(settings(r), { dynamodb: client(r), sqs: sqs.client, logger: silentLogger(), metrics: silentMetrics(), now })]),
  );
  const streamPos = new Map(REGIONS.map((r) => [r, 0]));
  const pending: number[] = [];
  const ship = async (r: string) => {
    const records = tables.get(r)!.stream.slice(streamPos.get(r)!);
    if (records.length === 0) return;
    const before = sqs.sent.length;
    const res = await shippers.get(r)!.handle({ Records: records });
    expect(res.batchItemFailures).toEqual([]);
    for (let i = before; i < sqs.sent.length; i++) pending.push(i);
    streamPos.set(r, streamPos.get(r)! + records.length);
  };
  const deliver = async (pick: number) => {
    const inbound = pending.filter((i) => sqs.sent[i]!.queueUrl.startsWith('inbound-'));
    if (inbound.length === 0) return;
    const index = inbound[pick % inbound.length]!;
    const m = sqs.sent[index]!;
    const region = m.queueUrl.slice('inbound-'.length);
    const res = await appliers.get(region)!.handle({
      Records: [
        {
          messageId: String(index),
          receiptHandle: 'r',
          body: m.body,
          attributes: {} as never,
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn',
          awsRegion: region,
        },
      ],
    });
    expect(res.batchItemFailures).toEqual([]);
    pending.splice(pending.indexOf(index), 1);
  };
  const settle = async () => {
    for (let guard = 0; guard < 1000; guard++) {
      t += 1;
      const backlog = REGIONS.find((r) => tables.get(r)!.stream.length > streamPos.get(r)!);
      if (backlog) await ship(backlog);
      else if (pending.some((i) => sqs.sent[i]!.queueUrl.startsWith('inbound-'))) await deliver(0);
      else break;
    }
  };
  // Scripted updates of k0 in E, each replicated before the next.
  for (const set of writes) {
    tables.get(E)!.appUpdate(key(0), set);
    await settle();
  }
  for (const o of ops) {
    t += 1;
    if (o.kind === 'write')
      tables
        .get(REGIONS[o.region]!)!
        .appUpdate(key(o.key), { [o.attr]: o.attr === 'email' ? { S: `${REGIONS[o.region]}:${o.value}` } : { N: String(o.value) } });
    else if (o.kind === 'ship') await ship(REGIONS[o.region]!);
    else await deliver(o.pick);
  }
  await settle();
  return { tables, tombstones, sqs };
}

describe.each<StrategySpec>([{ strategy: 'lww' }, { strategy: 'fields' }])('exclusions with $strategy', (strategy) => {
  it('each region keeps its own excluded attribute, nothing excluded is sent, shared attributes converge', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const { tables, tombstones, sqs } = await run(strategy, ops);
        for (const m of sqs.sent.filter((s) => s.queueUrl === `inbound-${U}`)) expect(m.body).not.toContain(`${E}:`);
        for (const r of REGIONS) {
          for (const item of tables.get(r)!.items.values()) {
            if (item.email) expect(item.email.S!.startsWith(`${r}:`)).toBe(true);
          }
        }
        // Under `fields`, an item whose only attributes are excluded ones has no visible field in U:
        // it is kept there as a tombstone. So the deleted flag is compared where a shared attribute exists.
        const shared = (r: string) =>
          [...keyStates(tables.get(r)!, tombstones.get(r)!).entries()]
            .map(([k, item]) => {
              const visible = item[META.deleted]?.BOOL !== true && item.total !== undefined;
              return [k, visible, visible ? item.total?.N : undefined, item[META.version]?.S];
            })
            .sort();
        expect(shared(U)).toEqual(shared(E));
      }),
      { numRuns: 60 },
    );
  });
});

describe.each<StrategySpec>([{ strategy: 'lww' }, { strategy: 'fields' }])('filters with $strategy', (strategy) => {
  const spec: SelectionSpec = { to: { [U]: { filter: { attribute: 'country', equals: 'US' } } } };
  const inU = async (writes: Record<string, { S: string } | { N: string }>[]) => (await run(strategy, [], spec, writes)).tables.get(U)!.get(key(0));
  const stateInU = async (writes: Record<string, { S: string } | { N: string }>[]) => {
    const { tables, tombstones } = await run(strategy, [], spec, writes);
    return { item: tables.get(U)!.get(key(0)), state: keyStates(tables.get(U)!, tombstones.get(U)!).get(tables.get(U)!.keyString(key(0))) };
  };

  it('an item that never matched never reaches the target, not even its key', async () => {
    expect(await inU([{ country: { S: 'DE' } }, { total: { N: '2' } }])).toBeUndefined();
  });

  it('an item that starts matching arrives whole', async () => {
    const item = await inU([{ country: { S: 'DE' }, total: { N: '1' } }, { country: { S: 'US' } }]);
    expect(item?.[META.deleted]).toBeUndefined();
    expect(item?.total).toEqual({ N: '1' });
  });

  it('an item that stops matching is deleted in the target', async () => {
    const { item, state } = await stateInU([{ country: { S: 'US' }, total: { N: '1' } }, { country: { S: 'FR' } }]);
    // Absent from the table; its tombstone is kept in the tombstone table.
    expect(item).toBeUndefined();
    expect(state?.[META.deleted]).toEqual({ BOOL: true });
    expect(state?.total).toBeUndefined();
    expect(state?.country).toBeUndefined();
  });
});
