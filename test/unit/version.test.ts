import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CLOCK_OFFSET_MS } from '../../src/core/clock-bound.ts';
import { compareVersions, decodeVersion, encodeVersion, HybridLogicalClock, type Version } from '../../src/core/version.ts';

const versionArb: fc.Arbitrary<Version> = fc.record({
  ms: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  counter: fc.integer({ min: 0, max: 999_999 }),
  region: fc.constantFrom('us-east-1', 'eu-west-1', 'ap-southeast-1', 'us-east-2'),
});

describe('version encoding', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(versionArb, (v) => {
        expect(decodeVersion(encodeVersion(v))).toEqual(v);
      }),
    );
  });

  it('orders encoded strings exactly as compareVersions orders versions (what DynamoDB`s string < relies on)', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (a, b) => {
        const ea = encodeVersion(a);
        const eb = encodeVersion(b);
        const stringOrder = Buffer.compare(Buffer.from(ea), Buffer.from(eb));
        expect(Math.sign(stringOrder)).toBe(Math.sign(compareVersions(a, b)));
      }),
    );
  });

  it('breaks a tie on time and counter by region, so two regions never keep their own value', () => {
    const a = { ms: 5, counter: 0, region: 'eu-west-1' };
    const b = { ms: 5, counter: 0, region: 'us-east-1' };
    expect(compareVersions(a, b)).toBeLessThan(0);
    expect(compareVersions(b, a)).toBeGreaterThan(0);
  });

  it('rejects what is not a version, naming the bad value', () => {
    expect(decodeVersion('12.3.us-east-1')).toBeUndefined();
    expect(decodeVersion(42)).toBeUndefined();
    expect(() => encodeVersion({ ms: -1, counter: 0, region: 'x' })).toThrow(/-1/);
    expect(() => encodeVersion({ ms: 1, counter: 1_000_000, region: 'x' })).toThrow(/1000000/);
  });
});

describe('HybridLogicalClock', () => {
  it('is strictly increasing even when the wall clock stands still or goes back', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 2, maxLength: 200 }), (walls) => {
        let i = 0;
        const clock = new HybridLogicalClock('eu-west-1', () => walls[Math.min(i++, walls.length - 1)]!);
        let prev = clock.next();
        for (let n = 1; n < walls.length; n++) {
          const next = clock.next();
          expect(compareVersions(prev, next)).toBeLessThan(0);
          prev = next;
        }
      }),
    );
  });

  it('stamps above the floor (the version the item carries), however far behind the local clock is, up to the clock bound ahead', () => {
    // Beyond the bound (maxClockOffsetSeconds) it refuses instead: test/unit/clock-skew.test.ts.
    fc.assert(
      fc.property(versionArb, fc.integer({ min: 0, max: 4_000_000_000_000 }), (floor, wall) => {
        const v = new HybridLogicalClock('us-east-2', () => Math.max(wall, floor.ms - DEFAULT_MAX_CLOCK_OFFSET_MS + 1)).next(floor);
        expect(compareVersions(floor, v)).toBeLessThan(0);
      }),
    );
  });

  it('uses the wall clock when it is ahead', () => {
    const v = new HybridLogicalClock('us-east-1', () => 1000).next({ ms: 10, counter: 7, region: 'eu-west-1' });
    expect(v).toEqual({ ms: 1000, counter: 0, region: 'us-east-1' });
  });
});
