/**
 * Per-operation cost: DynamoDB calls per item for creates, updates, deletes and re-creates of a
 * last-writer-wins table, and the bytes of metadata regionsync adds to an item, per strategy.
 * Deterministic: the real Shipper and Applier over the in-memory fakes of the property tests
 * (test/support/cluster.ts: one main and one tombstone FakeTable per region), no emulator, no
 * timing. The calls are counted by the fakes; the application's own writes are not.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { itemSizeBytes } from '../../src/core/item-size.ts';
import type { StrategySpec } from '../../src/core/contract.ts';
import type { Resolver } from '../../src/core/resolver.ts';
import { Cluster } from '../../test/support/cluster.ts';
import type { FakeTable } from '../../test/support/fakes.ts';

type Item = Record<string, AttributeValue>;

/** DynamoDB calls per item in one region (main table + tombstone table). */
export interface CallsPerItem {
  /** PutItem + UpdateItem + DeleteItem, failed conditional writes included (DynamoDB bills them). */
  readonly writes: number;
  /** GetItem. */
  readonly reads: number;
  readonly put: number;
  readonly update: number;
  readonly delete: number;
  /** Writes whose condition failed (part of `writes`). */
  readonly failedConditions: number;
  /** Of `writes` and `reads`: those on the tombstone table. */
  readonly tombstoneWrites: number;
  readonly tombstoneReads: number;
}

export type Operation = 'create' | 'update' | 'delete' | 'recreate';

export interface OperationCost {
  readonly operation: Operation;
  /** What the application does (its own call is not counted). */
  readonly description: string;
  readonly items: number;
  /** Regionsync's calls in the region the application wrote in. */
  readonly source: CallsPerItem;
  /** Regionsync's calls in a target region, mean over the targets. */
  readonly target: CallsPerItem;
  readonly byTarget: Readonly<Record<string, CallsPerItem>>;
}

export interface MetadataCost {
  readonly strategy: StrategySpec['strategy'];
  readonly spec: StrategySpec;
  /** Application bytes of the item measured (DynamoDB's item size rules). */
  readonly appBytes: number;
  /** `_rs_*` attributes on the live item in a target region, their count and bytes. */
  readonly target: { readonly attributes: readonly string[]; readonly count: number; readonly bytes: number };
  /** The same on the item in the region the application wrote in. */
  readonly source: { readonly attributes: readonly string[]; readonly count: number; readonly bytes: number };
}

export interface OperationCostsResult {
  readonly strategy: 'lww';
  readonly regions: readonly string[];
  readonly source: string;
  readonly targets: readonly string[];
  readonly items: number;
  readonly operations: readonly OperationCost[];
  /** The same workloads under the merging strategies (their tombstones carry merge state). */
  readonly mergingOperations: readonly { readonly strategy: string; readonly operations: readonly OperationCost[] }[];
  readonly metadata: readonly MetadataCost[];
  readonly note: string;
}

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1'] as const;
const PREFIX = '_rs_';

/** The strategies whose metadata is measured, with the item each one writes. */
const STRATEGIES: readonly { spec: StrategySpec; resolver?: Resolver }[] = [
  { spec: { strategy: 'lww' } },
  { spec: { strategy: 'fields' } },
  { spec: { strategy: 'merge', attributes: { visits: 'counter', tags: 'set' } } },
  { spec: { strategy: 'custom' }, resolver: ({ incoming }) => incoming },
];

export async function measureOperationCosts(opts: { items?: number; regions?: readonly string[] } = {}): Promise<OperationCostsResult> {
  const items = opts.items ?? 200;
  const regions = opts.regions ?? REGIONS;
  const [source, ...targets] = regions as [string, ...string[]];
  if (targets.length === 0) throw new Error('operation costs: needs a source and at least one target region');
  return {
    strategy: 'lww',
    regions,
    source,
    targets,
    items,
    operations: await operationCosts(regions, items),
    mergingOperations: await Promise.all(
      MERGING.map(async (s) => ({ strategy: s.spec.strategy, operations: await operationCosts(regions, Math.min(items, 50), s.spec, s.resolver) })),
    ),
    metadata: await Promise.all(STRATEGIES.map((s) => metadataCost(regions, s.spec, s.resolver))),
    note: "the real Shipper and Applier on in-memory tables; per item, in the region written (source) and per target region (mean), main + tombstone table, the application's own write excluded; failed conditional writes count as writes (DynamoDB bills them)",
  };
}

/** The merging strategies' per-operation costs (no declared CRDT attribute is touched by the workloads: plain attributes only). */
const MERGING: readonly { spec: StrategySpec; resolver?: Resolver }[] = [
  { spec: { strategy: 'fields' } },
  { spec: { strategy: 'merge', attributes: { tags: 'set' } } },
  { spec: { strategy: 'custom' }, resolver: ({ incoming }) => incoming },
];

/** One cluster (lww unless told); each workload on every key, drained, its calls counted. */
async function operationCosts(regions: readonly string[], n: number, spec: StrategySpec = { strategy: 'lww' }, resolver?: Resolver): Promise<OperationCost[]> {
  const cluster = new Cluster(regions, {}, spec, resolver);
  const [source, ...targets] = regions as [string, ...string[]];
  const table = cluster.table(source);
  const keys = Array.from({ length: n }, (_, i) => ({ pk: { S: `op-${String(i).padStart(5, '0')}` }, sk: { S: 's' } }));
  const out: OperationCost[] = [];

  const measure = async (
    operation: Operation,
    description: string,
    write: (key: Item, i: number) => void,
    expect: (key: Item, i: number) => Item | undefined,
  ) => {
    // Every workload starts on its own millisecond, well after the previous one settled.
    cluster.tick(1000);
    const before = new Map(regions.map((r) => [r, snapshot(cluster, r)]));
    for (const [i, k] of keys.entries()) write(k, i);
    await cluster.drain();
    const per = (r: string) => perItem(diff(snapshot(cluster, r), before.get(r)!), n);
    const byTarget = Object.fromEntries(targets.map((r) => [r, per(r)]));
    // A workload that did not do what it says would measure nothing: check every region holds the result.
    for (const r of regions) {
      for (const [i, k] of keys.entries()) {
        const want = expect(k, i);
        const got = cluster.liveView(r).get(cluster.table(r).keyString(k));
        if (JSON.stringify(got && sorted(got)) !== JSON.stringify(want && sorted(want))) {
          throw new Error(`operation costs: after ${operation}, ${r} holds ${JSON.stringify(got)} for ${JSON.stringify(k)}, expected ${JSON.stringify(want)}`);
        }
      }
    }
    out.push({ operation, description, items: n, source: per(source), target: mean(Object.values(byTarget)), byTarget });
  };

  const created = (k: Item, i: number): Item => ({ ...k, ...appAttributes(i) });
  // A value no item had (an update to the same value would change nothing: no stream record).
  const visits = (i: number): AttributeValue => ({ N: String(1000 + i) });
  const updated = (k: Item, i: number): Item => ({ ...created(k, i), visits: visits(i) });
  const recreated = (k: Item, i: number): Item => ({ ...k, ...appAttributes(i), email: { S: `again-${i}@example.com` } });

  await measure('create', 'PutItem of a new item', (k, i) => table.appPut(created(k, i)), created);
  await measure('update', 'UpdateItem of a replicated item', (k, i) => table.appUpdate(k, { visits: visits(i) }), updated);
  await measure(
    'delete',
    'DeleteItem of a replicated item',
    (k) => table.delete(k),
    () => undefined,
  );
  await measure(
    'recreate',
    'conditional PutItem (attribute_not_exists) of a key whose delete has replicated',
    (k, i) => {
      if (!table.appCreate(recreated(k, i))) throw new Error(`operation costs: the re-create of ${JSON.stringify(k)} found an item`);
    },
    recreated,
  );
  return out;
}

/** A typical item, plain writes (create, then one update) in the source region, drained; its `_rs_*` attributes where it landed. */
async function metadataCost(regions: readonly string[], spec: StrategySpec, resolver?: Resolver): Promise<MetadataCost> {
  const cluster = new Cluster(regions, {}, spec, resolver);
  const [source, target] = regions as [string, string];
  const key = { pk: { S: 'meta-00001' }, sk: { S: 's' } };
  cluster.table(source).appPut({ ...key, ...appAttributes(1), tags: { SS: ['blue', 'green'] } });
  await cluster.drain();
  cluster.tick(1000);
  cluster.table(source).appUpdate(key, { visits: { N: '4' } });
  await cluster.drain();
  const live = (r: string) => {
    const item = cluster.table(r).get(key);
    if (!item) throw new Error(`operation costs: the ${spec.strategy} item did not reach ${r}`);
    return item;
  };
  const t = live(target);
  if (t.visits?.N !== '4') throw new Error(`operation costs: the ${spec.strategy} item's update did not reach ${target}`);
  return { strategy: spec.strategy, spec, appBytes: itemSizeBytes(appOnly(t)), target: metadataOf(t), source: metadataOf(live(source)) };
}

/** A few small attributes, as a typical application item. */
function appAttributes(i: number): Item {
  return { name: { S: `user ${i}` }, email: { S: `user-${i}@example.com` }, visits: { N: '3' }, active: { BOOL: true } };
}

function appOnly(item: Item): Item {
  return Object.fromEntries(Object.entries(item).filter(([n]) => !n.startsWith(PREFIX)));
}

function metadataOf(item: Item): MetadataCost['target'] {
  const attributes = Object.keys(item)
    .filter((n) => n.startsWith(PREFIX))
    .sort();
  return { attributes, count: attributes.length, bytes: itemSizeBytes(item) - itemSizeBytes(appOnly(item)) };
}

function sorted(item: Item): [string, AttributeValue][] {
  return Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

type Calls = FakeTable['calls'];
type Snapshot = { main: Calls; tombstones: Calls };

function snapshot(cluster: Cluster, region: string): Snapshot {
  return { main: { ...cluster.tables.get(region)!.calls }, tombstones: { ...cluster.tombstoneTables.get(region)!.calls } };
}

function diff(after: Snapshot, before: Snapshot): Snapshot {
  const d = (a: Calls, b: Calls): Calls => ({
    put: a.put - b.put,
    update: a.update - b.update,
    get: a.get - b.get,
    delete: a.delete - b.delete,
    conditionFailures: a.conditionFailures - b.conditionFailures,
  });
  return { main: d(after.main, before.main), tombstones: d(after.tombstones, before.tombstones) };
}

function perItem(s: Snapshot, n: number): CallsPerItem {
  const writes = (c: Calls) => c.put + c.update + c.delete;
  const sum = (f: (c: Calls) => number) => f(s.main) + f(s.tombstones);
  return {
    writes: round3(sum(writes) / n),
    reads: round3(sum((c) => c.get) / n),
    put: round3(sum((c) => c.put) / n),
    update: round3(sum((c) => c.update) / n),
    delete: round3(sum((c) => c.delete) / n),
    failedConditions: round3(sum((c) => c.conditionFailures) / n),
    tombstoneWrites: round3(writes(s.tombstones) / n),
    tombstoneReads: round3(s.tombstones.get / n),
  };
}

function mean(xs: readonly CallsPerItem[]): CallsPerItem {
  const keys = Object.keys(xs[0]!) as (keyof CallsPerItem)[];
  return Object.fromEntries(keys.map((k) => [k, round3(xs.reduce((n, x) => n + x[k], 0) / xs.length)])) as unknown as CallsPerItem;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The section as log lines: calls per operation (source, then mean per target), then metadata per strategy. */
export function formatOperationCosts(r: OperationCostsResult): string[] {
  const detail = (c: CallsPerItem) => {
    const ops = (['put', 'update', 'delete'] as const).filter((k) => c[k] > 0).map((k) => `${k} ${c[k]}`);
    const failed = c.failedConditions > 0 ? ` (${c.failedConditions} failed condition)` : '';
    return `${ops.join(', ') || 'no writes'}${failed}; tombstone table ${c.tombstoneWrites} W, ${c.tombstoneReads} R`;
  };
  const row = (label: string, where: string, c: CallsPerItem) =>
    `  ${label.padEnd(9)} ${where.padEnd(7)} ${`${c.writes} W`.padStart(7)} ${`${c.reads} R`.padStart(7)}   ${detail(c)}`;
  return [
    `per-operation DynamoDB calls per item (${r.strategy}, ${r.items} items each, written in ${r.source}, ${r.targets.length} targets; W = PutItem+UpdateItem+DeleteItem, R = GetItem; main + tombstone table; the application's own call excluded)`,
    ...r.operations.flatMap((o) => [row(o.operation, 'source', o.source), row('', 'target', o.target)]),
    ...r.mergingOperations.flatMap((m) => [
      `the same under ${m.strategy} (${m.operations[0]?.items ?? 0} items each)`,
      ...m.operations.flatMap((o) => [row(o.operation, 'source', o.source), row('', 'target', o.target)]),
    ]),
    `regionsync metadata (_rs_* attributes) on a live item in ${r.targets[0]}, by strategy (in ${r.source}, where it was written, in parentheses)`,
    ...r.metadata.map(
      (m) =>
        `  ${m.strategy.padEnd(7)} ${String(m.target.bytes).padStart(4)} B in ${m.target.count} attributes (${m.source.bytes} B in ${m.source.count}), on ${m.appBytes} B of application data: ${m.target.attributes.join(' ')}`,
    ),
  ];
}
