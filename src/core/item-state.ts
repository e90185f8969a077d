/**
 * Item state for the `fields` and `merge` strategies: every attribute carries what it needs to
 * merge without coordination, and `mergeStates` is a join (commutative, associative,
 * idempotent), so replicas that have seen the same changes hold the same item whatever the
 * order, duplicates or delays. Pure: no AWS calls.
 *
 *  - plain attributes: last writer wins per attribute, by the version of the write that set or
 *    removed it (`_rs_fv`), so concurrent updates to different attributes both survive;
 *  - `counter`: a PN-counter per region (increments are never lost);
 *  - `set`: an add-wins observed-remove set (a remove takes out only the adds it has seen);
 *  - `max` / `min`: a register that only moves up / down;
 *  - `list`: an append-only list ordered by the version of each append.
 *
 * Sets and lists are kept as dot kernels (optimized OR-set, Bieniusa et al. 2012; delta-state
 * CRDTs): an element keeps only its live add dots (the versions of the writes that added it), and
 * the item keeps one causal context of the writes it has seen. A dot that one side lacks but whose
 * write the side has seen was removed there, so removes leave no tombstones and the state stays
 * O(live elements × regions). See {@link CausalContext} for why the context is not `_rs_vv`.
 *
 * A local write is folded in as a delta between the stream record's old and new images, so an
 * application using plain `UpdateItem ... ADD likes :one` keeps counter semantics.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from './change.ts';
import { canonicalItem, stableStringify } from './codec.ts';
import { META, META_ATTRIBUTES, type CrdtKind, type KeySchema, type StrategySpec } from './contract.ts';
import { advance, mergeVectors, vectorFromAttribute, vectorAttribute, type VersionVector } from './vector.ts';
import { compareVersions, decodeVersion, encodeVersion, regionOfVersion, type Version } from './version.ts';

type Counts = Record<string, number>;
interface CounterState {
  p: Counts;
  n: Counts;
  /** Baselines: the counts a delete observed; the value counts only what came after. */
  bp: Counts;
  bn: Counts;
  /** Newest write per region (a counter written after the last delete keeps the item alive). */
  t: Record<string, string>;
}
interface SetState {
  type: 'SS' | 'NS';
  /** element → its live add dots (versions of the writes that added it); absent once removed. */
  e: Record<string, string[]>;
}
interface ListState {
  /** tag (version#index, sortable) → element; the dot of an entry is the version before `#`. */
  i: Record<string, AttributeValue>;
}
/** Before the dot kernel: every add tag and every removed tag, kept forever (converted on read). */
type StoredSet = { type: 'SS' | 'NS'; e: Record<string, string[] | { a: string[]; r: string[] }> };
type StoredList = { i: Record<string, AttributeValue>; x?: string[] };

/**
 * The writes (dots) this state has seen: every version of region r at or below `k[r]`, plus `z`,
 * plus the dots still live in its sets and lists. Kept in `_rs_crdt` rather than reusing `_rs_vv`,
 * which is not sound for this: custom and lww writes, and a `_rs_crdt` that failed to parse,
 * advance `_rs_vv` while dropping the dots. A local write raises `k` for its own region only when
 * its base is known to hold every earlier dot of that region (see `applyLocalWrite`); otherwise the
 * dots it removes go to `z` until a later complete write of their region covers them.
 */
interface CausalContext {
  k: Record<string, string>;
  /**
   * Per region, the newest local write that could not raise `k` (its base may lack dots of its
   * region). While `u[r] > k[r]` no write of region r may claim completeness by default: the
   * missing dots come back only with the fold of the whole-item write that dropped them.
   */
  u: Record<string, string>;
  /** Seen dots above `k` that no set or list holds any more (removed); canonical: sorted, none covered or live. */
  z: string[];
}

/** An item's mergeable state (`fields`, `merge`): what {@link parseState} reads and {@link serializeState} writes. */
export interface ItemState {
  key: AttributeMap;
  /**
   * The newest version the state holds.
   * @default none (an empty state, or an item never versioned)
   */
  version?: string;
  /**
   * The region of `version`.
   * @default none (no version)
   */
  origin?: string;
  vector: VersionVector;
  fields: Record<string, { value?: AttributeValue; v: string }>;
  counters: Record<string, CounterState>;
  sets: Record<string, SetState>;
  registers: Record<string, string>;
  lists: Record<string, ListState>;
  seen: CausalContext;
  /** Newest delete seen (a counter written after it keeps the item alive). */
  deletedAt: string;
  /** Tombstone expiry (epoch seconds) of the newest delete. */
  expiresAt: number;
}

/** What the state functions need to know about a table (built from its settings by `stateContext` in writes.ts). */
export interface StateContext {
  readonly key: KeySchema;
  readonly strategy: StrategySpec;
  readonly ttlAttribute: string;
}

function declared(ctx: StateContext): Readonly<Record<string, CrdtKind>> {
  return ctx.strategy.strategy === 'merge' ? ctx.strategy.attributes : {};
}

function keyNames(ctx: StateContext): string[] {
  return [ctx.key.partitionKey, ...(ctx.key.sortKey ? [ctx.key.sortKey] : [])];
}

/** Attributes that belong to the application (not the key, not regionsync's metadata). */
export function userAttributes(item: AttributeMap | undefined, ctx: StateContext): string[] {
  if (!item) return [];
  const skip = new Set([...keyNames(ctx), ...META_ATTRIBUTES, ctx.ttlAttribute === META.expiresAt ? META.expiresAt : '']);
  return Object.keys(item).filter((a) => !skip.has(a));
}

/** The state of a key nothing has been written to: where a merge starts when there is no stored state. */
export function emptyState(key: AttributeMap): ItemState {
  return { key, vector: {}, fields: {}, counters: {}, sets: {}, registers: {}, lists: {}, seen: { k: {}, u: {}, z: [] }, deletedAt: '', expiresAt: 0 };
}

/** Reads the state stored in an item (attributes without metadata are a plain write not folded in yet: ignored). */
export function parseState(item: AttributeMap, ctx: StateContext): ItemState {
  const key = Object.fromEntries(keyNames(ctx).map((k) => [k, item[k]!]));
  const state = emptyState(key);
  state.version = item[META.version]?.S;
  state.origin = regionOfVersion(item[META.version]?.S);
  state.vector = vectorFromAttribute(item[META.vector], item[META.version]?.S);
  const fv = item[META.fieldVersions]?.M ?? {};
  const kinds = declared(ctx);
  for (const [name, v] of Object.entries(fv)) {
    if (kinds[name] || typeof v.S !== 'string') continue;
    state.fields[name] = item[name] !== undefined ? { value: item[name], v: v.S } : { v: v.S };
  }
  const crdt = fromJson(item[META.crdt]) as Partial<{
    c: Record<string, CounterState>;
    s: Record<string, StoredSet>;
    g: Record<string, string>;
    l: Record<string, StoredList>;
    d: string;
    x: number;
    k: Record<string, string>;
    u: Record<string, string>;
    z: string[];
  }>;
  // Removed dots of the old format (and `z`) join the context, so old and new states merge as one.
  const removed = [...(crdt.z ?? [])];
  for (const [name, kind] of Object.entries(kinds)) {
    if (kind === 'counter' && crdt.c?.[name]) state.counters[name] = crdt.c[name]!;
    if (kind === 'set' && crdt.s?.[name]) state.sets[name] = readSet(crdt.s[name]!, removed);
    if ((kind === 'max' || kind === 'min') && crdt.g?.[name] !== undefined) state.registers[name] = crdt.g[name]!;
    if (kind === 'list' && crdt.l?.[name]) state.lists[name] = readList(crdt.l[name]!, removed);
  }
  const k = { ...(crdt.k ?? {}) };
  state.seen = { k, u: { ...(crdt.u ?? {}) }, z: canonicalZ(removed, k, liveDots(state)) };
  state.deletedAt = crdt.d ?? (item[META.deleted]?.BOOL ? (state.version ?? '') : '');
  state.expiresAt = crdt.x ?? Number(item[ctx.ttlAttribute]?.N ?? 0);
  return state;
}

/** Whether anything of the item is live (else it is a tombstone). */
export function isAlive(state: ItemState): boolean {
  if (Object.values(state.fields).some((f) => f.value !== undefined)) return true;
  if (Object.values(state.sets).some((s) => Object.values(s.e).some((dots) => dots.length > 0))) return true;
  if (Object.values(state.lists).some((l) => Object.keys(l.i).length > 0)) return true;
  return Object.values(state.counters).some((c) => Object.values(c.t).some((t) => t > state.deletedAt));
}

/** The item as stored: the materialized values plus the metadata that lets any replica merge it. */
export function serializeState(state: ItemState, ctx: StateContext, writer: 'stamp' | 'repl' | 'app'): AttributeMap {
  const item: AttributeMap = { ...state.key };
  const alive = isAlive(state);
  const fv: Record<string, AttributeValue> = {};
  for (const [name, f] of Object.entries(state.fields)) {
    fv[name] = { S: f.v };
    if (f.value !== undefined) item[name] = f.value;
  }
  for (const [name, c] of Object.entries(state.counters)) {
    if (Object.values(c.t).some((t) => t > state.deletedAt)) item[name] = { N: String(counterValue(c)) };
  }
  for (const [name, s] of Object.entries(state.sets)) {
    const elems = Object.keys(s.e)
      .filter((e) => s.e[e]!.length > 0)
      .sort();
    if (elems.length > 0) item[name] = s.type === 'NS' ? { NS: elems } : { SS: elems };
  }
  for (const [name, l] of Object.entries(state.lists)) {
    const tags = Object.keys(l.i).sort();
    if (tags.length > 0) item[name] = { L: tags.map((t) => l.i[t]!) };
  }
  // Registers only move one way across deletes too; a deleted item does not show them.
  if (alive) for (const [name, v] of Object.entries(state.registers)) item[name] = { N: v };
  if (state.version) item[META.version] = { S: state.version };
  item[META.writer] = { S: writer };
  Object.assign(item, vectorAttribute(state.vector, state.version));
  if (Object.keys(fv).length > 0) item[META.fieldVersions] = { M: fv };
  const crdt = {
    c: state.counters,
    s: state.sets,
    g: state.registers,
    l: state.lists,
    d: state.deletedAt,
    x: state.expiresAt,
    k: state.seen.k,
    ...(Object.keys(state.seen.u).length > 0 ? { u: state.seen.u } : {}),
    ...(state.seen.z.length > 0 ? { z: state.seen.z } : {}),
  };
  item[META.crdt] = toJson(crdt);
  if (!alive) {
    item[META.deleted] = { BOOL: true };
    item[ctx.ttlAttribute] = { N: String(state.expiresAt) };
  }
  return item;
}

/** Options of {@link applyLocalWrite}. */
export interface LocalWriteOptions {
  /**
   * Whether `state` is known to hold every earlier dot of this region, so the write may raise the
   * context's entry for its region to its own version. Unset: assumed unless the base is an
   * unversioned item with content (a plain PutItem not folded in yet) or an earlier local write
   * could not claim it either (`u`). The shipper passes {@link foldBaseComplete}.
   * @default true, unless the base is an unversioned item with content or an earlier local write of this region could not claim it (`u`)
   */
  readonly baseComplete?: boolean;
}

/**
 * Folds a local write (the record's old and new images; new undefined for a delete) into `state`
 * at `version` (when the write happened: a later change from elsewhere, already merged in, keeps
 * what it set). The item's version stays the newest it holds.
 */
export function applyLocalWrite(
  state: ItemState,
  oldImage: AttributeMap | undefined,
  newImage: AttributeMap | undefined,
  version: Version,
  ctx: StateContext,
  tombstoneExpiresAt: number,
  options: LocalWriteOptions = {},
): ItemState {
  const s = structuredClone(state);
  const v = encodeVersion(version);
  const me = version.region;
  /** Dots this write takes out of sets and lists: they stay in the context. */
  const dropped: string[] = [];
  if (!newImage) {
    // A delete removes everything it has observed; what it has not seen (concurrent) survives.
    s.deletedAt = maxString(s.deletedAt, v);
    s.expiresAt = Math.max(s.expiresAt, tombstoneExpiresAt);
    // Per attribute, the later write wins: what was written after the delete (merged in from
    // elsewhere before the delete was folded) stays.
    for (const [name, f] of Object.entries(s.fields)) if (f.v < v) s.fields[name] = { v };
    for (const c of Object.values(s.counters)) {
      c.bp = { ...c.p };
      c.bn = { ...c.n };
    }
    for (const set of Object.values(s.sets)) {
      for (const dots of Object.values(set.e)) dropped.push(...dots);
      set.e = {};
    }
    for (const l of Object.values(s.lists)) {
      dropped.push(...Object.keys(l.i).map(dotOfTag));
      l.i = {};
    }
  } else {
    const kinds = declared(ctx);
    for (const name of new Set([...userAttributes(oldImage, ctx), ...userAttributes(newImage, ctx)])) {
      const before = oldImage?.[name];
      const after = newImage[name];
      switch (kinds[name]) {
        case 'counter': {
          const c = (s.counters[name] ??= { p: {}, n: {}, bp: {}, bn: {}, t: {} });
          const delta = num(after) - num(before);
          if (delta > 0) c.p[me] = (c.p[me] ?? 0) + delta;
          if (delta < 0) c.n[me] = (c.n[me] ?? 0) - delta;
          if (delta !== 0 || before === undefined) c.t[me] = v;
          break;
        }
        case 'set': {
          const olds = setElements(before);
          const news = setElements(after);
          const set = (s.sets[name] ??= { type: after?.NS || before?.NS ? 'NS' : 'SS', e: {} });
          // An add replaces the adds it has seen (the element stays present either way), so an element
          // keeps at most one dot per concurrent adder.
          for (const e of news) {
            if (olds.includes(e)) continue;
            dropped.push(...(set.e[e] ?? []));
            set.e[e] = [v];
          }
          for (const e of olds) {
            if (news.includes(e) || !set.e[e]) continue;
            dropped.push(...set.e[e]!);
            delete set.e[e];
          }
          break;
        }
        case 'max':
        case 'min': {
          if (after?.N === undefined) break;
          const current = s.registers[name];
          const better = current === undefined || (kinds[name] === 'max' ? Number(after.N) > Number(current) : Number(after.N) < Number(current));
          if (better) s.registers[name] = after.N;
          break;
        }
        case 'list': {
          const l = (s.lists[name] ??= { i: {} });
          const olds = before?.L ?? [];
          const news = after?.L ?? [];
          const same = (x: AttributeValue, y: AttributeValue | undefined) =>
            y !== undefined && canonicalItem({ x } as AttributeMap) === canonicalItem({ x: y } as AttributeMap);
          // Append-only: what the write added after the old elements (a shortened list removes nothing).
          const prefix = olds.every((x, i) => same(x, news[i]));
          const appended = prefix ? news.slice(olds.length) : news.filter((x) => !olds.some((o) => same(o, x)));
          for (const [i, x] of appended.entries()) l.i[`${v}#${String(i).padStart(6, '0')}`] = x;
          break;
        }
        default:
          if (before === undefined && after === undefined) break;
          if (before !== undefined && after !== undefined && canonicalItem({ x: before } as AttributeMap) === canonicalItem({ x: after } as AttributeMap))
            break;
          // Per attribute, the later write wins: a change from elsewhere merged in before this
          // (earlier) local write was folded keeps what it set.
          if (s.fields[name] && s.fields[name]!.v > v) break;
          s.fields[name] = after === undefined ? { v } : { value: after, v };
      }
    }
  }
  // Raising k[me] claims every dot of this region up to v has been seen: only from a complete base.
  const lossyBase = state.version === undefined && oldImage !== undefined && userAttributes(oldImage, ctx).length > 0;
  const pending = (s.seen.u[me] ?? '') > (s.seen.k[me] ?? '');
  if (options.baseComplete ?? (!lossyBase && !pending)) s.seen.k = maxStrings(s.seen.k, { [me]: v });
  else s.seen.u = maxStrings(s.seen.u, { [me]: v });
  s.seen.z = canonicalZ([...s.seen.z, ...dropped], s.seen.k, liveDots(s));
  if (compareVersionStrings(v, s.version) > 0) {
    s.version = v;
    s.origin = me;
  }
  s.vector = advance(s.vector, version);
  return s;
}

/**
 * For the shipper's fold of a plain write (the record's new image; undefined for a delete), with
 * `current` the item read now. The fold's base is current joined with the record's old image; it
 * lacks earlier dots of this region only if a whole-item PutItem or DeleteItem dropped the state
 * after a fold this old image predates. So:
 *  - true when the item is still exactly what the record's write left: nothing wrote it since;
 *  - false when the item has no `_rs_sq`: such a write came after the last fold (only folds write
 *    `_rs_sq`; the applier and the client helper carry it over; a PutItem drops it);
 *  - otherwise undefined: nothing dropped the state since the last fold, which claimed
 *    completeness unless it recorded otherwise in `u` (applyLocalWrite checks).
 */
export function foldBaseComplete(current: AttributeMap | undefined, newImage: AttributeMap | undefined): boolean | undefined {
  if (!current || !newImage ? current === newImage : canonicalItem(current) === canonicalItem(newImage)) return true;
  return current?.[META.sequence] ? undefined : false;
}

/** The join of two states: every replica that merges the same states gets the same item. */
export function mergeStates(a: ItemState, b: ItemState, ctx: StateContext): ItemState {
  const out = emptyState(a.key);
  const newest = compareVersionStrings(a.version, b.version) >= 0 ? a : b;
  out.version = newest.version;
  out.origin = newest.origin;
  out.vector = mergeVectors(a.vector, b.vector);
  for (const name of new Set([...Object.keys(a.fields), ...Object.keys(b.fields)])) {
    const x = a.fields[name];
    const y = b.fields[name];
    if (!x || !y) out.fields[name] = structuredClone((x ?? y)!);
    else if (x.v !== y.v) out.fields[name] = structuredClone(x.v > y.v ? x : y);
    // Same version, different value cannot happen for well-formed input; pick deterministically.
    else
      out.fields[name] = structuredClone(
        canonicalItem({ x: x.value ?? { NULL: true } } as AttributeMap) >= canonicalItem({ x: y.value ?? { NULL: true } } as AttributeMap) ? x : y,
      );
  }
  for (const name of new Set([...Object.keys(a.counters), ...Object.keys(b.counters)])) {
    const x = a.counters[name] ?? { p: {}, n: {}, bp: {}, bn: {}, t: {} };
    const y = b.counters[name] ?? { p: {}, n: {}, bp: {}, bn: {}, t: {} };
    out.counters[name] = { p: maxCounts(x.p, y.p), n: maxCounts(x.n, y.n), bp: maxCounts(x.bp, y.bp), bn: maxCounts(x.bn, y.bn), t: maxStrings(x.t, y.t) };
  }
  // Dot kernel join: a dot survives if both sides hold it, or one does and the other has not seen it.
  const seenA = seenBy(a);
  const seenB = seenBy(b);
  const keep = (dot: string, inA: boolean, inB: boolean) => (inA && inB) || (inA && !seenB(dot)) || (inB && !seenA(dot));
  for (const name of new Set([...Object.keys(a.sets), ...Object.keys(b.sets)])) {
    const x = a.sets[name];
    const y = b.sets[name];
    const e: SetState['e'] = {};
    for (const el of new Set([...Object.keys(x?.e ?? {}), ...Object.keys(y?.e ?? {})])) {
      const xs = x?.e[el] ?? [];
      const ys = y?.e[el] ?? [];
      const dots = union(xs, ys).filter((d) => keep(d, xs.includes(d), ys.includes(d)));
      if (dots.length > 0) e[el] = dots;
    }
    out.sets[name] = { type: x?.type === 'NS' || y?.type === 'NS' ? 'NS' : 'SS', e };
  }
  const kinds = declared(ctx);
  for (const name of new Set([...Object.keys(a.registers), ...Object.keys(b.registers)])) {
    const x = a.registers[name];
    const y = b.registers[name];
    if (x === undefined || y === undefined) out.registers[name] = (x ?? y)!;
    else out.registers[name] = (kinds[name] === 'min' ? Number(x) <= Number(y) : Number(x) >= Number(y)) ? x : y;
  }
  for (const name of new Set([...Object.keys(a.lists), ...Object.keys(b.lists)])) {
    const x = a.lists[name]?.i ?? {};
    const y = b.lists[name]?.i ?? {};
    const i: ListState['i'] = {};
    for (const tag of union(Object.keys(x), Object.keys(y))) if (keep(dotOfTag(tag), tag in x, tag in y)) i[tag] = (x[tag] ?? y[tag])!;
    out.lists[name] = { i };
  }
  const k = maxStrings(a.seen.k, b.seen.k);
  out.seen = { k, u: maxStrings(a.seen.u, b.seen.u), z: canonicalZ([...a.seen.z, ...b.seen.z, ...liveDots(a), ...liveDots(b)], k, liveDots(out)) };
  out.deletedAt = maxString(a.deletedAt, b.deletedAt);
  out.expiresAt = Math.max(a.expiresAt, b.expiresAt);
  return out;
}

/** Equal as stored (metadata included), ignoring who wrote it. */
export function sameState(a: ItemState, b: ItemState, ctx: StateContext): boolean {
  return canonicalItem(serializeState(a, ctx, 'repl')) === canonicalItem(serializeState(b, ctx, 'repl'));
}

function counterValue(c: CounterState): number {
  let total = 0;
  for (const r of new Set([...Object.keys(c.p), ...Object.keys(c.n)])) total += (c.p[r] ?? 0) - (c.bp[r] ?? 0) - ((c.n[r] ?? 0) - (c.bn[r] ?? 0));
  return total;
}

/** Converts a stored set (either format) to live dots; the old format's removed tags go to `removed`. */
function readSet(stored: StoredSet, removed: string[]): SetState {
  const e: SetState['e'] = {};
  for (const [el, v] of Object.entries(stored.e ?? {})) {
    const live = Array.isArray(v) ? v : v.a.filter((t) => !v.r.includes(t));
    if (!Array.isArray(v)) removed.push(...v.r);
    if (live.length > 0) e[el] = [...new Set(live)].sort();
  }
  return { type: stored.type === 'NS' ? 'NS' : 'SS', e };
}

function readList(stored: StoredList, removed: string[]): ListState {
  const gone = new Set(stored.x ?? []);
  removed.push(...[...gone].map(dotOfTag));
  return { i: Object.fromEntries(Object.entries(stored.i ?? {}).filter(([t]) => !gone.has(t))) };
}

function dotOfTag(tag: string): string {
  const hash = tag.lastIndexOf('#');
  return hash < 0 ? tag : tag.slice(0, hash);
}

/** Every dot still held by the state's sets and lists (part of its context). */
function liveDots(state: ItemState): Set<string> {
  const out = new Set<string>();
  for (const s of Object.values(state.sets)) for (const dots of Object.values(s.e)) for (const d of dots) out.add(d);
  for (const l of Object.values(state.lists)) for (const t of Object.keys(l.i)) out.add(dotOfTag(t));
  return out;
}

/** Whether `k` covers `dot`: same region, at or below its entry (fixed-width versions compare as strings). */
function covered(k: Readonly<Record<string, string>>, dot: string): boolean {
  const region = decodeVersion(dot)?.region;
  const top = region === undefined ? undefined : k[region];
  return top !== undefined && dot <= top;
}

function seenBy(state: ItemState): (dot: string) => boolean {
  const z = new Set(state.seen.z);
  const live = liveDots(state);
  return (dot) => covered(state.seen.k, dot) || z.has(dot) || live.has(dot);
}

/** The context's explicit part: seen dots neither covered by `k` nor still live, sorted, once each. */
function canonicalZ(dots: Iterable<string>, k: Readonly<Record<string, string>>, live: ReadonlySet<string>): string[] {
  return [...new Set(dots)].filter((d) => !live.has(d) && !covered(k, d)).sort();
}

function setElements(v: AttributeValue | undefined): string[] {
  return v?.SS ?? v?.NS ?? [];
}

function num(v: AttributeValue | undefined): number {
  const n = Number(v?.N);
  return Number.isFinite(n) ? n : 0;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

function maxCounts(a: Counts, b: Counts): Counts {
  const out: Counts = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}

function maxStrings(a: Record<string, string>, b: Record<string, string>): Record<string, string> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = maxString(out[k] ?? '', v);
  return out;
}

function maxString(a: string, b: string): string {
  return a >= b ? a : b;
}

function compareVersionStrings(a: string | undefined, b: string | undefined): number {
  const va = decodeVersion(a);
  const vb = decodeVersion(b);
  if (!va) return vb ? -1 : 0;
  if (!vb) return 1;
  return compareVersions(va, vb);
}

/** CRDT bookkeeping is stored as one JSON string: compact, and any replica can parse it. */
function toJson(v: unknown): AttributeValue {
  return { S: stableStringify(v) };
}

function fromJson(v: AttributeValue | undefined): unknown {
  if (typeof v?.S !== 'string') return {};
  try {
    return JSON.parse(v.S) as unknown;
  } catch {
    return {};
  }
}
