import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../support/cluster.ts';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1', 'sa-east-1', 'ca-central-1'];

type Op =
  | { kind: 'put'; region: number; key: number; value: number }
  | { kind: 'update'; region: number; key: number; attr: 'a' | 'b'; value: number }
  | { kind: 'delete'; region: number; key: number }
  | { kind: 'ship'; region: number; max: number }
  | { kind: 'deliver'; pick: number; duplicate: boolean }
  | { kind: 'tick'; ms: number };

const opArb = (regions: number, keys: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({ kind: fc.constant('put' as const), region: fc.nat(regions - 1), key: fc.nat(keys - 1), value: fc.integer({ min: 0, max: 99 }) }),
    fc.record({
      kind: fc.constant('update' as const),
      region: fc.nat(regions - 1),
      key: fc.nat(keys - 1),
      attr: fc.constantFrom('a' as const, 'b' as const),
      value: fc.integer({ min: 0, max: 99 }),
    }),
    fc.record({ kind: fc.constant('delete' as const), region: fc.nat(regions - 1), key: fc.nat(keys - 1) }),
    fc.record({ kind: fc.constant('ship' as const), region: fc.nat(regions - 1), max: fc.integer({ min: 1, max: 5 }) }),
    fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(50), duplicate: fc.boolean() }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 5 }) }),
  );

const key = (k: number) => ({ pk: { S: `k${k}` }, sk: { S: 'x' } });

async function run(cluster: Cluster, ops: readonly Op[]): Promise<void> {
  const r = (i: number) => cluster.regions[i % cluster.regions.length]!;
  for (const op of ops) {
    switch (op.kind) {
      case 'put':
        cluster.table(r(op.region)).appPut({ ...key(op.key), a: { N: String(op.value) }, from: { S: r(op.region) } });
        break;
      case 'update':
        cluster.table(r(op.region)).appUpdate(key(op.key), { [op.attr]: { N: String(op.value) } });
        break;
      case 'delete':
        cluster.table(r(op.region)).delete(key(op.key));
        break;
      case 'ship':
      case 'deliver':
      case 'tick':
        await cluster.step(op);
        break;
    }
  }
}

describe('convergence of plain application writes (last writer wins)', () => {
  it('every region ends identical for any interleaving of concurrent writes, deliveries, duplicates and clock skew', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 5 }),
        fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 5, maxLength: 5 }),
        fc.array(opArb(5, 3), { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        async (regionCount, skews, ops, drainPicks) => {
          // Prepare
          const regions = REGIONS.slice(0, regionCount);
          const cluster = new Cluster(regions, Object.fromEntries(regions.map((r, i) => [r, skews[i]!])));
          // Act
          await run(cluster, ops);
          let p = 0;
          await cluster.drain((n) => (drainPicks[p++ % Math.max(1, drainPicks.length)] ?? 0) % n);
          // Assess
          const first = cluster.view(regions[0]!);
          for (const region of regions.slice(1)) expect(cluster.view(region)).toEqual(first);
        },
      ),
      {
        numRuns: 300,
        examples: [
          // Found by this property: a stamp for an earlier record landed on a later plain put whose
          // replaced version (from another region) was higher than the stamp.
          [
            2,
            [-3, 5, 0, 0, 0],
            [
              { kind: 'put', region: 1, key: 2, value: 0 },
              { kind: 'ship', region: 1, max: 1 },
              { kind: 'put', region: 0, key: 2, value: 0 },
              { kind: 'deliver', pick: 0, duplicate: false },
              { kind: 'put', region: 0, key: 2, value: 0 },
            ],
            [],
          ],
        ],
      },
    );
  });

  it('a write made after the previous one replicated always wins, whatever the clock skew (no lost update)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.record({ region: fc.nat(2), value: fc.integer({ min: 0, max: 999 }), del: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        async (skews, writes) => {
          // Prepare
          const regions = REGIONS.slice(0, 3);
          const cluster = new Cluster(regions, Object.fromEntries(regions.map((r, i) => [r, skews[i]!])));
          // Act: each write waits until the previous one has reached every region
          for (const w of writes) {
            const table = cluster.table(regions[w.region]!);
            if (w.del) table.delete(key(0));
            else table.appPut({ ...key(0), a: { N: String(w.value) } });
            await cluster.drain();
          }
          // Assess: the last write is what every region holds
          const last = writes[writes.length - 1]!;
          for (const region of regions) {
            const live = cluster.liveView(region);
            const item = [...live.values()][0];
            // A delete of an item that never existed leaves nothing; otherwise the last write decides.
            if (last.del) expect(item).toBeUndefined();
            else expect(item?.a).toEqual({ N: String(last.value) });
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a delete that wins is never undone by an older concurrent write arriving later (no resurrection)', async () => {
    // Prepare: the item exists everywhere
    const cluster = new Cluster(['us-east-1', 'eu-west-1']);
    cluster.table('us-east-1').appPut({ ...key(1), a: { N: '1' } });
    await cluster.drain();
    // Act: eu-west-1 updates (older), then us-east-1 deletes (newer); the update ships late
    cluster.table('eu-west-1').appUpdate(key(1), { a: { N: '2' } });
    await cluster.ship('eu-west-1');
    cluster.tick(10);
    cluster.table('us-east-1').delete(key(1));
    await cluster.ship('us-east-1');
    const deleteFirst = cluster.pending.filter((i) => cluster.sqs.sent[i]!.queueUrl === 'inbound-eu-west-1');
    await cluster.deliver(cluster.pending.indexOf(deleteFirst[0]!));
    await cluster.drain();
    // Assess
    expect(cluster.liveView('us-east-1').size).toBe(0);
    expect(cluster.liveView('eu-west-1').size).toBe(0);
    expect(cluster.view('us-east-1')).toEqual(cluster.view('eu-west-1'));
  });
});
