/**
 * Expected replication lag in AWS: the published latencies of each hop (../shared/REFERENCE.md)
 * plus the processing time measured on the emulator, combined by Monte Carlo sampling.
 *
 *   write → DynamoDB Streams → shipper invoked        published Streams→Lambda distribution
 *   + shipper invocation (stamps, packs, sends)         measured durations, weighted by records
 *   + inter-region one-way (half the round trip)        published 2017 averages per pair
 *   + SQS → applier invoked                             published SQS→Lambda distribution
 *   + applier invocation (conditional writes)           measured durations, weighted by messages
 *   + the batching windows, if the table sets them        the whole window per hop
 */
import { seededRandom } from '../random.ts';

export interface Quantiles {
  readonly source: string;
  /** [probability, milliseconds], increasing. */
  readonly points: readonly (readonly [number, number])[];
}

/** bitesizedserverless "serverless messaging latency compared", eu-west-1, 2022: p10/p50/p90/p99. */
export const STREAMS_TO_LAMBDA: Quantiles = {
  source: 'DynamoDB Streams → Lambda, p10 118 / p50 213 / p90 341 / p99 552 ms (2022)',
  points: [
    [0.1, 118],
    [0.5, 213],
    [0.9, 341],
    [0.99, 552],
  ],
};
export const SQS_TO_LAMBDA: Quantiles = {
  source: 'SQS standard → Lambda, p10 13.7 / p50 16.2 / p90 33.8 / p99 105 ms (2022)',
  points: [
    [0.1, 13.7],
    [0.5, 16.2],
    [0.9, 33.8],
    [0.99, 105],
  ],
};

/** Average inter-region round trips (2017); unknown pairs use DEFAULT_RTT_MS. */
export const ROUND_TRIP_MS: Readonly<Record<string, number>> = {
  'us-east-1|eu-west-1': 80,
  'us-east-1|ap-southeast-1': 217,
  'eu-west-1|ap-southeast-1': 200,
};
export const DEFAULT_RTT_MS = 150;

export function roundTripMs(a: string, b: string): { ms: number; published: boolean } {
  const ms = ROUND_TRIP_MS[`${a}|${b}`] ?? ROUND_TRIP_MS[`${b}|${a}`];
  return ms === undefined ? { ms: DEFAULT_RTT_MS, published: false } : { ms, published: true };
}

/**
 * Samples a distribution known by a few quantiles: linear between them; below the lowest point
 * down to half its value, above the highest up to one more (p99 − p90) step (assumed tails).
 */
export function sampler(q: Quantiles, random: () => number): () => number {
  const pts = [...q.points];
  const [p0, v0] = pts[0]!;
  const [pn, vn] = pts[pts.length - 1]!;
  const [, vprev] = pts[pts.length - 2] ?? pts[0]!;
  const full: [number, number][] = [[0, v0 / 2], ...pts.map(([p, v]) => [p, v] as [number, number]), [1, vn + (vn - vprev)]];
  if (p0 === 0) full.shift();
  if (pn === 1) full.pop();
  return () => {
    const u = random();
    for (let i = 1; i < full.length; i++) {
      const [pa, va] = full[i - 1]!;
      const [pb, vb] = full[i]!;
      if (u <= pb) return va + ((u - pa) / (pb - pa)) * (vb - va);
    }
    return full[full.length - 1]![1];
  };
}

/** Picks from measured values, each weighted (an item is in a big batch more often than in a small one). */
export function empirical(values: readonly { value: number; weight: number }[], random: () => number): () => number {
  const total = values.reduce((n, v) => n + v.weight, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const v of values) cumulative.push((acc += v.weight));
  return () => {
    if (values.length === 0) return 0;
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return values[lo]!.value;
  };
}

export interface CloudLagInput {
  readonly source: string;
  readonly targets: readonly string[];
  /** Shipper invocations at the source: duration and records. */
  readonly shipper: readonly { readonly durationMs: number; readonly records: number }[];
  /** Applier invocations in the targets: duration and messages. */
  readonly applier: readonly { readonly durationMs: number; readonly records: number }[];
  readonly samples?: number;
  readonly seed?: number;
  /**
   * Batching windows of the stream and queue mappings, ms. Each hop waits its whole window: on a
   * table written slowly (the reason to set one) a record opens the window and waits it out. @default 0
   */
  readonly batchingWindowMs?: { readonly stream: number; readonly queue: number };
}

export interface CloudLag {
  readonly p50: number;
  readonly p99: number;
  readonly byPair: Record<string, { p50: number; p99: number; roundTripMs: number; roundTripPublished: boolean }>;
  /** Medians of each hop, to show where the time goes. */
  readonly components: { streamsToLambdaP50: number; shipperP50: number; sqsToLambdaP50: number; applierP50: number };
}

export function cloudLagModel(input: CloudLagInput): CloudLag {
  const random = seededRandom(input.seed ?? 8);
  const n = input.samples ?? 50_000;
  const s2l = sampler(STREAMS_TO_LAMBDA, random);
  const q2l = sampler(SQS_TO_LAMBDA, random);
  const ship = empirical(
    input.shipper.map((x) => ({ value: x.durationMs, weight: x.records })),
    random,
  );
  const apply = empirical(
    input.applier.map((x) => ({ value: x.durationMs, weight: x.records })),
    random,
  );
  const all: number[] = [];
  const byPair: CloudLag['byPair'] = {};
  for (const target of input.targets) {
    const rtt = roundTripMs(input.source, target);
    const lags: number[] = [];
    const windows = (input.batchingWindowMs?.stream ?? 0) + (input.batchingWindowMs?.queue ?? 0);
    for (let i = 0; i < n; i++) lags.push(s2l() + ship() + rtt.ms / 2 + q2l() + apply() + windows);
    lags.sort((a, b) => a - b);
    byPair[`${input.source}→${target}`] = { p50: q(lags, 0.5), p99: q(lags, 0.99), roundTripMs: rtt.ms, roundTripPublished: rtt.published };
    all.push(...lags);
  }
  all.sort((a, b) => a - b);
  const med = (f: () => number) => {
    const xs = Array.from({ length: 5001 }, f).sort((a, b) => a - b);
    return Math.round(q(xs, 0.5));
  };
  return {
    p50: Math.round(q(all, 0.5)),
    p99: Math.round(q(all, 0.99)),
    byPair,
    components: { streamsToLambdaP50: med(s2l), shipperP50: med(ship), sqsToLambdaP50: med(q2l), applierP50: med(apply) },
  };
}

function q(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!);
}
