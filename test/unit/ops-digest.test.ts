/**
 * The pure parts of verify/repair/backfill: bucketing and digests, the repair planner, the
 * read-capacity token bucket, progress rendering, time parsing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { META } from '../../src/core/contract.ts';
import { bucketOf, differingBuckets, differingKeys, itemSize, leafOf, RegionDigest } from '../../src/ops/digest.ts';
import { formatDuration, Progress } from '../../src/ops/progress.ts';
import { planKey } from '../../src/ops/repair.ts';
import { parseTime } from '../../src/ops/replay.ts';
import { CapacityLimiter, pageUnits } from '../../src/ops/scan.ts';

type Item = Record<string, AttributeValue>;
const KEYS = ['pk', 'sk'];
const TTL = META.expiresAt;
const NOW = 1_800_000_000;
const v = (ms: number, region: string) => `${String(ms).padStart(15, '0')}.000000.${region}`;
const item = (id: string, version: string | undefined, extra: Item = {}, writer = 'repl'): Item => ({
  pk: { S: id },
  sk: { N: '1' },
  ...extra,
  ...(version ? { [META.version]: { S: version }, [META.origin]: { S: version.split('.')[2]! }, [META.writer]: { S: writer } } : {}),
});
const leaf = (it: Item) => leafOf(it, KEYS, TTL, NOW)!;
function digestOf(items: readonly Item[], buckets = 64): RegionDigest {
  const d = new RegionDigest(buckets);
  for (const it of items) {
    const l = leafOf(it, KEYS, TTL, NOW);
    if (l) d.add(l);
  }
  return d;
}

const arbItems = fc
  .uniqueArray(fc.record({ id: fc.string({ minLength: 1, maxLength: 6 }), n: fc.integer({ min: 0, max: 50 }), ms: fc.integer({ min: 1, max: 9999 }) }), {
    selector: (r) => r.id,
    maxLength: 60,
  })
  .map((rs) => rs.map((r) => item(r.id, v(r.ms, 'eu-north-1'), { n: { N: String(r.n) } })));

describe('bucket digests', () => {
  it('do not depend on scan order or on how the scan was split into segments', () => {
    fc.assert(
      fc.property(arbItems, fc.integer({ min: 1, max: 5 }), (items, segments) => {
        const shuffled = [...items].reverse();
        // Prepare: the same items, digested in a different order, as several segments merged.
        const parts = Array.from({ length: segments }, (_, s) => shuffled.filter((_, i) => i % segments === s)).flat();
        // Assess
        expect(digestOf(parts).root()).toBe(digestOf(items).root());
        expect(differingBuckets([digestOf(items), digestOf(parts)])).toEqual([]);
      }),
    );
  });

  it('find exactly the keys that differ: a changed attribute, a missing item, a different version', () => {
    fc.assert(
      fc.property(
        arbItems.filter((xs) => xs.length >= 3),
        (items) => {
          // Prepare: region B = A with item 0 changed, item 1 missing, item 2 at another version.
          const b = items
            .map((it, i) => (i === 0 ? { ...it, n: { N: '999' } } : i === 2 ? { ...it, [META.version]: { S: v(99_999, 'eu-north-1') } } : it))
            .filter((_, i) => i !== 1);
          const da = digestOf(items);
          const db = digestOf(b);
          // Act
          const buckets = new Set(differingBuckets([da, db]));
          const inBuckets = (xs: readonly Item[]) => xs.map(leaf).filter((l) => buckets.has(bucketOf(l.key, 64)));
          const keys = differingKeys([inBuckets(items), inBuckets(b)]);
          // Assess
          expect(keys).toEqual([leaf(items[0]!).key, leaf(items[1]!).key, leaf(items[2]!).key].sort());
        },
      ),
    );
  });

  it('ignore who wrote the version (stamp at the origin, repl elsewhere) and expired tombstones', () => {
    // Prepare
    const a = [
      item('x', v(5, 'ca-central-1'), { n: { N: '1' } }, 'stamp'),
      item('gone', v(6, 'ca-central-1'), { [META.deleted]: { BOOL: true }, [TTL]: { N: String(NOW - 10) } }),
    ];
    const b = [item('x', v(5, 'ca-central-1'), { n: { N: '1' } }, 'repl')];
    // Assess
    expect(digestOf(a).root()).toBe(digestOf(b).root());
    expect(digestOf(a).items).toBe(1);
  });

  it('tell a live tombstone from an absent item', () => {
    const tomb = item('t', v(7, 'ca-central-1'), { [META.deleted]: { BOOL: true }, [TTL]: { N: String(NOW + 1000) } });
    expect(differingBuckets([digestOf([tomb]), digestOf([])])).toHaveLength(1);
  });

  it('spread keys over the buckets', () => {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 1600; i++) counts[bucketOf(`{"M":{"pk":{"S":"k${i}"}}}`, 16)]++;
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(150);
  });

  it('count item sizes as DynamoDB does for strings, numbers and names', () => {
    expect(itemSize({ pk: { S: 'abc' } })).toBe(5);
    expect(itemSize({ n: { N: '12345' } })).toBe(1 + 4);
    expect(pageUnits(4096, true)).toBe(1);
    expect(pageUnits(4097, false)).toBe(1);
  });
});

describe('planKey (repair)', () => {
  const regions = ['ca-central-1', 'eu-north-1', 'ap-northeast-2'];
  const [CA, EU, AP] = regions as [string, string, string];
  const opts = { regions, tableRegions: regions };

  it('ships the state a region lacks to it, from one region only', () => {
    const x = item('k', v(10, CA), { n: { N: '1' } });
    expect(planKey({ [CA]: x, [EU]: x, [AP]: undefined }, opts).steps).toEqual([{ kind: 'ship', from: CA, to: [AP], version: v(10, CA) }]);
  });

  it('sends every distinct state to the regions that hold something else, never back to its origin', () => {
    const older = item('k', v(10, CA), { n: { N: '1' } });
    const newer = item('k', v(20, EU), { n: { N: '2' } });
    expect(planKey({ [CA]: older, [EU]: newer, [AP]: older }, opts).steps).toEqual([
      { kind: 'ship', from: CA, to: [EU], version: v(10, CA) },
      { kind: 'ship', from: EU, to: [CA, AP], version: v(20, EU) },
    ]);
  });

  it('touches an item never stamped, above every version, and sends it everywhere', () => {
    const plain = item('k', undefined, { n: { N: '3' } });
    const steps = planKey({ [CA]: plain, [EU]: item('k', v(10, EU)), [AP]: undefined }, opts).steps;
    expect(steps[0]).toMatchObject({ kind: 'touch', region: CA });
    expect(steps[1]).toEqual({ kind: 'ship', from: CA, to: [EU, AP], version: 'new' });
  });

  it('leaves an unstamped item to the shipper when the strategy folds plain writes in (not lww)', () => {
    const plain = item('k', undefined, { n: { N: '3' } });
    const plan = planKey({ [CA]: plain, [EU]: item('k', v(10, EU)), [AP]: undefined }, { ...opts, stampPlain: false });
    expect(plan.steps).toEqual([]);
    expect(plan.note).toMatch(/ca-central-1 hold\(s\) a write without a version/);
  });

  it('touches the newest version when its origin region lost it (its applier would refuse its own change)', () => {
    const x = item('k', v(10, EU), { n: { N: '1' } });
    const steps = planKey({ [CA]: x, [EU]: undefined, [AP]: x }, opts).steps;
    // Of the regions that hold it, the first by name.
    expect(steps[0]).toMatchObject({ kind: 'touch', region: AP });
    expect(steps).toContainEqual({ kind: 'ship', from: AP, to: [CA, EU], version: 'new' });
  });

  it('touches one copy when regions hold the same version with different content: the majority, else the origin, else --prefer', () => {
    const a = item('k', v(10, EU), { n: { N: '1' } });
    const b = item('k', v(10, EU), { n: { N: '2' } });
    expect(planKey({ [CA]: b, [EU]: a, [AP]: b }, opts).steps[0]).toMatchObject({ kind: 'touch', region: AP });
    const two = { regions: [CA, EU], tableRegions: [CA, EU] };
    expect(planKey({ [CA]: b, [EU]: a }, two).steps[0]).toMatchObject({ kind: 'touch', region: EU });
    const c = item('k', v(10, AP), { n: { N: '1' } });
    const d = item('k', v(10, AP), { n: { N: '2' } });
    expect(planKey({ [CA]: c, [EU]: d }, { ...two, prefer: EU }).steps[0]).toMatchObject({ kind: 'touch', region: EU });
    expect(planKey({ [CA]: c, [EU]: d }, two).steps[0]).toMatchObject({ kind: 'touch', region: CA });
  });

  it('touches a version from a region that left the table', () => {
    const x = item('k', v(10, 'us-west-2'), { n: { N: '1' } });
    expect(planKey({ [CA]: x, [EU]: undefined, [AP]: x }, opts).steps[0]).toMatchObject({ kind: 'touch', region: AP });
  });

  it('does nothing for a key that agrees', () => {
    const x = item('k', v(10, CA));
    expect(planKey({ [CA]: x, [EU]: { ...x, [META.writer]: { S: 'stamp' } }, [AP]: x }, opts)).toEqual({ steps: [] });
  });
});

describe('CapacityLimiter', () => {
  it('holds the average rate to --max-rcu', async () => {
    // Prepare: a fake clock that sleeping advances.
    let t = 0;
    const limiter = new CapacityLimiter(
      10,
      () => t,
      async (ms) => {
        t += ms;
      },
    );
    // Act: 50 pages of 4 units each = 200 units at 10/s.
    for (let i = 0; i < 50; i++) {
      await limiter.ready();
      limiter.consume(4);
    }
    // Assess: about 19 s (the first second's worth is free), never less.
    expect(t).toBeGreaterThanOrEqual(18_000);
    expect(t).toBeLessThan(21_000);
  });

  it('does not wait without a limit', async () => {
    let slept = 0;
    const limiter = new CapacityLimiter(
      undefined,
      () => 0,
      async () => {
        slept++;
      },
    );
    limiter.consume(1e9);
    await limiter.ready();
    expect(slept).toBe(0);
  });

  it('rejects a non-positive limit', () => {
    expect(() => new CapacityLimiter(0)).toThrow(/--max-rcu/);
  });
});

describe('Progress', () => {
  it('draws a bar with an ETA on a terminal, and plain periodic lines elsewhere', () => {
    let t = 0;
    const tty: string[] = [];
    const p = new Progress({ label: 'scan', total: 100, stream: { isTTY: true, write: (s) => tty.push(s) }, now: () => t });
    t = 10_000;
    p.add(50);
    expect(tty.at(-1)).toMatch(/\r.*scan.*\[#{12}\.{12}\]\s+50%.*50\/~100.*5\.0\/s.*ETA 10s/);
    const plain: string[] = [];
    let u = 0;
    const q = new Progress({ label: 'scan', stream: { isTTY: false, write: (s) => plain.push(s) }, now: () => u, lineIntervalMs: 5000 });
    q.add(1);
    u = 6000;
    q.add(1);
    q.finish('done');
    expect(plain).toHaveLength(2);
    expect(plain.every((l) => !l.includes('\r') && l.endsWith('\n'))).toBe(true);
    expect(plain[1]).toMatch(/scan {2}2 .*in 6s {2}done/);
  });

  it('formats durations', () => {
    expect([formatDuration(5), formatDuration(125), formatDuration(7300)]).toEqual(['5s', '2m05s', '2h01m']);
  });
});

describe('parseTime', () => {
  it('reads ISO times, epoch ms and durations ago', () => {
    expect(parseTime('2026-05-01T10:00:00Z')).toBe(Date.UTC(2026, 4, 1, 10));
    expect(parseTime('1777777777000')).toBe(1777777777000);
    expect(parseTime('15m', 1_000_000)).toBe(1_000_000 - 900_000);
    expect(() => parseTime('yesterday')).toThrow(/not a time: "yesterday"/);
  });
});
