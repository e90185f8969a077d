/**
 * Issue 14: no acknowledged write lost or misordered, whatever way the application writes.
 *
 * An application that knows nothing of regionsync writes with plain PutItem/UpdateItem/DeleteItem
 * and with whole-item read-modify-write (GetItem, change, PutItem back, carrying whatever `_rs_*`
 * attributes it read, possibly stale). Every write here happens at its own millisecond (the
 * emulator's stream timestamp resolution), so the promise is exact: in every region, each key
 * ends with the value of the write that happened last, whatever the shipping and delivery order,
 * duplicates included.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { META, META_ATTRIBUTES, type StrategySpec } from '../../src/core/contract.ts';
import { Cluster } from '../support/cluster.ts';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];
const KEYS = 2;

type Op =
  | { kind: 'put'; region: number; key: number; value: number }
  | { kind: 'update'; region: number; key: number; value: number }
  /** Whole-item read-modify-write of a (possibly stale) earlier read, copying any of its metadata attributes. */
  | { kind: 'rmw'; region: number; key: number; value: number; read: number; copy: boolean[] }
  | { kind: 'delete'; region: number; key: number }
  | { kind: 'ship'; region: number; max: number }
  | { kind: 'deliver'; pick: number; duplicate: boolean }
  | { kind: 'tick'; ms: number };

const opArb = (regions: number): fc.Arbitrary<Op> => {
  const region = fc.nat(regions - 1);
  const key = fc.nat(KEYS - 1);
  const value = fc.integer({ min: 0, max: 999 });
  return fc.oneof(
    fc.record({ kind: fc.constant('put' as const), region, key, value }),
    fc.record({ kind: fc.constant('update' as const), region, key, value }),
    fc.record({
      kind: fc.constant('rmw' as const),
      region,
      key,
      value,
      read: fc.nat(20),
      copy: fc.array(fc.boolean(), { minLength: META_ATTRIBUTES.length, maxLength: META_ATTRIBUTES.length }),
    }),
    fc.record({ kind: fc.constant('delete' as const), region, key }),
    fc.record({ kind: fc.constant('ship' as const), region, max: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('ship' as const), region, max: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(50), duplicate: fc.boolean() }),
    fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(50), duplicate: fc.boolean() }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 400 }) }),
  );
};

const keyOf = (k: number) => ({ pk: { S: `k${k}` }, sk: { S: 'x' } });
type Item = Record<string, AttributeValue>;

interface Written {
  readonly at: number;
  readonly region: string;
  /** undefined: a delete. */
  readonly value?: string;
}

/** Runs the ops; returns each key's application writes in the order they happened. */
async function run(cluster: Cluster, ops: readonly Op[]): Promise<Map<number, Written[]>> {
  const r = (i: number) => cluster.regions[i % cluster.regions.length]!;
  const writes = new Map<number, Written[]>();
  // What the application has read of each key in each region, oldest first (a read-modify-write may use any).
  const reads = new Map<string, Item[]>();
  const remember = () => {
    for (const region of cluster.regions) {
      for (let k = 0; k < KEYS; k++) {
        const item = cluster.table(region).get(keyOf(k));
        if (item) reads.set(`${region}/${k}`, [...(reads.get(`${region}/${k}`) ?? []), structuredClone(item)].slice(-20));
      }
    }
  };
  const write = (region: string, key: number, value: string | undefined, act: () => void) => {
    // Each application write at its own millisecond: further apart than the emulator's stream resolution.
    cluster.tick(1);
    const before = cluster.table(region).get(keyOf(key));
    const records = cluster.table(region).stream.length;
    act();
    // A write that changes nothing leaves no stream record (as in DynamoDB): there is nothing to
    // replicate. Per-attribute strategies see a write as the change it made (the stream's images):
    // one that leaves the attribute as it was in its region writes nothing to it. Last writer
    // wins takes the whole item.
    const recorded = cluster.table(region).stream.length > records;
    const unchanged = before && !before[META.deleted]?.BOOL && before.v?.S === value;
    if (recorded && (cluster.strategy.strategy === 'lww' || !unchanged))
      writes.set(key, [...(writes.get(key) ?? []), { at: cluster.time, region, ...(value !== undefined ? { value } : {}) }]);
    cluster.tick(1);
  };
  for (const op of ops) {
    remember();
    switch (op.kind) {
      case 'put': {
        const v = `${r(op.region)}:${op.value}`;
        write(r(op.region), op.key, v, () => cluster.table(r(op.region)).appPut({ ...keyOf(op.key), v: { S: v } }));
        break;
      }
      case 'update': {
        const v = `${r(op.region)}:${op.value}`;
        write(r(op.region), op.key, v, () => cluster.table(r(op.region)).appUpdate(keyOf(op.key), { v: { S: v } }));
        break;
      }
      case 'rmw': {
        const seen = reads.get(`${r(op.region)}/${op.key}`) ?? [];
        const stale = seen.length > 0 ? seen[op.read % seen.length]! : undefined;
        const copied = Object.fromEntries(META_ATTRIBUTES.filter((m, i) => op.copy[i] && stale?.[m] !== undefined).map((m) => [m, stale![m]!]));
        const v = `${r(op.region)}:${op.value}`;
        write(r(op.region), op.key, v, () => cluster.table(r(op.region)).appPut({ ...copied, ...keyOf(op.key), v: { S: v } }));
        break;
      }
      case 'delete':
        // Deleting an item the region does not have writes nothing (no stream record, as in DynamoDB).
        if (cluster.table(r(op.region)).get(keyOf(op.key))) write(r(op.region), op.key, undefined, () => cluster.table(r(op.region)).delete(keyOf(op.key)));
        break;
      case 'ship':
      case 'deliver':
      case 'tick':
        await cluster.step(op);
        break;
    }
  }
  return writes;
}

/** Each key's application value in each region (undefined: absent or deleted). */
function values(cluster: Cluster, region: string): (string | undefined)[] {
  return Array.from({ length: KEYS }, (_, k) => {
    const item = cluster.table(region).get(keyOf(k));
    return item && !item[META.deleted]?.BOOL ? item.v?.S : undefined;
  });
}

/** The value of each key's last write (undefined when it was a delete or there was none). */
function lastWritten(writes: Map<number, Written[]>): (string | undefined)[] {
  return Array.from({ length: KEYS }, (_, k) => {
    const all = writes.get(k) ?? [];
    return all.reduce<Written | undefined>((a, b) => (!a || b.at > a.at ? b : a), undefined)?.value;
  });
}

export async function lastWriterWins(strategy: StrategySpec, regionCount: number, ops: readonly Op[], picks: readonly number[]): Promise<void> {
  // Prepare
  const regions = REGIONS.slice(0, regionCount);
  const cluster = new Cluster(regions, {}, strategy);
  // Act
  const writes = await run(cluster, ops);
  let p = 0;
  await cluster.drain((n) => (picks[p++ % Math.max(1, picks.length)] ?? 0) % n);
  // Assess: the last write wins everywhere, and the regions hold the same items.
  const expected = lastWritten(writes);
  for (const region of regions) expect(values(cluster, region), `values in ${region}`).toEqual(expected);
  const first = cluster.view(regions[0]!);
  for (const region of regions.slice(1)) expect(cluster.view(region)).toEqual(first);
}

export const property = (strategy: StrategySpec, numRuns: number) =>
  fc.assert(
    fc.asyncProperty(fc.integer({ min: 2, max: 3 }), fc.array(opArb(3), { maxLength: 50 }), fc.array(fc.nat(), { maxLength: 10 }), (n, ops, picks) =>
      lastWriterWins(strategy, n, ops, picks),
    ),
    { numRuns },
  );

describe('finding 1: unstamped local writes overwritten by older remote changes', () => {
  it('a later plain write in one region beats an earlier one from another, whatever the shipping delays', async () => {
    // Prepare: B writes first, A half a second later; B's shipper runs late, after A's write.
    const cluster = new Cluster(['us-east-1', 'eu-west-1']);
    const [a, b] = ['us-east-1', 'eu-west-1'];
    cluster.table(b).appPut({ ...keyOf(0), v: { S: 'from B, earlier' } });
    cluster.tick(500);
    cluster.table(a).appPut({ ...keyOf(0), v: { S: 'from A, later' } });
    cluster.tick(1000);
    // Act: B's change reaches A before A's shipper has stamped A's write.
    await cluster.ship(b);
    await cluster.deliver(0);
    await cluster.drain();
    // Assess
    expect(values(cluster, a)[0]).toBe('from A, later');
    expect(values(cluster, b)[0]).toBe('from A, later');
  });

  it('holds for random plain puts, updates and deletes in every region (property)', () => property({ strategy: 'lww' }, 300));
});

describe('finding 2: two quick plain PutItems of one key plus a duplicate SQS delivery', () => {
  it('keeps the second write everywhere', async () => {
    // Prepare: the item came from B; its message will be delivered to A once more, later.
    const [a, b] = ['us-east-1', 'eu-west-1'];
    const cluster = new Cluster([a, b]);
    cluster.table(b).appPut({ ...keyOf(0), v: { S: 'from B' } });
    await cluster.ship(b);
    await cluster.deliver(0, true);
    cluster.tick(5);
    // Two quick plain PutItems in A (each drops the `_rs_*` attributes).
    cluster.table(a).appPut({ ...keyOf(0), v: { S: 'first' } });
    cluster.tick(5);
    cluster.table(a).appPut({ ...keyOf(0), v: { S: 'second' } });
    cluster.tick(5);
    // Act: the duplicate of B's message lands on the unstamped second write, then A ships.
    await cluster.deliver(0);
    await cluster.drain();
    // Assess
    expect(values(cluster, a)[0]).toBe('second');
    expect(values(cluster, b)[0]).toBe('second');
  });
});

describe('two writes of one item in the same instant (an UpdateItem that creates an item makes two records on the emulator)', () => {
  it('the later one wins in every region, even when an older change from elsewhere landed before either was stamped', async () => {
    // Prepare: an older write in B, shipped
    const [a, b] = ['us-east-1', 'eu-west-1'];
    const cluster = new Cluster([a, b]);
    cluster.table(b).appPut({ ...keyOf(0), v: { S: 'from B, earlier' } });
    await cluster.ship(b);
    cluster.tick(10);
    // A creates the item, then sets its value, in the same millisecond (same stream time, same floor)
    cluster.table(a).appPut({ ...keyOf(0) });
    cluster.table(a).appUpdate(keyOf(0), { v: { S: 'from A, later' } });
    cluster.tick(10);
    // Act: B's change lands in A before A's shipper runs
    await cluster.deliver(0);
    await cluster.drain();
    // Assess
    expect(values(cluster, a)[0]).toBe('from A, later');
    expect(values(cluster, b)[0]).toBe('from A, later');
  });
});

describe('finding 3: whole-item read-modify-write carrying stale metadata', () => {
  it('replicates when a replicated change lands between the GetItem and the PutItem', async () => {
    // Prepare: the item exists in both regions; the application in A reads it.
    const [a, b] = ['us-east-1', 'eu-west-1'];
    const cluster = new Cluster([a, b]);
    cluster.table(a).appPut({ ...keyOf(0), v: { S: 'v1' } });
    await cluster.drain();
    const read = structuredClone(cluster.table(a).get(keyOf(0))!);
    cluster.tick(10);
    // A change from B lands in A between the application's GetItem and PutItem.
    cluster.table(b).appUpdate(keyOf(0), { v: { S: 'v2 from B' } });
    await cluster.ship(b);
    await cluster.deliver(0);
    cluster.tick(10);
    // Act: the application puts back the whole item it read, with one attribute changed.
    cluster.table(a).appPut({ ...read, v: { S: 'v3 from A, last' } });
    await cluster.drain();
    // Assess
    expect(values(cluster, a)[0]).toBe('v3 from A, last');
    expect(values(cluster, b)[0]).toBe('v3 from A, last');
  });

  for (const strategy of [{ strategy: 'fields' }, { strategy: 'merge', attributes: {} }] as const) {
    it(`any write may carry stale copies of any metadata attribute: ${strategy.strategy} (property)`, () => property(strategy, 150));
  }
});
