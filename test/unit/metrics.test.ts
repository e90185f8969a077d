/**
 * The metrics contract: the lag estimate from a whole-second stream time and the version's
 * millisecond clock, alarm names, and the per-pair EMF lines PairMetrics prints.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alarmName, ALARM_KINDS, estimatedWriteTime, parseAlarmName, replicationLagMs } from '../../src/core/metrics.ts';
import { PairMetrics } from '../../src/functions/shared/pair-metrics.ts';
import { encodeVersion } from '../../src/core/version.ts';
import { parseEmf } from '../../src/ops/emf.ts';

const version = (ms: number) => encodeVersion({ ms, counter: 0, region: 'us-east-1' });

describe('replication lag estimate', () => {
  it('a whole-second stream time is bounded above by the version clock: the estimate is the middle of what remains', () => {
    // Prepare: written at 10.000–10.300 s (stream says 10 s, the stamp was taken at 10.300 s).
    const change = { writtenAt: 10_000, version: version(10_300) };

    // Act
    const at = estimatedWriteTime(change);
    const lag = replicationLagMs(change, 11_000);

    // Assess
    expect(at).toBe(10_150);
    expect(lag).toBe(850);
  });

  it('a stamp after the end of the second bounds nothing: the middle of the second; a version clock behind the stream time is ignored', () => {
    expect(estimatedWriteTime({ writtenAt: 10_000, version: version(12_000) })).toBe(10_500);
    expect(estimatedWriteTime({ writtenAt: 10_000, version: version(9_000) })).toBe(10_000);
  });

  it('a millisecond stream time is used as it is, and the lag is never negative', () => {
    expect(estimatedWriteTime({ writtenAt: 10_123, version: version(10_300) })).toBe(10_123);
    expect(replicationLagMs({ writtenAt: 10_123, version: version(10_300) }, 10_000)).toBe(0);
  });

  it('for any write time and stamp delay, the estimate is within 500 ms of the true write time and within half the bounded interval', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000_000, max: 2_000_000_000_000 }), fc.integer({ min: 0, max: 5_000 }), (written, stampDelay) => {
        // What DynamoDB Streams reports: the second, rounded down.
        const change = { writtenAt: Math.floor(written / 1000) * 1000, version: version(written + stampDelay) };
        const error = Math.abs(estimatedWriteTime(change) - written);
        expect(error).toBeLessThanOrEqual(500);
        expect(error).toBeLessThanOrEqual((Math.min(1000, written + stampDelay - change.writtenAt) + 1) / 2);
      }),
    );
  });
});

describe('alarm names', () => {
  it('parse back into app, table, kind and source region', () => {
    for (const kind of ALARM_KINDS) {
      expect(parseAlarmName(alarmName('app-1', 'my.table_1', kind))).toEqual({ appName: 'app-1', table: 'my.table_1', kind });
      expect(parseAlarmName(alarmName('app-1', 'orders', kind, 'eu-west-1'))).toEqual({ appName: 'app-1', table: 'orders', kind, sourceRegion: 'eu-west-1' });
    }
  });

  it('anything else is not a regionsync alarm', () => {
    for (const name of ['CPUHigh', 'app/orders/cpu', 'app//lagP99', 'a/b/lagP99/c/d']) expect(parseAlarmName(name), name).toBeUndefined();
  });
});

describe('PairMetrics', () => {
  function capture(fn: () => void): string[] {
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    }) as typeof process.stdout.write;
    try {
      fn();
    } finally {
      process.stdout.write = write;
    }
    return lines;
  }

  it('prints one EMF line per pair with the pair’s dimensions only, every lag value, and counts summed', () => {
    // Prepare
    const pm = new PairMetrics('RegionSyncTest');
    const into = { table: 'orders', source: 'us-east-1', target: 'eu-west-1' };
    const out = { table: 'orders', source: 'eu-west-1', target: 'us-east-1' };

    // Act
    const lines = capture(() => {
      pm.applyOutcome(into, 'applied', { writtenAt: 10_000, version: version(10_200) }, 10_600);
      pm.applyOutcome(into, 'applied', { writtenAt: 10_000, version: version(10_200) }, 11_100);
      pm.applyOutcome(into, 'stale', { writtenAt: 10_000, version: version(10_200) }, 11_100);
      pm.shipped(out, 7);
      pm.publish();
      pm.publish();
    });
    const points = lines.flatMap(parseEmf);

    // Assess
    expect(lines).toHaveLength(2);
    const byName = Object.fromEntries(points.map((p) => [`${p.name} ${p.dimensions.SourceRegion}>${p.dimensions.TargetRegion}`, p]));
    expect(byName['ReplicationLagMs us-east-1>eu-west-1']).toMatchObject({ namespace: 'RegionSyncTest', values: [500, 1000], unit: 'Milliseconds' });
    expect(byName['ChangesApplied us-east-1>eu-west-1']?.values).toEqual([2]);
    expect(byName['ChangesSkippedStale us-east-1>eu-west-1']?.values).toEqual([1]);
    expect(byName['ChangesShipped eu-west-1>us-east-1']?.values).toEqual([7]);
    for (const p of points) expect(Object.keys(p.dimensions).sort()).toEqual(['SourceRegion', 'Table', 'TargetRegion']);
  });
});
