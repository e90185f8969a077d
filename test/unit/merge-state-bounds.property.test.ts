/**
 * Finding 5: `merge` set and list state must stay bounded. Runs the pure core (applyLocalWrite,
 * mergeStates, parse/serialize) as 2–3 regions would: app-style writes folded in as image deltas,
 * state-based merges between regions in random order, item deletes; and checks both the size of
 * `_rs_crdt` and, against a reference add-wins OR-set that keeps every tag (the old format's
 * semantics), that no element appears or disappears differently.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttributeMap } from '../../lambda/core/change.ts';
import { META, type StrategySpec } from '../../lambda/core/contract.ts';
import { applyLocalWrite, emptyState, mergeStates, parseState, serializeState, type StateContext } from '../../lambda/core/item-state.ts';
import { HybridLogicalClock } from '../../lambda/core/version.ts';

const STRATEGY: StrategySpec = { strategy: 'merge', attributes: { n: 'counter', tags: 'set', log: 'list' } };
const CTX: StateContext = { key: { partitionKey: 'pk' }, strategy: STRATEGY, ttlAttribute: META.expiresAt };
const KEY = { pk: { S: 'k' } };
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];

/** Reference OR-set (every add tag and every removed tag kept): what the element set must be. */
interface Ref {
  adds: Set<string>; // `${element}|${tag}`
  removed: Set<string>;
}
const refPresent = (r: Ref) => [...new Set([...r.adds].filter((d) => !r.removed.has(d)).map((d) => d.split('|')[0]!))].sort();

/** One region: its stored item, a clock, and the reference. */
interface Replica {
  region: string;
  item: AttributeMap | undefined;
  clock: HybridLogicalClock;
  ref: Ref;
}

class Sim {
  readonly replicas: Replica[];
  private t = 1_764_000_000_000;
  maxCrdtBytes = 0;

  constructor(regions: number) {
    this.replicas = REGIONS.slice(0, regions).map((region) => ({ region, item: undefined, clock: new HybridLogicalClock(region, () => this.t), ref: { adds: new Set(), removed: new Set() } }));
  }

  /** An application write: `change` turns the visible item into the new one (undefined: delete). */
  write(i: number, change: (visible: AttributeMap | undefined) => AttributeMap | undefined): void {
    const r = this.replicas[i]!;
    this.t += 1;
    const alive = r.item && !r.item[META.deleted]?.BOOL;
    const visible = alive ? userView(r.item!) : undefined;
    const next = change(visible);
    const base = r.item?.[META.version] ? parseState(r.item, CTX) : emptyState(KEY);
    const version = r.clock.next(base.version ? decode(base.version) : undefined);
    const tag = `${String(version.ms).padStart(15, '0')}.${String(version.counter).padStart(6, '0')}.${version.region}`;
    // Reference: adds get the write's tag; removes and deletes take out every tag of the element seen.
    const before = new Set(visible?.tags?.SS ?? []);
    const after = new Set(next?.tags?.SS ?? []);
    for (const e of after) if (!before.has(e)) r.ref.adds.add(`${e}|${tag}`);
    for (const d of r.ref.adds) if ((!next || (before.has(d.split('|')[0]!) && !after.has(d.split('|')[0]!))) && !r.ref.removed.has(d)) r.ref.removed.add(d);
    const state = applyLocalWrite(base, visible, next, version, CTX, 0);
    r.item = serializeState(state, CTX, 'app');
    this.measure(r);
  }

  /** Region `to` merges the state region `from` holds (state-based replication). */
  merge(from: number, to: number): void {
    const a = this.replicas[from]!;
    const b = this.replicas[to]!;
    this.t += 1;
    if (!a.item) return;
    const stored = b.item ? parseState(b.item, CTX) : emptyState(KEY);
    b.item = serializeState(mergeStates(stored, parseState(a.item, CTX), CTX), CTX, 'repl');
    for (const d of a.ref.adds) b.ref.adds.add(d);
    for (const d of a.ref.removed) b.ref.removed.add(d);
    this.measure(b);
  }

  private measure(r: Replica): void {
    this.maxCrdtBytes = Math.max(this.maxCrdtBytes, Buffer.byteLength(r.item?.[META.crdt]?.S ?? ''));
  }
}

function userView(item: AttributeMap): AttributeMap {
  return Object.fromEntries(Object.entries(item).filter(([n]) => !n.startsWith('_rs_')));
}

function decode(v: string) {
  const [ms, counter, region] = v.split('.');
  return { ms: Number(ms), counter: Number(counter), region: region! };
}

const addTag = (e: string) => (v: AttributeMap | undefined) => ({ ...KEY, ...v, tags: { SS: [...new Set([...(v?.tags?.SS ?? []), e])].sort() } });
const removeTag = (e: string) => (v: AttributeMap | undefined) => {
  const rest = (v?.tags?.SS ?? []).filter((x) => x !== e);
  const { tags: _t, ...others } = (v ?? KEY) as AttributeMap;
  return rest.length > 0 ? { ...others, tags: { SS: rest } } : { ...KEY, ...others };
};
const append = (x: string) => (v: AttributeMap | undefined) => ({ ...KEY, ...v, log: { L: [...(v?.log?.L ?? []), { S: x } as AttributeValue] } });

function expectSameElements(sim: Sim): void {
  for (const r of sim.replicas) {
    const alive = r.item && !r.item[META.deleted]?.BOOL;
    expect(alive ? [...(r.item!.tags?.SS ?? [])].sort() : []).toEqual(refPresent(r.ref));
  }
}

/** `_rs_crdt` bytes allowed: a constant part, ~55 bytes of context per region, ~50 per live dot. */
function bound(regions: number, liveDots: number): number {
  return 200 + 55 * regions + 50 * liveDots;
}

describe('finding 5: merge set and list state grows forever', () => {
  it('20,000 add/remove cycles (same and fresh elements, 2–3 regions, merges in between) keep _rs_crdt under a bound', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3 }), fc.array(fc.nat(), { minLength: 64, maxLength: 64 }), (regions, dice) => {
        // Prepare
        const sim = new Sim(regions);
        let d = 0;
        const roll = (n: number) => dice[d++ % dice.length]! % n;
        // Act: each cycle adds then removes an element somewhere, merging between regions
        for (let cycle = 0; cycle < 20_000; cycle++) {
          const at = cycle % regions;
          const element = roll(2) === 0 ? 'same' : `fresh-${cycle}`;
          sim.write(at, addTag(element));
          if (roll(3) === 0) sim.merge(at, (at + 1) % regions);
          const remover = roll(2) === 0 ? at : (at + 1) % regions;
          if (remover !== at) sim.merge(at, remover);
          sim.write(remover, removeTag(element));
          sim.merge(remover, roll(regions));
          if (cycle % 10 === 0) sim.write(roll(regions), append(`e${cycle}`));
          if (cycle % 97 === 0) sim.write(roll(regions), () => undefined);
          if (cycle % 7 === 0) for (let i = 0; i < regions; i++) sim.merge(i, (i + 1) % regions);
          // Assess (every step, so an unbounded state fails fast instead of running out of time)
          if (cycle % 50 === 0) {
            expectSameElements(sim);
            // 'same' may stay live in each region plus up to ~10 list entries since the last delete
            expect(sim.maxCrdtBytes).toBeLessThanOrEqual(bound(regions, 2 * regions + 20));
          }
        }
        for (let i = 0; i < 2 * regions; i++) sim.merge(i % regions, (i + 1) % regions);
        expectSameElements(sim);
        console.log(`finding 5: ${regions} regions, 20,000 cycles: largest _rs_crdt ${sim.maxCrdtBytes} bytes (bound ${bound(regions, 2 * regions + 20)})`);
      }),
      { numRuns: 3 },
    );
  });
});
