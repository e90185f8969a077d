/**
 * Version vectors: for each region, the newest version from that region in an item's history.
 * Two changes are concurrent when neither vector covers the other — what a conflict is, as
 * opposed to one change simply being newer. Stored on the item as a map of region → version.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { compareVersions, decodeVersion, encodeVersion, type Version } from './version.ts';

export type VersionVector = Readonly<Record<string, string>>;
export type Causality = 'equal' | 'before' | 'after' | 'concurrent';

export function vectorFromAttribute(v: AttributeValue | undefined): VersionVector {
  const out: Record<string, string> = {};
  if (v?.M) for (const [region, x] of Object.entries(v.M)) if (typeof x.S === 'string') out[region] = x.S;
  return out;
}

export function vectorToAttribute(v: VersionVector): AttributeValue {
  return { M: Object.fromEntries(Object.keys(v).sort().map((r) => [r, { S: v[r]! }])) };
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
