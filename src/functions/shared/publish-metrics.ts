import type { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * Publishes what the invocation recorded. Many invocations record nothing (a batch of echoes, a
 * drain with nothing due), and Powertools warns on every empty publish: skip it instead.
 */
export function publishMetrics(metrics: Metrics): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}
