/**
 * `regionsync repair`: converges the keys verify reports, through the normal apply path.
 *
 * For each divergent key, every region's current state is sent as a change to the inbound queue
 * of each region that holds something else; each region's applier keeps what its conflict rule
 * keeps (the newest version under last-writer-wins; the merge of both under merge strategies), so
 * repair never needs to know who should win. Three states cannot travel as they are, and are
 * "touched" first (given a new version of the region that holds them, with the shipper's own
 * conditional write, see ship.ts), then shipped:
 *   - an item never stamped (no `_rs_v`): the applier needs a version;
 *   - the newest version was made in a region that no longer holds it (its applier accepts only
 *     other regions' changes), or in a region no longer in the table;
 *   - regions hold the same version with different content: an equal version is a duplicate to
 *     the applier and never replaces anything. The copy kept is the one most regions hold, then
 *     the copy in the version's origin region, then `prefer`, then the first region by name.
 * A touch is conditional on the version read a moment before: if a live write got in, the key is
 * left to the pipeline and reported.
 */
import { META } from '../core/contract.ts';
import { compareVersions, decodeVersion, type Version } from '../core/version.ts';
import { mergeVectors, vectorFromAttribute, type VersionVector } from '../core/vector.ts';
import { replicaView, type Item } from './compare.ts';
import { ChangeSender, changeOf, deliverable, Toucher, type OpsTable } from './ship.ts';
import {
  describeHolding,
  holdingOf,
  readStates,
  recheckKeys,
  scopeOf,
  verifyTable,
  type DivergentKey,
  type VerifyOptions,
  type VerifyReport,
} from './verify.ts';
import type { Change } from '../core/change.ts';
import { toWire } from '../core/codec.ts';
import type { CopyView } from './selection-view.ts';
import { sleep } from '../core/concurrency.ts';

/**
 * One step of a key's repair: `touch` gives the item in `region` a new version of that region (see
 * ship.ts); `ship` sends `from`'s state as a change to the `to` regions' inbound queues (version `new`:
 * the item as the touch left it).
 */
export type RepairStep =
  | { readonly kind: 'touch'; readonly region: string; readonly reason: string }
  | { readonly kind: 'ship'; readonly from: string; readonly to: readonly string[]; readonly version: string };

/** What {@link planKey} decides for one key: the steps, or why there are none. */
export interface KeyPlan {
  readonly steps: readonly RepairStep[];
  /** Why nothing can be done, when steps is empty and the key still differs. @default none: there are steps, or the copies agree */
  readonly note?: string;
}

/**
 * What to do for one key, from what each region holds (undefined: absent). Pure.
 * `regions`: the regions compared; `tableRegions`: every region of the table (a touched state
 * is sent to all of them, or those not compared would fall behind).
 */
export function planKey(
  states: Readonly<Record<string, Item | undefined>>,
  opts: {
    readonly regions: readonly string[];
    readonly tableRegions: readonly string[];
    readonly prefer?: string;
    /**
     * Whether an item without a version may be stamped by a touch. Only under last-writer-wins: the
     * other strategies fold a plain write in from its stream record (its delta), which a touch
     * cannot do without counting it twice if the record is still on its way. @default true
     */
    readonly stampPlain?: boolean;
    /** How a region's copy is compared under the table's selection (verify.ts scopeOf). @default the copy whole */
    readonly view?: (item: Item, region: string) => CopyView;
  },
): KeyPlan {
  const { regions, tableRegions } = opts;
  const copies = regions.map((r) => [r, states[r] ? (opts.view?.(states[r]!, r) ?? { kind: 'in' as const, item: states[r]! }) : undefined] as const);
  // A copy the selection filters out: the key is not one every region should hold, so nothing to repair.
  if (copies.some(([, c]) => c?.kind === 'out')) return { steps: [] };
  const views = new Map(copies.map(([r, c]) => [r, c?.kind === 'in' ? replicaView(c.item) : undefined]));
  if (regions.every((r) => views.get(r) === views.get(regions[0]!))) return { steps: [] };

  const versionOf = (r: string) => decodeVersion(states[r]?.[META.version]?.S);
  const unversioned = regions.filter((r) => states[r] && !versionOf(r));
  const versioned = regions.filter((r) => versionOf(r));
  const top = versioned.map(versionOf).reduce<Version | undefined>((a, b) => (!a || compareVersions(b!, a) > 0 ? b : a), undefined);

  if (unversioned.length > 0 && opts.stampPlain === false) {
    return {
      steps: [],
      note: `${unversioned.join(', ')} hold(s) a write without a version: under this table's strategy only the shipper folds it in, from its stream record; run verify again once it has`,
    };
  }
  const touches: { region: string; reason: string }[] = unversioned.map((region) => ({ region, reason: `never stamped (no ${META.version})` }));
  if (touches.length === 0 && top) {
    const holders = versioned.filter((r) => compareVersions(versionOf(r)!, top) === 0);
    const contents = new Set(holders.map((r) => views.get(r)));
    if (contents.size > 1) {
      touches.push({
        region: chooseCopy(holders, views, top.region, opts.prefer),
        reason: `regions hold version ${states[holders[0]!]![META.version]!.S} with different content`,
      });
    } else {
      const lacking = regions.filter((r) => !holders.includes(r));
      const undeliverable = lacking.filter((r) => !deliverable(top.region, r, tableRegions));
      if (undeliverable.length > 0) {
        const reason = tableRegions.includes(top.region)
          ? `the newest version was made in ${top.region}, which no longer holds it (its applier takes only other regions' changes)`
          : `the newest version was made in ${top.region}, which is not a region of the table any more`;
        touches.push({ region: [...holders].sort()[0]!, reason });
      }
    }
  }

  const steps: RepairStep[] = touches.map((t) => ({ kind: 'touch', ...t }));
  const touched = new Set(touches.map((t) => t.region));
  for (const t of touches) steps.push({ kind: 'ship', from: t.region, to: tableRegions.filter((r) => r !== t.region), version: 'new' });
  // Every other distinct state goes to the regions that hold something else and accept it.
  const sent = new Set<string>();
  for (const from of versioned) {
    if (touched.has(from)) continue;
    const view = views.get(from)!;
    if (sent.has(view)) continue;
    sent.add(view);
    const origin = versionOf(from)!.region;
    const to = regions.filter((r) => r !== from && views.get(r) !== view && deliverable(origin, r, tableRegions));
    if (to.length > 0) steps.push({ kind: 'ship', from, to, version: states[from]![META.version]!.S! });
  }
  if (steps.length === 0) return { steps, note: 'no region holds a state that can be shipped' };
  return { steps };
}

/** Which of several copies of one version to keep: the majority, then the origin's, then `prefer`, then by name. */
function chooseCopy(holders: readonly string[], views: ReadonlyMap<string, string | undefined>, origin: string, prefer?: string): string {
  const count = (r: string) => holders.filter((h) => views.get(h) === views.get(r)).length;
  const best = Math.max(...holders.map(count));
  const tied = holders.filter((r) => count(r) === best);
  if (tied.includes(origin)) return origin;
  if (prefer && tied.includes(prefer)) return prefer;
  return [...tied].sort()[0]!;
}

/** What {@link repairTable} repairs: verify's options, whether to write, and how to choose between copies. */
export interface RepairOptions extends VerifyOptions {
  /** Write; without it, only print the plan. @default false */
  readonly apply?: boolean;
  /**
   * Which copy to keep when regions hold the same version with different content and no majority decides.
   * @default the version's origin region if it holds one of the tied copies, else the first region by name
   */
  readonly prefer?: string;
  /** After applying, wait up to this long for the repaired keys to converge, ms (0: check once, do not wait). @default 30000 */
  readonly waitMs?: number;
  /** A verify report to repair. @default none: verify runs first, with these options */
  readonly report?: VerifyReport;
  /** Where notes on keys left to the pipeline go, a line each. @default discarded */
  readonly log?: (line: string) => void;
}

/** What repair planned or did for one key: what each region held before, the steps, and the outcome. */
export interface KeyRepair {
  readonly key: string;
  readonly before: DivergentKey['byRegion'];
  readonly steps: readonly RepairStep[];
  readonly outcome: 'planned' | 'shipped' | 'converged-meanwhile' | 'changed-during-repair' | 'nothing-to-ship';
  /** Why the key was left to the pipeline or not repaired. @default none: outcomes planned, shipped and converged-meanwhile */
  readonly note?: string;
}

/**
 * The result of {@link repairTable}: the verify report it started from, each divergent key's repair, and
 * what was touched and sent.
 */
export interface RepairReport {
  readonly table: string;
  readonly regions: readonly string[];
  readonly applied: boolean;
  readonly verify: VerifyReport;
  readonly keys: readonly KeyRepair[];
  readonly touched: number;
  readonly changesSent: number;
  readonly messagesSent: number;
  /**
   * After --apply: keys still divergent (after waiting for the shipped ones; empty when everything converged).
   * @default none: a dry run (without `apply`)
   */
  readonly remaining?: readonly DivergentKey[];
}

/**
 * Repairs the keys a verify report finds divergent (verify runs first unless `report` is given): plans
 * each key on fresh reads; with `apply`, touches and ships, then waits up to `waitMs` for the shipped
 * keys to converge and reports what still differs. Touched items are shipped even if a later key fails.
 */
export async function repairTable(o: RepairOptions): Promise<RepairReport> {
  const { table } = o.ops;
  const regions = o.regions ?? table.regions;
  const log = o.log ?? (() => undefined);
  const report = o.report ?? (await verifyTable(o));
  const keys: KeyRepair[] = [];
  const toucher = new Toucher(o.ops);
  const sender = new ChangeSender(o.ops);
  const outbox = new Map<string, Change[]>();
  const result = (remaining?: DivergentKey[]): RepairReport => ({
    table: table.name,
    regions,
    applied: o.apply ?? false,
    verify: report,
    keys,
    touched: toucher.touched,
    changesSent: sender.changes,
    messagesSent: sender.messages,
    ...(remaining ? { remaining } : {}),
  });
  if (report.divergent.length === 0) return result(o.apply ? [] : undefined);

  // What each region holds right now: the plan is made on fresh reads, not on the scan.
  const states = await readStates({ ops: o.ops, regions, keys: report.divergent.map((d) => d.key) });
  const stampPlain = table.strategy.strategy === 'lww';
  const scope = scopeOf(o.ops, regions);
  // Each shipped change with what the regions held when it was planned: a target's copy is the change's previous state there.
  const heldWhenPlanned = new WeakMap<Change, Readonly<Record<string, Item | undefined>>>();
  try {
    for (const d of report.divergent) {
      const byRegion = states.get(d.key)!;
      const before = Object.fromEntries(regions.map((r) => [r, holdingOf(byRegion[r])]));
      const plan = planKey(byRegion, {
        regions,
        tableRegions: table.regions,
        stampPlain,
        view: (x, r) => scope.view(x, r),
        ...(o.prefer ? { prefer: o.prefer } : {}),
      });
      if (plan.steps.length === 0) {
        keys.push({ key: d.key, before, steps: [], outcome: plan.note ? 'nothing-to-ship' : 'converged-meanwhile', ...(plan.note ? { note: plan.note } : {}) });
      } else if (!o.apply) {
        keys.push({ key: d.key, before, steps: plan.steps, outcome: 'planned' });
      } else {
        const outcome = await executePlan(o.ops, plan, byRegion, regions, toucher, outbox, heldWhenPlanned);
        keys.push({ key: d.key, before, steps: plan.steps, ...outcome });
        if (outcome.note) log(`${d.key}: ${outcome.note}`);
      }
    }
  } finally {
    // Touched items must reach the other regions even if a later key failed: the shipper skips their echo.
    for (const [region, changes] of outbox) {
      await sender.send(region, changes, (c) => {
        const held = heldWhenPlanned.get(c)?.[region];
        return held ? toWire(held) : undefined;
      });
    }
  }
  if (!o.apply) return result();

  // What is still divergent: the shipped keys once they had time to apply, and the others as they are now.
  const shipped = keys.filter((k) => k.outcome === 'shipped').map((k) => k.key);
  const others = keys.filter((k) => k.outcome === 'nothing-to-ship' || k.outcome === 'changed-during-repair').map((k) => k.key);
  const remaining = [
    ...(o.waitMs === 0 ? await recheckKeys({ ops: o.ops, regions, keys: shipped, rechecks: 0 }) : await waitConverged(o, regions, shipped, o.waitMs ?? 30_000)),
    ...(await recheckKeys({ ops: o.ops, regions, keys: others, rechecks: 0 })),
  ];
  return result(remaining);
}

async function executePlan(
  ops: OpsTable,
  plan: KeyPlan,
  states: Readonly<Record<string, Item | undefined>>,
  regions: readonly string[],
  toucher: Toucher,
  outbox: Map<string, Change[]>,
  heldWhenPlanned: WeakMap<Change, Readonly<Record<string, Item | undefined>>>,
): Promise<Pick<KeyRepair, 'outcome' | 'note'>> {
  const current: Record<string, Item | undefined> = { ...states };
  // The touch sees every region's history: its version is above all of them, its vector covers them.
  const floor = regions
    .map((r) => decodeVersion(states[r]?.[META.version]?.S))
    .reduce<Version | undefined>((a, b) => (b && (!a || compareVersions(b, a) > 0) ? b : a), undefined);
  const history = regions.reduce<VersionVector>((v, r) => mergeVectors(v, vectorFromAttribute(states[r]?.[META.vector], states[r]?.[META.version]?.S)), {});
  const writtenAt = Date.now();
  const changed: string[] = [];
  for (const step of plan.steps) {
    if (step.kind !== 'touch') continue;
    const result = await toucher.touch(step.region, states[step.region]!, { ...(floor ? { floor } : {}), history });
    if (result.kind === 'changed') changed.push(step.region);
    else current[step.region] = result.item;
  }
  // What was touched is shipped even if another touch of the key found a live write: the shipper skips a touch's echo.
  for (const step of plan.steps) {
    if (step.kind !== 'ship' || changed.includes(step.from)) continue;
    const change = changeOf(ops, current[step.from]!, writtenAt);
    heldWhenPlanned.set(change, states);
    for (const to of step.to) outbox.set(to, [...(outbox.get(to) ?? []), change]);
  }
  if (changed.length > 0) {
    return { outcome: 'changed-during-repair', note: `${changed.join(', ')} changed since it was read (a live write); left to the pipeline: run verify again` };
  }
  return { outcome: 'shipped' };
}

async function waitConverged(o: RepairOptions, regions: readonly string[], keys: readonly string[], waitMs: number): Promise<DivergentKey[]> {
  const deadline = Date.now() + waitMs;
  let remaining = [...keys];
  let last: DivergentKey[] = [];
  while (remaining.length > 0) {
    last = await recheckKeys({ ops: o.ops, regions, keys: remaining, rechecks: 0 });
    remaining = last.map((d) => d.key);
    if (remaining.length === 0 || Date.now() >= deadline) break;
    await sleep(500);
  }
  return last;
}

/** Text lines for a repair report (dry run or applied). */
export function formatRepair(r: RepairReport): string[] {
  const lines: string[] = [];
  for (const k of r.keys) {
    lines.push(`${k.key}`);
    for (const [region, h] of Object.entries(k.before)) lines.push(`    ${region.padEnd(16)} ${describeHolding(h)}`);
    for (const s of k.steps) {
      lines.push(
        s.kind === 'touch'
          ? `  → touch in ${s.region}: ${s.reason}`
          : `  → ship ${s.version === 'new' ? `the touched item from ${s.from}` : `${s.from}'s ${s.version}`} to ${s.to.join(', ')}`,
      );
    }
    if (k.outcome !== 'planned' && k.outcome !== 'shipped') lines.push(`  = ${k.outcome}${k.note ? `: ${k.note}` : ''}`);
  }
  return lines;
}
