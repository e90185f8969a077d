/**
 * `regionsync status` without AWS: which figures breach which threshold, how a breach shows in
 * the terminal, and when awaitReplicated counts a region's copy as holding a write.
 */
import { describe, expect, it } from 'vitest';
import { META } from '../../src/core/contract.ts';
import { decodeVersion, encodeVersion } from '../../src/core/version.ts';
import { covers } from '../../src/client/await-replicated.ts';
import { DEFAULT_THRESHOLDS } from '../../src/infra/config/monitoring.ts';
import { breachesOf, nonEmptySeconds, parkedBreached, type PairStatus, type ParkedStatus, type StatusReport } from '../../src/ops/status.ts';
import { parkedLines, renderStatusHtml, renderStatusText } from '../../src/ops/status-render.ts';

function pair(over: Partial<Omit<PairStatus, 'breaches'>> = {}): Omit<PairStatus, 'breaches'> {
  return {
    table: 'orders',
    source: 'us-east-1',
    target: 'eu-west-1',
    lag: { p50: 200, p99: 400, max: 450, samples: 10 },
    changes: { shipped: 10, applied: 10, stale: 0 },
    backlog: { messages: 0, inFlight: 0, oldestAgeSeconds: 0 },
    dlq: { messages: 0 },
    iteratorAgeMs: 300,
    errorRatePercent: { shipper: 0, applier: 0 },
    thresholds: DEFAULT_THRESHOLDS,
    ...over,
  };
}

describe('breachesOf', () => {
  it('a healthy pair breaches nothing; missing figures breach nothing', () => {
    expect(breachesOf(pair())).toEqual([]);
    expect(breachesOf(pair({ lag: { p50: null, p99: null, max: null, samples: 0 }, iteratorAgeMs: null, dlq: { messages: null } }))).toEqual([]);
  });

  it('each figure above its threshold is named, with the alarm’s kind', () => {
    const bad = pair({
      lag: { p50: 100, p99: 5001, max: 60_001, samples: 3 },
      dlq: { messages: 2 },
      backlog: { messages: 4, inFlight: 1, oldestAgeSeconds: 301 },
      iteratorAgeMs: 3_600_001,
      errorRatePercent: { shipper: 5.1, applier: 50 },
    });
    expect(breachesOf(bad)).toEqual(['lagP99', 'lagMax', 'dlq', 'backlogAge', 'iteratorAge', 'shipperErrors', 'applierErrors']);
    expect(breachesOf(pair({ lag: { p50: 1, p99: 5000, max: 60_000, samples: 1 } }))).toEqual([]);
  });
});

describe('outage backlog (parked changes)', () => {
  const parked = (over: Partial<Omit<ParkedStatus, 'breached'>> = {}): Omit<ParkedStatus, 'breached'> => ({
    table: 'orders',
    region: 'us-east-1',
    messages: 12,
    oldestAgeSeconds: 20,
    nonEmptySeconds: 120,
    thresholdSeconds: 600,
    ...over,
  });
  const minute = (i: number) => Date.parse('2026-01-01T10:00:00Z') + i * 60_000;

  it('breached once the backlog has been non-empty for the alarm’s whole minutes, or AWS’s oldest age already exceeds the threshold', () => {
    expect(parkedBreached(parked())).toBe(false);
    expect(parkedBreached(parked({ nonEmptySeconds: 600 }))).toBe(true);
    expect(parkedBreached(parked({ nonEmptySeconds: 540 }))).toBe(false);
    expect(parkedBreached(parked({ oldestAgeSeconds: 601 }))).toBe(true);
    // 90 s rounds up to 2 minutes, as the alarm's evaluation periods do.
    expect(parkedBreached(parked({ thresholdSeconds: 90, nonEmptySeconds: 60, oldestAgeSeconds: 0 }))).toBe(false);
    expect(parkedBreached(parked({ thresholdSeconds: 90, nonEmptySeconds: 120, oldestAgeSeconds: 0 }))).toBe(true);
  });

  it('nothing parked now is never a breach, whatever the metrics still say; an unreadable count leaves the decision to the metrics', () => {
    expect(parkedBreached(parked({ messages: 0, nonEmptySeconds: 3600, oldestAgeSeconds: 3600 }))).toBe(false);
    expect(parkedBreached(parked({ messages: null, nonEmptySeconds: 3600 }))).toBe(true);
    expect(parkedBreached(parked({ messages: null, nonEmptySeconds: null, oldestAgeSeconds: null }))).toBe(false);
  });

  it('non-empty time counts whole minutes back from the newest while depth ≥ 1; an empty or missing minute ends the run', () => {
    expect(nonEmptySeconds(new Map())).toBe(0);
    expect(
      nonEmptySeconds(
        new Map([
          [minute(0), 3],
          [minute(1), 1],
          [minute(2), 5],
        ]),
      ),
    ).toBe(180);
    expect(
      nonEmptySeconds(
        new Map([
          [minute(0), 3],
          [minute(1), 0],
          [minute(2), 5],
        ]),
      ),
    ).toBe(60);
    expect(
      nonEmptySeconds(
        new Map([
          [minute(0), 3],
          [minute(2), 5],
        ]),
      ),
    ).toBe(60);
    expect(
      nonEmptySeconds(
        new Map([
          [minute(0), 3],
          [minute(1), 2],
          [minute(2), 0],
        ]),
      ),
    ).toBe(0);
  });

  it('one line per table: each source region’s parked count, oldest age and waiting time; a breach in red with the alarm’s kind', () => {
    // Prepare
    const rows: ParkedStatus[] = [
      { ...parked({ region: 'us-east-1', messages: 0, oldestAgeSeconds: 0, nonEmptySeconds: 0 }), breached: false },
      { ...parked({ region: 'eu-west-1', messages: 12, oldestAgeSeconds: 20, nonEmptySeconds: 900 }), breached: true },
    ];

    // Act
    const lines = parkedLines(rows);

    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]!.map((c) => c.text).join('')).toBe(
      'parked for unreachable targets, orders: us-east-1 0 · eu-west-1 12, oldest ≥ 20 s, waiting 15 min parkedAge',
    );
    expect(lines[0]!.at(-1)!.style).toBe('bad');
    expect(lines[0]![1]!.style).toBe('plain');
  });
});

describe('status rendering', () => {
  const report = (pairs: Omit<PairStatus, 'breaches'>[]): StatusReport => {
    const full = pairs.map((p) => ({ ...p, breaches: breachesOf(p) }));
    return {
      app: 'shop',
      generatedAt: '2026-01-01T10:00:00.000Z',
      windowMinutes: 5,
      pairs: full,
      parked: [{ table: 'orders', region: 'us-east-1', messages: 4, oldestAgeSeconds: 700, nonEmptySeconds: 720, thresholdSeconds: 600, breached: true }],
      regions: [{ region: 'eu-west-1', alarmsFiring: ['shop/orders/dlq'], fences: [] }],
      healthy: full.every((p) => p.breaches.length === 0),
      problems: ['us-east-1: cannot read queue shop-orders-dlq: timeout'],
    };
  };

  it('one row per pair; a breached figure is red and bold, its kind in the state column; missing figures show as –', () => {
    // Act
    const text = renderStatusText(
      report([pair({ dlq: { messages: 3 } }), pair({ source: 'eu-west-1', target: 'us-east-1', lag: { p50: null, p99: null, max: null, samples: 0 } })]),
      { color: true },
    );
    const lines = text.split('\n');

    // Assess
    const row = lines.find((l) => l.includes('us-east-1 → eu-west-1'))!;
    expect(row).toContain('\x1b[1;31m3\x1b[22;39m');
    expect(row).toContain('\x1b[1;31mdlq\x1b[22;39m');
    const quiet = lines.find((l) => l.includes('eu-west-1 → us-east-1'))!;
    expect(quiet).toContain('\x1b[2m–\x1b[22m');
    expect(quiet).toContain('\x1b[32mok\x1b[39m');
    expect(text).toContain('ALARM shop/orders/dlq');
    expect(text).toContain('could not read: us-east-1: cannot read queue shop-orders-dlq: timeout');
    expect(text).toContain('\x1b[1;31mus-east-1 4, oldest ≥ 12 min, waiting 12 min parkedAge\x1b[22;39m');
  });

  it('without colour, plain aligned text; the HTML rendering escapes and colours the same cells', () => {
    const r = report([pair({ lag: { p50: 200, p99: 12_345, max: 200_000, samples: 4 } })]);
    const text = renderStatusText(r);
    expect(text).not.toContain('\x1b[');
    expect(text).toMatch(/orders {2}us-east-1 → eu-west-1 +200 ms +12\.3 s +3 min/);
    expect(renderStatusHtml(r, { command: 'regionsync status <x>' })).toContain('regionsync status &lt;x&gt;');
  });
});

describe('awaitReplicated: when a region holds a write', () => {
  const v = (ms: number, region = 'us-east-1') => encodeVersion({ ms, counter: 0, region });
  const ours = decodeVersion(v(1000))!;

  it('lww: the copy’s version at or above the write’s', () => {
    expect(covers({ [META.version]: { S: v(1000) } }, ours, 'lww')).toBe(true);
    expect(covers({ [META.version]: { S: v(2000, 'eu-west-1') } }, ours, 'lww')).toBe(true);
    expect(covers({ [META.version]: { S: v(999) } }, ours, 'lww')).toBe(false);
    expect(covers({}, ours, 'lww')).toBe(false);
  });

  it('merging strategies: the copy’s version vector must have seen the write’s origin at or above it; a newer version from elsewhere is not enough', () => {
    const vector = (m: Record<string, string>) => ({ M: Object.fromEntries(Object.entries(m).map(([r, x]) => [r, { S: x }])) });
    expect(
      covers(
        { [META.version]: { S: v(3000, 'eu-west-1') }, [META.vector]: vector({ 'us-east-1': v(1000), 'eu-west-1': v(3000, 'eu-west-1') }) },
        ours,
        'merge',
      ),
    ).toBe(true);
    expect(
      covers({ [META.version]: { S: v(3000, 'eu-west-1') }, [META.vector]: vector({ 'us-east-1': v(500), 'eu-west-1': v(3000, 'eu-west-1') }) }, ours, 'merge'),
    ).toBe(false);
  });
});
