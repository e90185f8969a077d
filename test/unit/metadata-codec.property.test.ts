/**
 * How versions and version vectors are stored (issue 15: small metadata): the compact version
 * (`<9 base-36 ms digits><4 counter digits>.<region>`), the older decimal form still read, and
 * vectors that leave out the item's own version and the region inside each value, losing nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeVersion, encodeVersion, regionOfVersion, type Version } from '../../src/core/version.ts';
import { compareVectors, mergeVectors, vectorFromAttribute, vectorToAttribute, type VersionVector } from '../../src/core/vector.ts';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1'] as const;
const versionArb: fc.Arbitrary<Version> = fc.record({
  ms: fc.integer({ min: 1_600_000_000_000, max: 4_000_000_000_000 }),
  counter: fc.integer({ min: 0, max: 999_999 }),
  region: fc.constantFrom(...REGIONS),
});
/** A vector as histories make them: per region, some version made there. */
const vectorArb: fc.Arbitrary<VersionVector> = fc
  .subarray([...REGIONS], { minLength: 1 })
  .chain((regions) => fc.tuple(...regions.map((region) => versionArb.map((v) => [region, encodeVersion({ ...v, region })] as const))))
  .map((entries) => Object.fromEntries(entries));

describe('versions', () => {
  it('take 23 bytes for us-east-1 (the decimal form took 32), and name their region', () => {
    const v = encodeVersion({ ms: 1_764_000_000_000, counter: 7, region: 'us-east-1' });
    expect(v).toHaveLength(23);
    expect(regionOfVersion(v)).toBe('us-east-1');
  });

  it('the decimal form of the first release is still read, and every compact version of a later time sorts after it', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (old, now) => {
        const legacy = `${String(old.ms).padStart(15, '0')}.${String(old.counter).padStart(6, '0')}.${old.region}`;
        expect(decodeVersion(legacy)).toEqual(old);
        expect(encodeVersion(now) > legacy).toBe(true);
      }),
    );
  });
});

describe('version vectors on items', () => {
  it('round-trip through the attribute: what is stored plus the item`s own version is the vector', () => {
    fc.assert(
      fc.property(vectorArb, (vector) => {
        // The item's version is the newest entry (its own write), as on every item.
        const version = Object.values(vector)
          .sort((a, b) => decodeVersion(a)!.ms - decodeVersion(b)!.ms || (a < b ? -1 : 1))
          .at(-1)!;
        const stored = vectorToAttribute(vector, version);
        expect(vectorFromAttribute(stored, version)).toEqual(vector);
      }),
    );
  });

  it('an item written in one region stores no vector; each other region costs its 13-character time part', () => {
    const us = encodeVersion({ ms: 1_764_000_000_000, counter: 0, region: 'us-east-1' });
    const eu = encodeVersion({ ms: 1_763_000_000_000, counter: 3, region: 'eu-west-1' });
    expect(vectorToAttribute({ 'us-east-1': us }, us)).toBeUndefined();
    expect(vectorToAttribute({ 'us-east-1': us, 'eu-west-1': eu }, us)).toEqual({ M: { 'eu-west-1': { S: eu.slice(0, 13) } } });
  });

  it('an absent vector reads as the item`s own version, so causality is what it was with the vector stored', () => {
    fc.assert(
      fc.property(vectorArb, vectorArb, versionArb, (a, b, extra) => {
        const ownA = encodeVersion({ ...extra, region: 'us-east-1' });
        const withOwn = mergeVectors(a, { 'us-east-1': ownA });
        const readBack = vectorFromAttribute(vectorToAttribute(withOwn, ownA), ownA);
        expect(compareVectors(readBack, b)).toBe(compareVectors(withOwn, b));
      }),
    );
  });

  it('vectors stored by the first release (whole versions) are read as they are', () => {
    const legacy = '001764000000000.000002.eu-west-1';
    expect(vectorFromAttribute({ M: { 'eu-west-1': { S: legacy } } }, undefined)).toEqual({ 'eu-west-1': legacy });
  });
});
