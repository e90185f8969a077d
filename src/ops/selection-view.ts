/**
 * What compare and verify compare under selective replication (core/selection.ts). A filtered
 * item or an excluded attribute is not a divergence, so regions are compared only on:
 * - attributes that travel to every compared region (key and metadata always do); the merge
 *   metadata naming the others (`_rs_fv`, `_rs_crdt`) is cut the same way;
 * - items every compared region should hold: a live copy that fails any filter involved (the
 *   table's, or one of a compared region's) takes the key out of the comparison.
 * Under a filter a delete reaches a region only when the item matched there, so a tombstone is
 * that region's own bookkeeping: it compares as absence. Pure: no AWS calls.
 */
import { toWire } from '../core/codec.ts';
import { META, META_ATTRIBUTES, type KeySchema } from '../core/contract.ts';
import { cutMergeMetadata, filterFor, matches, type Predicate, type SelectionSpec } from '../core/selection.ts';
import type { Item } from './types.ts';

/** How one region's copy of a key takes part in a comparison. */
export type CopyView =
  /** Compared: the item cut to the shared attributes. */
  | { readonly kind: 'in'; readonly item: Item }
  /** Counts as no copy (a tombstone under a filter). */
  | { readonly kind: 'absent' }
  /** The copy fails a filter involved: the key is not compared at all. */
  | { readonly kind: 'out' };

/** How compare and verify see each region's copy of a key under the table's selection. */
export interface ComparisonScope {
  /** Whether the selection changes anything for these regions (false: every copy is compared whole). */
  readonly active: boolean;
  view(item: Item, region: string): CopyView;
}

/** What {@link comparisonScope} needs of a table: its selection and key. */
export interface ScopeTable {
  /** The table's selective replication. @default none: every copy is compared whole */
  readonly selection?: SelectionSpec;
  readonly key: KeySchema;
}

/**
 * The comparison scope of a table for the compared `regions`; inactive (every copy compared whole)
 * when no filter or projection applies to them.
 */
export function comparisonScope(table: ScopeTable, regions: readonly string[]): ComparisonScope {
  const spec = table.selection;
  const filters = regions.map((r) => [r, filterFor(spec, r)] as const).filter((x): x is readonly [string, Predicate] => x[1] !== undefined);
  const shared = (name: string) => regions.every((r) => travelsTo(spec, r, table.key, name));
  const projecting = regions.some((r) => spec?.to?.[r]?.include !== undefined || (spec?.to?.[r]?.exclude?.length ?? 0) > 0);
  const active = filters.length > 0 || projecting;
  return {
    active,
    view(item, region) {
      if (!active) return { kind: 'in', item };
      if (filters.length > 0) {
        if (item[META.deleted]?.BOOL === true) return { kind: 'absent' };
        const wire = toWire(stripMeta(item));
        // A filter on an attribute that never reaches this region cannot be judged on its copy.
        if (filters.some(([, f]) => !matches(f, wire) && attributesOf(f).every((a) => wire[a] !== undefined || travelsTo(spec, region, table.key, a))))
          return { kind: 'out' };
      }
      return { kind: 'in', item: projecting ? cut(item, shared) : item };
    },
  };
}

/** Whether attribute `name` is sent to region `to` (key attributes and metadata always are). */
export function travelsTo(spec: SelectionSpec | undefined, to: string, key: KeySchema, name: string): boolean {
  const t = spec?.to?.[to];
  if (!t || name === key.partitionKey || name === key.sortKey || META_ATTRIBUTES.includes(name)) return true;
  if (t.include) return t.include.includes(name);
  return !(t.exclude ?? []).includes(name);
}

/** Attribute names a predicate reads. */
export function attributesOf(p: Predicate): string[] {
  if ('and' in p) return p.and.flatMap(attributesOf);
  if ('or' in p) return p.or.flatMap(attributesOf);
  if ('not' in p) return attributesOf(p.not);
  return [p.attribute];
}

function stripMeta(item: Item): Item {
  return Object.fromEntries(Object.entries(item).filter(([n]) => !META_ATTRIBUTES.includes(n)));
}

/** The item with only the attributes `keep` accepts, in its values and in the merge metadata that names attributes. */
function cut(item: Item, keep: (name: string) => boolean): Item {
  const values: Item = Object.fromEntries(Object.entries(item).filter(([n]) => keep(n)));
  const meta: Item = Object.fromEntries([META.fieldVersions, META.crdt].filter((m) => item[m] !== undefined).map((m) => [m, item[m]!]));
  // Unparseable merge state is compared as stored.
  return { ...values, ...(cutMergeMetadata(meta, keep) ?? meta) };
}
