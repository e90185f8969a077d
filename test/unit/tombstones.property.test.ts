/**
 * Issue 15: deleted items read as absent. `lww` tables keep tombstones in the tombstone table
 * (src/core/tombstones.ts), so the application's table holds live items only, at every moment,
 * while every convergence and no-resurrection property still holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { META } from '../../src/core/contract.ts';
import { Cluster, type ScheduleOp } from '../support/cluster.ts';
import { isScheduleOp, togetherArb } from '../support/schedule.ts';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];
const key = (k: number) => ({ pk: { S: `k${k}` }, sk: { S: 'x' } });

type AppOp =
  | { kind: 'put'; region: number; key: number; value: number }
  | { kind: 'create'; region: number; key: number; value: number }
  | { kind: 'update'; region: number; key: number; value: number }
  | { kind: 'delete'; region: number; key: number };

const appOpArb = (keys: number): fc.Arbitrary<AppOp> =>
  fc.oneof(
    fc.record({ kind: fc.constant('put' as const), region: fc.nat(2), key: fc.nat(keys - 1), value: fc.integer({ min: 0, max: 999 }) }),
    fc.record({ kind: fc.constant('create' as const), region: fc.nat(2), key: fc.nat(keys - 1), value: fc.integer({ min: 0, max: 999 }) }),
    fc.record({ kind: fc.constant('update' as const), region: fc.nat(2), key: fc.nat(keys - 1), value: fc.integer({ min: 0, max: 999 }) }),
    fc.record({ kind: fc.constant('delete' as const), region: fc.nat(2), key: fc.nat(keys - 1) }),
  );

const scheduleArb: fc.Arbitrary<ScheduleOp> = fc.oneof(
  fc.record({ kind: fc.constant('ship' as const), region: fc.nat(2), max: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(50), duplicate: fc.boolean() }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 5 }) }),
);

/** Applies an application write as plain SDK calls would; false when it changed nothing (a create refused, a delete of an absent item). */
function write(cluster: Cluster, op: AppOp): boolean {
  const table = cluster.table(REGIONS[op.region]!);
  switch (op.kind) {
    case 'put':
      table.appPut({ ...key(op.key), a: { N: String(op.value) } });
      return true;
    case 'create':
      return table.appCreate({ ...key(op.key), a: { N: String(op.value) } });
    case 'update':
      table.appUpdate(key(op.key), { a: { N: String(op.value) } });
      return true;
    case 'delete': {
      // DeleteItem of an absent item changes nothing (no stream record), on any DynamoDB table.
      const existed = table.get(key(op.key)) !== undefined;
      table.delete(key(op.key));
      return existed;
    }
  }
}

/** No region's table holds a tombstone: what GetItem, Query, Scan and COUNT see is live items only. */
function expectNoTombstoneVisible(cluster: Cluster): void {
  for (const region of cluster.regions) for (const item of cluster.table(region).items.values()) expect(item[META.deleted]).toBeUndefined();
}

/** Runs `ops` on a cluster with clocks `skews` apart; no tombstone is ever visible, and every region ends identical. */
async function noTombstoneAndIdentical(skews: readonly number[], ops: readonly (AppOp | ScheduleOp)[]): Promise<void> {
  // Prepare
  const cluster = new Cluster(REGIONS, Object.fromEntries(REGIONS.map((r, i) => [r, skews[i]!])));
  // Act (and Assess at every step: a tombstone must never be visible, not even for a moment)
  for (const op of ops) {
    if (isScheduleOp(op)) await cluster.step(op);
    else write(cluster, op);
    expectNoTombstoneVisible(cluster);
  }
  await cluster.drain();
  // Assess
  expectNoTombstoneVisible(cluster);
  const first = cluster.view(REGIONS[0]!);
  for (const region of REGIONS.slice(1)) expect(cluster.view(region)).toEqual(first);
  const live = cluster.liveView(REGIONS[0]!);
  for (const region of REGIONS.slice(1)) expect(cluster.liveView(region)).toEqual(live);
}

describe('issue 15: deletes are absences (lww, tombstone table)', () => {
  it('no region ever shows a tombstone, and every region ends identical, for any interleaving, duplicates and clock skew', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -40, max: 40 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.oneof(appOpArb(3), scheduleArb), { maxLength: 70 }),
        noTombstoneAndIdentical,
      ),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 300) },
    );
  });

  it("the property's counterexample (seed 1426836673): an update replicated, then a delete and a re-create in one batch of a region whose clock is behind", async () => {
    await noTombstoneAndIdentical(
      [0, -6, 0],
      [
        { kind: 'update', region: 2, key: 1, value: 0 },
        { kind: 'ship', region: 2, max: 1 },
        { kind: 'deliver', pick: 7, duplicate: false },
        { kind: 'delete', region: 1, key: 1 },
        { kind: 'update', region: 1, key: 1, value: 0 },
      ],
    );
  });

  it('writes further apart than the clock skew: the last one decides in every region, whatever the shipping order (no resurrection, no lost re-create)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.tuple(appOpArb(1), fc.array(scheduleArb, { maxLength: 6 })), { minLength: 1, maxLength: 14 }),
        async (skews, steps) => {
          // Prepare: one key, so every write races every other
          const cluster = new Cluster(REGIONS, Object.fromEntries(REGIONS.map((r, i) => [r, skews[i]!])));
          let last: AppOp | undefined;
          // Act: writes 50 ms apart (beyond any two clocks' difference), with shipping and delivery
          // of earlier writes drawn in between (so changes arrive late, twice, out of order)
          for (const [n, [drawn, schedule]] of steps.entries()) {
            // Every write sets a value of its own: DynamoDB writes no stream record for an update that changes nothing.
            const op = drawn.kind === 'delete' ? drawn : { ...drawn, value: 1000 + n };
            // A write that changed nothing (a refused create, a delete of nothing) is not the last write.
            if (write(cluster, op)) last = op;
            for (const s of schedule) await cluster.step(s.kind === 'tick' ? { kind: 'tick', ms: Math.min(s.ms, 1) } : s);
            cluster.tick(50);
          }
          await cluster.drain();
          // Assess
          for (const region of REGIONS) {
            const item = cluster.table(region).get(key(0));
            if (!last || last.kind === 'delete') expect(item).toBeUndefined();
            else expect(item?.a).toEqual({ N: String(last.value) });
          }
        },
      ),
      {
        numRuns: Number(process.env.PROPERTY_RUNS ?? 300),
        examples: [
          // Found by this property: an application's delete arriving after a replicated delete's tombstone
          // was taken for regionsync's own removal, and a third region's write between them won.
          [
            [0, 0, 0],
            [
              [
                { kind: 'update', region: 0, key: 0, value: 0 },
                [
                  { kind: 'ship', region: 0, max: 1 },
                  { kind: 'deliver', pick: 0, duplicate: false },
                ],
              ],
              [{ kind: 'delete', region: 0, key: 0 }, [{ kind: 'deliver', pick: 0, duplicate: false }]],
              [{ kind: 'update', region: 0, key: 0, value: 0 }, [{ kind: 'ship', region: 0, max: 2 }]],
              [{ kind: 'delete', region: 1, key: 0 }, [{ kind: 'deliver', pick: 0, duplicate: false }]],
            ],
          ],
          // Found by this property: a replicated delete removed an update carrying a stale version in the
          // same instant the update was made; the update, 51 ms after the delete, must be put back.
          [
            [0, 0, 0],
            [
              [
                { kind: 'put', region: 0, key: 0, value: 0 },
                [
                  { kind: 'ship', region: 0, max: 1 },
                  { kind: 'deliver', pick: 0, duplicate: false },
                ],
              ],
              [{ kind: 'put', region: 0, key: 0, value: 0 }, [{ kind: 'deliver', pick: 0, duplicate: false }]],
              [{ kind: 'delete', region: 2, key: 0 }, [{ kind: 'ship', region: 2, max: 2 }]],
              [{ kind: 'update', region: 1, key: 0, value: 0 }, [{ kind: 'deliver', pick: 45, duplicate: false }]],
            ],
          ],
          // Found by this property: regionsync's removal of a replicated item, in the same stream batch as
          // a local re-create beneath it, superseded the re-create.
          [
            [0, 0, 0],
            [
              [{ kind: 'update', region: 1, key: 0, value: 0 }, []],
              [{ kind: 'update', region: 2, key: 0, value: 0 }, []],
              [{ kind: 'delete', region: 1, key: 0 }, []],
              [{ kind: 'create', region: 0, key: 0, value: 0 }, [{ kind: 'ship', region: 2, max: 1 }]],
              [
                { kind: 'create', region: 1, key: 0, value: 1 },
                [
                  { kind: 'deliver', pick: 21, duplicate: false },
                  { kind: 'ship', region: 1, max: 2 },
                ],
              ],
            ],
          ],
          // Found by this property: a replicated change overwrote a local re-create before its stamp, and a
          // duplicate delivery of an older delete then removed that change; the re-create must come back.
          [
            [0, 0, 0],
            [
              [
                { kind: 'create', region: 0, key: 0, value: 0 },
                [
                  { kind: 'ship', region: 0, max: 1 },
                  { kind: 'deliver', pick: 3, duplicate: false },
                ],
              ],
              [{ kind: 'delete', region: 0, key: 0 }, [{ kind: 'ship', region: 0, max: 2 }]],
              [{ kind: 'put', region: 0, key: 0, value: 0 }, [{ kind: 'deliver', pick: 22, duplicate: true }]],
              [{ kind: 'create', region: 1, key: 0, value: 0 }, [{ kind: 'deliver', pick: 0, duplicate: false }]],
              [{ kind: 'create', region: 0, key: 0, value: 0 }, [{ kind: 'deliver', pick: 0, duplicate: false }]],
            ],
          ],
        ] as never,
      },
    );
  });

  it('a conditional create of a deleted key succeeds in every region and replicates', async () => {
    // Prepare: an item, deleted, everywhere
    const cluster = new Cluster(REGIONS);
    cluster.table(REGIONS[0]!).appPut({ ...key(1), a: { N: '1' } });
    await cluster.drain();
    cluster.table(REGIONS[1]!).delete(key(1));
    await cluster.drain();
    // Act + Assess: GetItem finds nothing and an ORM's create succeeds, in each region in turn
    for (const [i, region] of REGIONS.entries()) {
      for (const r of REGIONS) expect(cluster.table(r).get(key(1))).toBeUndefined();
      cluster.tick(50);
      expect(cluster.table(region).appCreate({ ...key(1), a: { N: String(10 + i) } })).toBe(true);
      await cluster.drain();
      for (const r of REGIONS) expect(cluster.table(r).get(key(1))?.a).toEqual({ N: String(10 + i) });
      cluster.tick(50);
      cluster.table(region).delete(key(1));
      await cluster.drain();
    }
  });

  it('a late, older put of a deleted item never resurrects it, even arriving after the delete (and twice)', async () => {
    // Prepare
    const [us, eu, ap] = REGIONS as [string, string, string];
    const cluster = new Cluster(REGIONS);
    cluster.table(us).appPut({ ...key(2), a: { N: '1' } });
    await cluster.drain();
    // Act: eu updates (older); us deletes (newer); the delete reaches ap before the update, which arrives twice
    cluster.table(eu).appUpdate(key(2), { a: { N: '2' } });
    await cluster.ship(eu);
    cluster.tick(50);
    cluster.table(us).delete(key(2));
    await cluster.ship(us);
    const toAp = cluster.pending.filter((i) => cluster.sqs.sent[i]!.queueUrl === `inbound-${ap}`);
    const updateMsg = toAp[0]!;
    const deleteMsg = toAp[1]!;
    await cluster.deliver(cluster.pending.filter((i) => cluster.sqs.sent[i]!.queueUrl.startsWith('inbound-')).indexOf(deleteMsg));
    const inbound = () => cluster.pending.filter((i) => cluster.sqs.sent[i]!.queueUrl.startsWith('inbound-'));
    await cluster.deliver(inbound().indexOf(updateMsg), true);
    await cluster.deliver(inbound().indexOf(updateMsg));
    await cluster.drain();
    // Assess
    for (const region of REGIONS) expect(cluster.table(region).get(key(2))).toBeUndefined();
    expectNoTombstoneVisible(cluster);
  });
});

/** The key's item in every region (undefined: absent), for the concrete examples below. */
function itemsOf(cluster: Cluster, k: ReturnType<typeof key>) {
  return Object.fromEntries(cluster.regions.map((r) => [r, cluster.table(r).get(k)]));
}

/** The pending inbound messages, in the order `Cluster.deliver` picks from (a `pick` is an index into it). */
function inbound(cluster: Cluster): number[] {
  return cluster.pending.filter((i) => cluster.sqs.sent[i]!.queueUrl.startsWith('inbound-'));
}

describe('concurrent invocations in one region (a shipper beside an applier, or two appliers)', () => {
  // The chaos soak's divergence (soak_items hot-4): one region kept a replicated put that a later
  // delete beats, while the other regions held nothing. A removal for a tombstone marks the item,
  // writes (or has written) the row, then deletes the item while it is as marked. A replicated put
  // that lands on an item reads no tombstone row (only a put over an absent item does): when it
  // lands on the marked item, or on an older put that has not checked the row yet, between that
  // mark and that delete, the delete finds the item changed and gives up, and the put stays in
  // this region alone. Each example below is one such interleaving, as Lambda runs them when one
  // batch's messages (or a redelivery beside the first delivery) apply at once. Fixed: a removal
  // for a tombstone removes whatever older than it stands there until nothing older is left
  // (src/functions/shared/remove-item.ts), and a put that replaced an unstamped write reads the row.
  const [us, eu, ap] = REGIONS as [string, string, string];

  /** An item written in us-east-1 and replicated everywhere; then a put in eu-west-1 (P) and, later, a delete in us-east-1 (D), shipped, not delivered. */
  async function putThenLaterDelete(cluster: Cluster, k: ReturnType<typeof key>, beforePut?: () => void): Promise<{ put: number; del: number }> {
    cluster.table(us).appPut({ ...k, a: { N: '1' } });
    await cluster.drain();
    cluster.tick(10);
    beforePut?.();
    cluster.tick(10);
    cluster.table(eu).appPut({ ...k, a: { N: '2' } });
    await cluster.ship(eu);
    cluster.tick(10);
    cluster.table(us).delete(k);
    await cluster.ship(us);
    const [put, del] = inbound(cluster).filter((i) => cluster.sqs.sent[i]!.queueUrl === `inbound-${ap}`);
    return { put: put!, del: del! };
  }

  it('a replicated delete and an older replicated put applied at once over an older item: the delete wins in every region', async () => {
    // Prepare
    const cluster = new Cluster(REGIONS);
    const k = key(7);
    const { put, del } = await putThenLaterDelete(cluster, k);
    // Act: in ap-southeast-1 the delete marks the older item, the put lands on the marked item (it
    // found an item, so it reads no row), the delete writes its row, and its delete of the item as
    // marked finds the put there instead
    await cluster.step({
      kind: 'together',
      a: { kind: 'deliver', pick: inbound(cluster).indexOf(del) },
      b: { kind: 'deliver', pick: inbound(cluster).indexOf(put) },
    });
    await cluster.drain();
    // Assess
    expect(itemsOf(cluster, k)).toEqual({ [us]: undefined, [eu]: undefined, [ap]: undefined });
  });

  it('two older replicated puts applied at once after a delete: neither stays', async () => {
    // Prepare: two puts in eu-west-1 (P1, then P2), a later delete in us-east-1, the delete applied in ap-southeast-1 first
    const cluster = new Cluster(REGIONS);
    const k = key(8);
    cluster.table(us).appPut({ ...k, a: { N: '1' } });
    await cluster.drain();
    cluster.tick(10);
    cluster.table(eu).appPut({ ...k, a: { N: '2' } });
    await cluster.ship(eu);
    cluster.tick(10);
    cluster.table(eu).appPut({ ...k, a: { N: '3' } });
    await cluster.ship(eu);
    cluster.tick(10);
    cluster.table(us).delete(k);
    await cluster.ship(us);
    const [p1, p2, del] = inbound(cluster).filter((i) => cluster.sqs.sent[i]!.queueUrl === `inbound-${ap}`);
    await cluster.deliver(inbound(cluster).indexOf(del!));
    // Act: P1 lands on the absent item, P2 on P1 (it found an item, so it reads no row); P1 reads the
    // row, loses to the tombstone and takes back exactly what it wrote, which P2 has replaced
    await cluster.step({
      kind: 'together',
      a: { kind: 'deliver', pick: inbound(cluster).indexOf(p1!) },
      b: { kind: 'deliver', pick: inbound(cluster).indexOf(p2!) },
    });
    await cluster.drain();
    // Assess
    expect(itemsOf(cluster, k)).toEqual({ [us]: undefined, [eu]: undefined, [ap]: undefined });
  });

  it("a replicated put landing on a local write between the write's stamp and its removal (a newer tombstone was kept since): it goes too", async () => {
    // Prepare: a local write in ap-southeast-1 (S, not stamped yet), older than the put (P) and the delete (D); D applied there first
    const cluster = new Cluster(REGIONS);
    const k = key(9);
    const { put, del } = await putThenLaterDelete(cluster, k, () => cluster.table(ap).appPut({ ...k, a: { N: '5' } }));
    await cluster.deliver(inbound(cluster).indexOf(del));
    // Act: ap-southeast-1's shipper stamps S, P lands on it (it found an item, so it reads no row), the
    // shipper reads the newer tombstone and takes back exactly what it stamped, which P has replaced
    await cluster.step({ kind: 'together', a: { kind: 'ship', region: 2, max: 5 }, b: { kind: 'deliver', pick: inbound(cluster).indexOf(put) } });
    await cluster.drain();
    // Assess
    expect(itemsOf(cluster, k)).toEqual({ [us]: undefined, [eu]: undefined, [ap]: undefined });
  });

  it('a replicated put replacing a local write not stamped yet, after a newer delete was applied: it does not stay', async () => {
    // Prepare: as above, S not stamped yet; D applied in ap-southeast-1 first (it leaves S for S's stamp to weigh)
    const cluster = new Cluster(REGIONS);
    const k = key(10);
    const { put, del } = await putThenLaterDelete(cluster, k, () => cluster.table(ap).appPut({ ...k, a: { N: '5' } }));
    await cluster.deliver(inbound(cluster).indexOf(del));
    // Act: P replaces S (it found an item, so it reads no row); S's stamp then finds P, a
    // replicated write, and has no reason to read the row for it
    await cluster.deliver(inbound(cluster).indexOf(put));
    await cluster.drain();
    // Assess
    expect(itemsOf(cluster, k)).toEqual({ [us]: undefined, [eu]: undefined, [ap]: undefined });
  });

  it('every region ends identical (no region keeps an item the others do not) for any interleaving with concurrent invocations and duplicates', async () => {
    // Plain puts, creates and deletes only: an UpdateItem carries a stale copy of a replicated
    // item's metadata, which meets the open defect below (a lost write) under this schedule.
    // One clock for every region, as on the emulator the soak runs on.
    const opArb = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), region: fc.nat(2), key: fc.nat(1), value: fc.integer({ min: 0, max: 999 }) }),
      fc.record({ kind: fc.constant('create' as const), region: fc.nat(2), key: fc.nat(1), value: fc.integer({ min: 0, max: 999 }) }),
      fc.record({ kind: fc.constant('delete' as const), region: fc.nat(2), key: fc.nat(1) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(opArb, scheduleArb, togetherArb(3), togetherArb(3)), { maxLength: 60, size: 'medium' }), (ops) =>
        // Clocks in step: the concurrency, not the skew, is under test here.
        noTombstoneAndIdentical([0, 0, 0], ops),
      ),
      {
        numRuns: Number(process.env.PROPERTY_RUNS ?? 1000),
        examples: [
          // Found by this property: an older replicated put replaced a local create the delete had left
          // for its stamp to weigh (the fourth example above, with a delete from the put's region).
          [
            [
              { kind: 'put', region: 1, key: 0, value: 0 },
              { kind: 'create', region: 2, key: 0, value: 0 },
              { kind: 'ship', region: 1, max: 1 },
              { kind: 'delete', region: 1, key: 0 },
              { kind: 'ship', region: 1, max: 2 },
              { kind: 'together', a: { kind: 'ship', region: 0, max: 1 }, b: { kind: 'deliver', pick: 23 } },
              { kind: 'together', a: { kind: 'ship', region: 0, max: 1 }, b: { kind: 'deliver', pick: 46 } },
            ],
          ],
        ] as never,
      },
    );
  });
});

describe('issue 15: TTL expiry', () => {
  const [us, eu] = ['us-east-1', 'eu-west-1'] as const;

  it('without replicateTtlDeletes, an expiry leaves no tombstone: the key can be created again, and the re-create replicates', async () => {
    // Prepare
    const cluster = new Cluster([us, eu]);
    cluster.table(us).appPut({ ...key(5), a: { N: '1' } });
    await cluster.drain();
    // Act: DynamoDB's TTL expires the item in us-east-1 (a REMOVE by the service)
    cluster.table(us).delete(key(5), true);
    await cluster.drain();
    // Assess: nothing kept for it, so nothing blocks a re-create; eu-west-1's TTL expires its own copy
    expect(cluster.tombstoneTables.get(us)!.items.size).toBe(0);
    expect(cluster.table(eu).get(key(5))?.a).toEqual({ N: '1' });
    cluster.tick(50);
    expect(cluster.table(us).appCreate({ ...key(5), a: { N: '2' } })).toBe(true);
    await cluster.drain();
    for (const region of [us, eu]) expect(cluster.table(region).get(key(5))?.a).toEqual({ N: '2' });
  });

  it('with replicateTtlDeletes, an expiry replicates as a delete, kept as a tombstone in every region', async () => {
    // Prepare
    const cluster = new Cluster([us, eu], {}, { strategy: 'lww' }, undefined, { replicateTtlDeletes: true });
    cluster.table(us).appPut({ ...key(6), a: { N: '1' } });
    await cluster.drain();
    // Act
    cluster.table(us).delete(key(6), true);
    await cluster.drain();
    // Assess
    for (const region of [us, eu]) {
      expect(cluster.table(region).get(key(6))).toBeUndefined();
      expect(cluster.tombstoneTables.get(region)!.items.size).toBe(1);
    }
    expectNoTombstoneVisible(cluster);
  });
});

describe('found with clock skew while hunting the soak divergence, fixed', () => {
  // eu-west-1's clock runs 5 ms ahead. Its write (E) reaches us-east-1, where the application deletes
  // it and puts the key again at once: one stream batch holds the REMOVE and the INSERT, and of a
  // key's plain writes in one batch only the last is stamped (shipper.ts processRecords). The
  // INSERT has no old image, so its version's floor misses E (the REMOVE's old image had it), and
  // the put is versioned below E: eu-west-1 and ap-southeast-1 keep E, us-east-1 its put, for good.
  // On AWS (whole-second stream times) it needs no skew: the delete and put within E's second, in a
  // region whose name sorts below E's. Fixed: the last write carries the floors of the writes it
  // supersedes (shipper.ts withFloor).
  it('a delete and a re-create of a replicated item in one stream batch: every region ends with the re-create', async () => {
    // Prepare
    const [us, eu, ap] = REGIONS as [string, string, string];
    const cluster = new Cluster(REGIONS, { [us]: 0, [eu]: 5, [ap]: 0 });
    const k = key(11);
    cluster.table(eu).appUpdate(k, { a: { N: '1' } });
    await cluster.ship(eu);
    await cluster.deliver(inbound(cluster).findIndex((i) => cluster.sqs.sent[i]!.queueUrl === `inbound-${us}`));
    // Act
    cluster.table(us).delete(k);
    cluster.table(us).appPut({ ...k, a: { N: '2' } });
    await cluster.drain();
    // Assess
    for (const region of REGIONS) expect(cluster.table(region).get(k)?.a).toEqual({ N: '2' });
  });
});

describe('known defect (found by the concurrent schedule step, not fixed)', () => {
  // A shipper stamping a plain write and an applier re-applying a duplicate delivery in the same
  // region at once: the application's UpdateItem (1004) carried a stale copy of a replicated item's
  // metadata; a later PutItem (1005) replaced it; the duplicate of the replicated change (1001)
  // then landed over 1005 (an unstamped write, as the protocol allows: its own record restores it)
  // with the very version 1004's copy carried, so the stamp of 1004 (conditional on that version
  // only) landed on 1001's content. The item then looks like an unstamped application write, and
  // 1005's record takes it for a later one and ships nothing: 1005 is lost everywhere.
  // `it.fails` turns red when the defect is fixed: then make it `it`.
  it.fails('the last write (1005) wins everywhere when a stamp races a duplicate delivery in its region', async () => {
    const cluster = new Cluster(REGIONS, Object.fromEntries(REGIONS.map((r) => [r, 0])));
    const t = (i: number) => cluster.table(REGIONS[i]!);
    const k = key(0);
    const steps: [() => void, ScheduleOp[]][] = [
      [() => t(0).appCreate({ ...k, a: { N: '1000' } }), []],
      [() => t(2).appUpdate(k, { a: { N: '1001' } }), [{ kind: 'together', a: { kind: 'ship', region: 2, max: 1 }, b: { kind: 'deliver', pick: 0 } }]],
      [() => t(0).appUpdate(k, { a: { N: '1002' } }), []],
      [() => t(0).appPut({ ...k, a: { N: '1003' } }), [{ kind: 'deliver', pick: 0, duplicate: true }]],
      [() => t(0).appUpdate(k, { a: { N: '1004' } }), [{ kind: 'ship', region: 0, max: 3 }]],
      [() => t(0).appPut({ ...k, a: { N: '1005' } }), [{ kind: 'together', a: { kind: 'ship', region: 0, max: 2 }, b: { kind: 'deliver', pick: 0 } }]],
    ];
    for (const [write, schedule] of steps) {
      write();
      for (const s of schedule) await cluster.step(s);
      cluster.tick(50);
    }
    await cluster.drain();
    for (const region of REGIONS) expect(cluster.table(region).get(k)?.a).toEqual({ N: '1005' });
  });
});
