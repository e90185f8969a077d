/**
 * Version vectors: for each region, the newest version from that region in an item's history.
 * Two changes are concurrent when neither vector covers the other — what a conflict is, as
 * opposed to one change simply being newer. Stored on the item as a map of region → version.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { META } from './contract.ts';
import { compareVersions, decodeVersion, encodeVersion, isVersion, timePart, type Version } from './version.ts';

/** Region → the newest version (encoded) from that region in an item's history. */
export type VersionVector = Readonly<Record<string, string>>;
/** How one vector relates to another ({@link compareVectors}). */
export type Causality = 'equal' | 'before' | 'after' | 'concurrent';

/**
 * Stored as a map of region → the version's time part (`timePart`, 13 characters): the region is
 * the map key, so it is not repeated in the value. And the entry of the item's own version is left
 * out: the version is part of the item's history by definition, so every reader adds it back (the
 * reason `version` is a required argument). An item only ever written in one region stores no
 * vector at all. Values in the whole-version form (an older release's) are read as they are.
 */
export function vectorFromAttribute(v: AttributeValue | undefined, version: string | undefined): VersionVector {
  const out: Record<string, string> = {};
  if (v?.M) {
    for (const [region, x] of Object.entries(v.M)) {
      if (typeof x.S !== 'string') continue;
      out[region] = isVersion(x.S) ? x.S : `${x.S}.${region}`;
    }
  }
  const own = decodeVersion(version);
  return own ? mergeVectors(out, { [own.region]: version! }) : out;
}

/** The attribute to store for `v` on an item whose version is `version`; undefined when there is nothing beyond the version itself. */
export function vectorToAttribute(v: VersionVector, version: string | undefined): AttributeValue | undefined {
  const regions = Object.keys(v)
    .filter((r) => v[r] !== version)
    .sort();
  if (regions.length === 0) return undefined;
  return { M: Object.fromEntries(regions.map((r) => [r, { S: compactEntry(r, v[r]!) }])) };
}

/** `{ _rs_vv: ... }` for an item, or nothing when its vector holds no more than its version. */
export function vectorAttribute(v: VersionVector, version: string | undefined): { [META.vector]?: AttributeValue } {
  const attr = vectorToAttribute(v, version);
  return attr ? { [META.vector]: attr } : {};
}

function compactEntry(region: string, version: string): string {
  const d = decodeVersion(version);
  return d && d.region === region ? timePart(d) : version;
}

/** Pointwise maximum: the history of both. */
export function mergeVectors(a: VersionVector, b: VersionVector): VersionVector {
  const out: Record<string, string> = { ...a };
  for (const [r, v] of Object.entries(b)) if (out[r] === undefined || newer(v, out[r]!)) out[r] = v;
  return out;
}

/** The vector of a write stamped `version` on top of an item whose history is `base`. */
export function advance(base: VersionVector, version: Version): VersionVector {
  return { ...base, [version.region]: encodeVersion(version) };
}

/** How `a` relates to `b`: before (b has seen all of a), after, equal, or concurrent. */
export function compareVectors(a: VersionVector, b: VersionVector): Causality {
  let aAhead = false;
  let bAhead = false;
  for (const r of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[r];
    const y = b[r];
    if (x === y) continue;
    if (y === undefined || (x !== undefined && newer(x, y))) aAhead = true;
    else bAhead = true;
  }
  if (aAhead && bAhead) return 'concurrent';
  if (aAhead) return 'after';
  if (bAhead) return 'before';
  return 'equal';
}

function newer(a: string, b: string): boolean {
  const va = decodeVersion(a);
  const vb = decodeVersion(b);
  if (!va || !vb) return a > b;
  return compareVersions(va, vb) > 0;
}
