/**
 * Selective replication (README, "Selective replication"): which items go to which target region
 * (declarative predicates on attributes, evaluated by the shipper before anything leaves the
 * source region) and which attributes never go there (projection). The applier uses the same
 * projection to keep its own values of attributes that do not travel between two regions.
 * Pure code: no AWS calls.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap, Change, Predicate, Scalar, SelectionSpec, TargetSelection } from './types.ts';
import { META, META_ATTRIBUTES, type KeySchema } from './contract.ts';

export type { Predicate, Scalar, SelectionSpec, TargetSelection };

const LEAF_OPERATORS = ['equals', 'in', 'exists', 'notExists', 'beginsWith', 'lt', 'gt'] as const;

/** Whether the item (without metadata) satisfies the predicate. A missing attribute satisfies only `notExists` (and `not`s). */
export function matches(predicate: Predicate, item: AttributeMap): boolean {
  if ('and' in predicate) return predicate.and.every((p) => matches(p, item));
  if ('or' in predicate) return predicate.or.some((p) => matches(p, item));
  if ('not' in predicate) return !matches(predicate.not, item);
  const value = item[predicate.attribute];
  if ('notExists' in predicate) return value === undefined || 'NULL' in value;
  if (value === undefined || 'NULL' in value) return false;
  if ('exists' in predicate) return true;
  if ('equals' in predicate) return scalarEquals(value, predicate.equals);
  if ('in' in predicate) return predicate.in.some((s) => scalarEquals(value, s));
  if ('beginsWith' in predicate) return typeof value.S === 'string' && value.S.startsWith(predicate.beginsWith);
  const n = typeof value.N === 'string' ? Number(value.N) : NaN;
  if (Number.isNaN(n)) return false;
  if ('lt' in predicate) return n < predicate.lt;
  return n > predicate.gt;
}

function scalarEquals(value: AttributeValue | AttributeMap[string], s: Scalar): boolean {
  if (typeof s === 'string') return value.S === s;
  if (typeof s === 'number') return typeof value.N === 'string' && Number(value.N) === s;
  return value.BOOL === s;
}

/** Problems with a predicate, each `path: why (got value)`; empty when it is valid. */
export function checkPredicate(p: unknown, path: string): string[] {
  const bad = (at: string, v: unknown, why: string) => [`${at}: ${why} (got ${JSON.stringify(v)})`];
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return bad(path, p, 'a predicate must be an object');
  const o = p as Record<string, unknown>;
  for (const op of ['and', 'or'] as const) {
    if (op in o) {
      if (Object.keys(o).length !== 1) return bad(path, Object.keys(o), `"${op}" must be the predicate's only field`);
      if (!Array.isArray(o[op]) || o[op].length === 0) return bad(`${path}.${op}`, o[op], 'must be a non-empty list of predicates');
      return (o[op] as unknown[]).flatMap((q, i) => checkPredicate(q, `${path}.${op}[${i}]`));
    }
  }
  if ('not' in o) {
    if (Object.keys(o).length !== 1) return bad(path, Object.keys(o), '"not" must be the predicate\'s only field');
    return checkPredicate(o.not, `${path}.not`);
  }
  if (typeof o.attribute !== 'string' || o.attribute === '') return bad(`${path}.attribute`, o.attribute, 'must name an attribute');
  if (o.attribute.startsWith('_rs_')) return bad(`${path}.attribute`, o.attribute, 'regionsync metadata cannot be filtered on');
  const ops = Object.keys(o).filter((k) => k !== 'attribute');
  if (ops.length !== 1 || !(LEAF_OPERATORS as readonly string[]).includes(ops[0]!)) {
    return bad(path, ops, `needs exactly one of ${LEAF_OPERATORS.join(', ')} (or and/or/not)`);
  }
  const op = ops[0]!;
  const v = o[op];
  const isScalar = (x: unknown) => typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x));
  switch (op) {
    case 'equals':
      return isScalar(v) ? [] : bad(`${path}.equals`, v, 'must be a string, number or boolean');
    case 'in':
      return Array.isArray(v) && v.length > 0 && v.every(isScalar) ? [] : bad(`${path}.in`, v, 'must be a non-empty list of strings, numbers or booleans');
    case 'exists':
    case 'notExists':
      return v === true ? [] : bad(`${path}.${op}`, v, 'must be true');
    case 'beginsWith':
      return typeof v === 'string' ? [] : bad(`${path}.beginsWith`, v, 'must be a string');
    default:
      return typeof v === 'number' && Number.isFinite(v) ? [] : bad(`${path}.${op}`, v, 'must be a finite number');
  }
}

/** Problems with a table's `replicate` setting; empty when it is valid. */
export function checkSelection(spec: unknown, path: string, table: { regions: readonly string[]; key: KeySchema; strategy: string }): string[] {
  const bad = (at: string, v: unknown, why: string) => [`${at}: ${why} (got ${JSON.stringify(v)})`];
  if (spec === undefined) return [];
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return bad(path, spec, 'must be an object { filter?, to? }');
  const s = spec as Record<string, unknown>;
  const problems: string[] = [];
  const unknown = Object.keys(s).filter((k) => k !== 'filter' && k !== 'to');
  if (unknown.length > 0) problems.push(...bad(path, unknown, 'unknown fields (allowed: filter, to)'));
  if (s.filter !== undefined) problems.push(...checkPredicate(s.filter, `${path}.filter`));
  if (s.to === undefined) return problems;
  if (typeof s.to !== 'object' || s.to === null || Array.isArray(s.to))
    return [...problems, ...bad(`${path}.to`, s.to, 'must map region names to { filter?, exclude?, include? }')];
  const keyNames = [table.key.partitionKey, table.key.sortKey].filter((k): k is string => k !== undefined);
  for (const [region, t] of Object.entries(s.to as Record<string, unknown>)) {
    const at = `${path}.to.${region}`;
    if (!table.regions.includes(region)) problems.push(...bad(at, region, `not one of the table's regions (${table.regions.join(', ')})`));
    if (typeof t !== 'object' || t === null || Array.isArray(t)) {
      problems.push(...bad(at, t, 'must be an object { filter?, exclude?, include? }'));
      continue;
    }
    const target = t as Record<string, unknown>;
    const extra = Object.keys(target).filter((k) => !['filter', 'exclude', 'include'].includes(k));
    if (extra.length > 0) problems.push(...bad(at, extra, 'unknown fields (allowed: filter, exclude, include)'));
    if (target.filter !== undefined) problems.push(...checkPredicate(target.filter, `${at}.filter`));
    if (target.exclude !== undefined && target.include !== undefined) problems.push(...bad(at, Object.keys(target), 'give exclude or include, not both'));
    for (const field of ['exclude', 'include'] as const) {
      const list = target[field];
      if (list === undefined) continue;
      if (!Array.isArray(list) || list.some((n) => typeof n !== 'string' || n === '')) {
        problems.push(...bad(`${at}.${field}`, list, 'must be a list of attribute names'));
        continue;
      }
      for (const name of list as string[]) {
        if (keyNames.includes(name)) problems.push(...bad(`${at}.${field}`, name, 'key attributes always replicate'));
        if (name.startsWith('_rs_')) problems.push(...bad(`${at}.${field}`, name, 'regionsync metadata cannot be projected'));
      }
      // Custom resolvers keep whole sibling items in `_rs_sib`; redacting them would hand the resolver partial versions.
      if (table.strategy === 'custom') problems.push(...bad(`${at}.${field}`, list, 'attribute projection is not supported with the custom strategy'));
    }
  }
  return problems;
}

/** Whether `name` travels from `from` to `to` (key attributes and metadata always do). */
function travels(spec: SelectionSpec | undefined, to: string, key: KeySchema, name: string): boolean {
  const t = spec?.to?.[to];
  if (!t || name === key.partitionKey || name === key.sortKey || META_ATTRIBUTES.includes(name)) return true;
  if (t.include) return t.include.includes(name);
  return !(t.exclude ?? []).includes(name);
}

/** Whether the spec projects attributes toward `to` at all. */
function projects(spec: SelectionSpec | undefined, to: string): boolean {
  const t = spec?.to?.[to];
  return t?.include !== undefined || (t?.exclude?.length ?? 0) > 0;
}

/**
 * The merge metadata (`_rs_fv`, `_rs_crdt`) of `attrs` limited to the attributes `keep` accepts,
 * with every other attribute of `attrs` kept as it is; undefined when `_rs_crdt` cannot be parsed.
 */
export function cutMergeMetadata(attrs: AttributeMap, keep: (name: string) => boolean): AttributeMap | undefined {
  const m: AttributeMap = { ...attrs };
  const fv = m[META.fieldVersions]?.M;
  if (fv) m[META.fieldVersions] = { M: Object.fromEntries(Object.entries(fv).filter(([n]) => keep(n))) };
  const crdt = m[META.crdt]?.S;
  if (crdt !== undefined) {
    try {
      const state = JSON.parse(crdt) as Record<string, unknown>;
      for (const part of ['c', 's', 'g', 'l']) {
        const byName = state[part];
        if (byName && typeof byName === 'object') state[part] = Object.fromEntries(Object.entries(byName).filter(([n]) => keep(n)));
      }
      m[META.crdt] = { S: JSON.stringify(state) };
    } catch {
      return undefined;
    }
  }
  return m;
}

/** The change without the attributes `keep` refuses: in the item and in the merge metadata that names them. */
export function redact(change: Change, keep: (name: string) => boolean): Change {
  const item = change.item ? Object.fromEntries(Object.entries(change.item).filter(([n]) => keep(n))) : undefined;
  let meta = change.meta;
  if (meta) {
    const m = cutMergeMetadata(meta, keep);
    // Unparseable merge state carries nothing the applier would read: drop it rather than ship it unredacted.
    if (m === undefined) {
      meta = { ...meta };
      delete (meta as AttributeMap)[META.crdt];
    } else meta = m;
  }
  return { ...change, ...(item ? { item } : {}), ...(meta ? { meta } : {}) };
}

/** The change as it may be sent to `target`: projected, or unchanged when nothing is projected there. */
export function projectFor(change: Change, spec: SelectionSpec | undefined, target: string, key: KeySchema): Change {
  if (!projects(spec, target)) return change;
  return redact(change, (n) => travels(spec, target, key, n));
}

/** The filter for `target` (table filter and target filter together), or undefined when every item goes. */
export function filterFor(spec: SelectionSpec | undefined, target: string): Predicate | undefined {
  const parts = [spec?.filter, spec?.to?.[target]?.filter].filter((p): p is Predicate => p !== undefined);
  return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : { and: parts };
}

/** A change to ship, with the item as it was before the write (the stream record's old image), if known. */
export interface ShippedChange {
  readonly change: Change;
  /** @default none (not known: the item is taken not to have matched before, so a change that does not match is not sent) */
  readonly old?: AttributeMap;
}

/**
 * What goes to `target`: a matching put, projected; a delete when the item stops matching (or is
 * deleted) and its previous state matched, so the target holds no stale copy; nothing otherwise,
 * so neither the item nor its key leaves the source region.
 */
export function selectFor(
  changes: readonly ShippedChange[],
  spec: SelectionSpec | undefined,
  target: string,
  key: KeySchema,
  tombstoneTtlSeconds = 0,
): Change[] {
  const filter = filterFor(spec, target);
  const out: Change[] = [];
  for (const { change, old } of changes) {
    if (!filter) {
      out.push(projectFor(change, spec, target, key));
      continue;
    }
    if (change.op === 'put' && change.item && matches(filter, change.item)) {
      out.push(projectFor(change, spec, target, key));
      continue;
    }
    const oldLive = old !== undefined && old[META.deleted]?.BOOL !== true;
    if (!oldLive || !matches(filter, old)) continue;
    out.push(stopMatching(projectFor(change, spec, target, key), tombstoneTtlSeconds));
  }
  return out;
}

/**
 * The delete a target gets when the item stops matching: nothing of the item's values. For
 * `fields`/`merge`, a bare delete would not remove fields in the target (they merge per field),
 * so every field the target may hold is removed at this version, and counters are reset by it.
 * Kept as long as any tombstone, counted from the write.
 */
function stopMatching(change: Change, tombstoneTtlSeconds: number): Change {
  const { item: _item, meta, ...rest } = change;
  const expiresAt = change.expiresAt ?? Math.floor(change.writtenAt / 1000) + tombstoneTtlSeconds;
  const out: AttributeMap = {};
  if (meta?.[META.vector]) out[META.vector] = meta[META.vector]!;
  const fv = meta?.[META.fieldVersions]?.M;
  if (fv) out[META.fieldVersions] = { M: Object.fromEntries(Object.keys(fv).map((n) => [n, { S: change.version }])) };
  if (meta?.[META.crdt]) out[META.crdt] = { S: JSON.stringify({ c: {}, s: {}, g: {}, l: {}, d: change.version, x: expiresAt }) };
  return { ...rest, op: 'delete', expiresAt, ...(Object.keys(out).length > 0 ? { meta: out } : {}) };
}

/**
 * Applier: attributes the region keeps for itself in a change from `origin` — those that do not
 * travel from `origin` here (the incoming item lacks them) or from here to `origin` (the origin's
 * copy never saw this region's value). Undefined when the pair projects nothing.
 */
export function localOnlyAttributes(spec: SelectionSpec | undefined, here: string, origin: string, key: KeySchema): ((name: string) => boolean) | undefined {
  if (!projects(spec, here) && !projects(spec, origin)) return undefined;
  return (name) => !travels(spec, here, key, name) || !travels(spec, origin, key, name);
}

/** The item to store: the incoming item's shared attributes, and the stored item's own values of local-only ones. */
export function withLocalAttributes(incoming: AttributeMap, stored: AttributeMap | undefined, isLocal: (name: string) => boolean): AttributeMap {
  const out = Object.fromEntries(Object.entries(incoming).filter(([n]) => !isLocal(n)));
  // A tombstone keeps nothing of the item, local or not.
  if (stored && stored[META.deleted]?.BOOL !== true && incoming[META.deleted]?.BOOL !== true) {
    for (const [n, v] of Object.entries(stored)) if (isLocal(n)) out[n] = v;
  }
  return out;
}
