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
 * A local write is folded in as a delta between the stream record's old and new images, so an
 * application using plain `UpdateItem ... ADD likes :one` keeps counter semantics.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from './change.ts';
import { canonicalItem, stableStringify } from './codec.ts';
import { META, META_ATTRIBUTES, type CrdtKind, type KeySchema, type StrategySpec } from './contract.ts';
import { advance, mergeVectors, vectorFromAttribute, vectorToAttribute, type VersionVector } from './vector.ts';
import { compareVersions, decodeVersion, encodeVersion, type Version } from './version.ts';

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
  /** element → add tags and removed tags; present while some add tag is not removed. */
  e: Record<string, { a: string[]; r: string[] }>;
}
interface ListState {
  /** tag (version#index, sortable) → element */
  i: Record<string, AttributeValue>;
  /** tags removed by a delete */
  x: string[];
}

export interface ItemState {
  key: AttributeMap;
  version?: string;
  origin?: string;
  vector: VersionVector;
  fields: Record<string, { value?: AttributeValue; v: string }>;
  counters: Record<string, CounterState>;
  sets: Record<string, SetState>;
  registers: Record<string, string>;
  lists: Record<string, ListState>;
  /** Newest delete seen (a counter written after it keeps the item alive). */
  deletedAt: string;
  /** Tombstone expiry (epoch seconds) of the newest delete. */
  expiresAt: number;
}

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

export function emptyState(key: AttributeMap): ItemState {
  return { key, vector: {}, fields: {}, counters: {}, sets: {}, registers: {}, lists: {}, deletedAt: '', expiresAt: 0 };
}

/** Reads the state stored in an item (attributes without metadata are a plain write not folded in yet: ignored). */
export function parseState(item: AttributeMap, ctx: StateContext): ItemState {
  const key = Object.fromEntries(keyNames(ctx).map((k) => [k, item[k]!]));
  const state = emptyState(key);
  state.version = item[META.version]?.S;
  state.origin = item[META.origin]?.S;
  state.vector = vectorFromAttribute(item[META.vector]);
  const fv = item[META.fieldVersions]?.M ?? {};
  const kinds = declared(ctx);
  for (const [name, v] of Object.entries(fv)) {
    if (kinds[name] || typeof v.S !== 'string') continue;
    state.fields[name] = item[name] !== undefined ? { value: item[name], v: v.S } : { v: v.S };
  }
  const crdt = fromJson(item[META.crdt]) as Partial<{ c: Record<string, CounterState>; s: Record<string, SetState>; g: Record<string, string>; l: Record<string, ListState>; d: string; x: number }>;
  for (const [name, kind] of Object.entries(kinds)) {
    if (kind === 'counter' && crdt.c?.[name]) state.counters[name] = crdt.c[name]!;
    if (kind === 'set' && crdt.s?.[name]) state.sets[name] = crdt.s[name]!;
    if ((kind === 'max' || kind === 'min') && crdt.g?.[name] !== undefined) state.registers[name] = crdt.g[name]!;
    if (kind === 'list' && crdt.l?.[name]) state.lists[name] = crdt.l[name]!;
  }
  state.deletedAt = crdt.d ?? (item[META.deleted]?.BOOL ? (state.version ?? '') : '');
  state.expiresAt = crdt.x ?? Number(item[ctx.ttlAttribute]?.N ?? 0);
  return state;
}

/** Whether anything of the item is live (else it is a tombstone). */
export function isAlive(state: ItemState): boolean {
  if (Object.values(state.fields).some((f) => f.value !== undefined)) return true;
  if (Object.values(state.sets).some((s) => Object.values(s.e).some(present))) return true;
  if (Object.values(state.lists).some((l) => Object.keys(l.i).some((t) => !l.x.includes(t)))) return true;
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
    const elems = Object.keys(s.e).filter((e) => present(s.e[e]!)).sort();
    if (elems.length > 0) item[name] = s.type === 'NS' ? { NS: elems } : { SS: elems };
  }
  for (const [name, l] of Object.entries(state.lists)) {
    const tags = Object.keys(l.i).filter((t) => !l.x.includes(t)).sort();
    if (tags.length > 0) item[name] = { L: tags.map((t) => l.i[t]!) };
  }
  // Registers only move one way across deletes too; a deleted item does not show them.
  if (alive) for (const [name, v] of Object.entries(state.registers)) item[name] = { N: v };
  if (state.version) item[META.version] = { S: state.version };
  if (state.origin) item[META.origin] = { S: state.origin };
  item[META.writer] = { S: writer };
  item[META.vector] = vectorToAttribute(state.vector);
  if (Object.keys(fv).length > 0) item[META.fieldVersions] = { M: fv };
  const crdt = { c: state.counters, s: state.sets, g: state.registers, l: state.lists, d: state.deletedAt, x: state.expiresAt };
  item[META.crdt] = toJson(crdt);
  if (!alive) {
    item[META.deleted] = { BOOL: true };
    item[ctx.ttlAttribute] = { N: String(state.expiresAt) };
  }
  return item;
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
): ItemState {
  const s = structuredClone(state);
  const v = encodeVersion(version);
  const me = version.region;
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
    for (const set of Object.values(s.sets)) for (const e of Object.values(set.e)) e.r = union(e.r, e.a);
    for (const l of Object.values(s.lists)) l.x = union(l.x, Object.keys(l.i));
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
          for (const e of news) if (!olds.includes(e)) (set.e[e] ??= { a: [], r: [] }).a = union(set.e[e]?.a ?? [], [v]);
          for (const e of olds) if (!news.includes(e) && set.e[e]) set.e[e]!.r = union(set.e[e]!.r, set.e[e]!.a);
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
          const l = (s.lists[name] ??= { i: {}, x: [] });
          const olds = before?.L ?? [];
          const news = after?.L ?? [];
          const same = (x: AttributeValue, y: AttributeValue | undefined) => y !== undefined && canonicalItem({ x } as AttributeMap) === canonicalItem({ x: y } as AttributeMap);
          // Append-only: what the write added after the old elements (a shortened list removes nothing).
          const prefix = olds.every((x, i) => same(x, news[i]));
          const appended = prefix ? news.slice(olds.length) : news.filter((x) => !olds.some((o) => same(o, x)));
          appended.forEach((x, i) => (l.i[`${v}#${String(i).padStart(6, '0')}`] = x));
          break;
        }
        default:
          if (before === undefined && after === undefined) break;
          if (before !== undefined && after !== undefined && canonicalItem({ x: before } as AttributeMap) === canonicalItem({ x: after } as AttributeMap)) break;
          // Per attribute, the later write wins: a change from elsewhere merged in before this
          // (earlier) local write was folded keeps what it set.
          if (s.fields[name] && s.fields[name]!.v > v) break;
          s.fields[name] = after === undefined ? { v } : { value: after, v };
      }
    }
  }
  if (compareVersionStrings(v, s.version) > 0) {
    s.version = v;
    s.origin = me;
  }
  s.vector = advance(s.vector, version);
  return s;
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
    else out.fields[name] = structuredClone(canonicalItem({ x: x.value ?? { NULL: true } } as AttributeMap) >= canonicalItem({ x: y.value ?? { NULL: true } } as AttributeMap) ? x : y);
  }
  for (const name of new Set([...Object.keys(a.counters), ...Object.keys(b.counters)])) {
    const x = a.counters[name] ?? { p: {}, n: {}, bp: {}, bn: {}, t: {} };
    const y = b.counters[name] ?? { p: {}, n: {}, bp: {}, bn: {}, t: {} };
    out.counters[name] = { p: maxCounts(x.p, y.p), n: maxCounts(x.n, y.n), bp: maxCounts(x.bp, y.bp), bn: maxCounts(x.bn, y.bn), t: maxStrings(x.t, y.t) };
  }
  for (const name of new Set([...Object.keys(a.sets), ...Object.keys(b.sets)])) {
    const x = a.sets[name];
    const y = b.sets[name];
    const e: SetState['e'] = {};
    for (const el of new Set([...Object.keys(x?.e ?? {}), ...Object.keys(y?.e ?? {})])) {
      e[el] = { a: union(x?.e[el]?.a ?? [], y?.e[el]?.a ?? []), r: union(x?.e[el]?.r ?? [], y?.e[el]?.r ?? []) };
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
    const x = a.lists[name] ?? { i: {}, x: [] };
    const y = b.lists[name] ?? { i: {}, x: [] };
    out.lists[name] = { i: { ...x.i, ...y.i }, x: union(x.x, y.x) };
  }
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

function present(e: { a: string[]; r: string[] }): boolean {
  return e.a.some((t) => !e.r.includes(t));
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
