/**
 * Per-pair metrics in the Embedded Metric Format, through Powertools Metrics: the functions' side
 * of core/metrics.ts, whose names and dimensions the alarms and dashboards share.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Change } from '../../core/change.ts';
import { METRICS } from '../../core/contract.ts';
import { PAIR_METRICS, pairDimensions, replicationLagMs, type Pair, type PairCount, type PairMetricsSink } from '../../core/metrics.ts';

/**
 * Per-pair metrics in the Embedded Metric Format: one Powertools Metrics instance per pair, whose
 * default dimensions are the pair's (and nothing else: no `service`), so many values of one metric
 * travel in one log line. Create one per container; call `publish()` at the end of each invocation.
 */
export class PairMetrics implements PairMetricsSink {
  private readonly byPair = new Map<string, { readonly metrics: Metrics; readonly counts: Map<PairCount, number> }>();

  constructor(private readonly namespace: string = METRICS.namespace) {}

  shipped(pair: Pair, count: number): void {
    if (count > 0) this.count(pair, 'shipped', count);
  }

  applyOutcome(pair: Pair, outcome: 'applied' | 'stale', change: Pick<Change, 'writtenAt' | 'version'>, now: number): void {
    this.count(pair, outcome, 1);
    // One value per change, so CloudWatch's percentiles are over every change.
    if (outcome === 'applied') this.entry(pair).metrics.addMetric(PAIR_METRICS.lag.name, PAIR_METRICS.lag.unit, replicationLagMs(change, now));
  }

  aheadOfClock(pair: Pair): void {
    this.count(pair, 'aheadOfClock', 1);
  }

  publish(): void {
    for (const { metrics, counts } of this.byPair.values()) {
      for (const [which, n] of counts) metrics.addMetric(PAIR_METRICS[which].name, PAIR_METRICS[which].unit, n);
      counts.clear();
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  }

  /** Counts are summed per invocation: one value per metric and pair, not one per change. */
  private count(pair: Pair, which: PairCount, n: number): void {
    const { counts } = this.entry(pair);
    counts.set(which, (counts.get(which) ?? 0) + n);
  }

  private entry(pair: Pair) {
    const key = `${pair.table}\0${pair.source}\0${pair.target}`;
    let e = this.byPair.get(key);
    if (!e) {
      const metrics = new Metrics({ namespace: this.namespace });
      // The pair's dimensions only: Powertools' `service` would make every alarm depend on a function setting.
      metrics.clearDefaultDimensions();
      metrics.setDefaultDimensions(pairDimensions(pair));
      e = { metrics, counts: new Map() };
      this.byPair.set(key, e);
    }
    return e;
  }
}
