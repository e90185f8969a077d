/**
 * `npm run bench`: replication cost and speed on the embedded emulator.
 *
 * 1. Deploys one table to three regions (moto, the real CDK deploy, the local runtime) behind a
 *    counting proxy that attributes every AWS call to the function and region that made it.
 * 2. Offers plain PutItem writes in the source region at increasing rates, one step at a time,
 *    each drained before the next, until lag grows without bound (the knee).
 * 3. At the highest stable rate, the same load through the client helper's write path.
 * 4. Handler CPU on in-memory fakes; the cost model; the cloud lag model.
 * 4b. Per-operation cost on in-memory fakes: DynamoDB calls per item for creates, updates, deletes
 *    and re-creates, and the metadata bytes of each strategy (dev/bench/operation-costs.ts).
 * 5. Writes dev/bench/results/latest.json, a dated copy, and an HTML report with plots.
 */
import { cpus, loadavg, totalmem, platform, release } from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { measureCpu, type CpuResult } from './cpu.ts';
import { formatOperationCosts, measureOperationCosts } from './operation-costs.ts';
import { cloudLagModel, roundTripMs } from './cloud-lag-model.ts';
import {
  awsLambdaGbSeconds,
  globalTablesCost,
  idleScheduleCostMonth,
  idleSqsCostPerQueueMonth,
  PRICES,
  regionsyncCost,
  VCPU_MB,
  withAwsDurations,
  withScenario,
  type AwsDurationInputs,
  type PathUsage,
  type WriteUnitScenario,
} from './cost-model.ts';
import { startEnvironment, type Environment, type Invocation } from './environment.ts';
import { itemSize } from './item-size.ts';
import { batchingTradeoff, costRatioAtRates, idleUsdPerTableRegionMonth, perItemFrom, type RealisticRatesInput } from './realistic-rates.ts';
import type { RateModelConfig } from './rate-model.ts';
import { PACKED_MESSAGE_BYTES } from '../../src/infra/constructs/replicated-table.ts';
import { ApplyObserver, writeKey, writeLoad, type WritePath } from './load.ts';
import { APP_KEY, isDynamoRead, isDynamoWrite, type CallCount } from './request-stats.ts';
import { renderReport } from './report-html.ts';
import { sleep } from '../../src/core/concurrency.ts';

export interface BenchOptions {
  readonly mode: 'full' | 'quick' | 'custom';
  /** Use this emulator instead of starting moto (its own regions and app name keep runs apart). */
  readonly endpoint?: string;
  readonly appName: string;
  readonly tableName: string;
  /** The first region takes the writes; the others are the targets. */
  readonly regions: readonly string[];
  /** Offered loads, items per second, in order; the run stops after the first unstable step. */
  readonly steps: readonly number[];
  readonly stepSeconds: number;
  /** Application bytes per item. */
  readonly itemBytes: number;
  readonly cpuItems: number;
  /** Items written while the functions are paused, then drained in full batches (the saturated regime). */
  readonly backlogItems: number;
  /** Longest wait for a step's items to reach every target. */
  readonly drainTimeoutSeconds: number;
  /** Directory for latest.json, the dated copy and the report. */
  readonly outDir: string;
  /**
   * The table's batching windows (stream and inbound queue), seconds; results are written as
   * `window<S>-latest.json` so they never replace the default run's. @default 0 (no window)
   */
  readonly batchingWindowSeconds?: number;
  readonly log: (line: string) => void;
  readonly verbose?: boolean;
}

const KEY = 'pk';
const RATE_MODEL_NOTE =
  "costRatioAtRate and batchingTradeoff are modelled (dev/bench/rate-model.ts): per-item DynamoDB units and calls, bytes per change, handler CPU and the share of echoes the filter passes are measured here (inserts from the saturated drains, updates from the update steps); how many records share an invocation, a message and a receive at each rate follows Lambda's polling (4 polls a second per shard, batching windows, Poisson arrivals), which the emulator cannot reach beyond a few tens of items a second. Idle receives are spread over the month's items. emulatorCostRatioAtRate is what the emulator itself measured at its own steps.";
/** DynamoDB answers in single-digit milliseconds (AWS documentation): the upper bound. */
const AWS_CALL_MS = 10;
/** A SendMessageBatch, apart from the round trip: no published figure; assumed. */
const AWS_SQS_SEND_MS = 20;

export function presetOptions(mode: 'full' | 'quick', overrides: Partial<BenchOptions> = {}): BenchOptions {
  const base = {
    appName: 'rsbench',
    tableName: 'rsbench_items',
    regions: ['us-east-1', 'eu-west-1', 'ap-southeast-1'],
    // 800 B of application data + regionsync's metadata (~150 B) stays within one 1 KB write unit.
    itemBytes: 800,
    outDir: path.resolve('dev', 'bench', 'results'),
    log: (l: string) => console.log(l),
  };
  const sizes =
    mode === 'full'
      ? { steps: [5, 10, 20, 30, 40, 55, 70, 90, 120, 160], stepSeconds: 30, cpuItems: 20_000, backlogItems: 3000, drainTimeoutSeconds: 60 }
      : { steps: [5, 20, 40, 80], stepSeconds: 12, cpuItems: 5_000, backlogItems: 1000, drainTimeoutSeconds: 30 };
  return { mode, ...base, ...sizes, ...overrides };
}

export interface Percentiles {
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly count: number;
}

export interface RequestFigures {
  /** AWS API calls per replicated item per target region (the issue's `requestsPerItem`). */
  readonly dynamodbWrite: number;
  readonly dynamodbRead: number;
  /** SQS API calls: send, non-empty receive, delete. */
  readonly sqs: number;
  readonly lambdaInvocations: number;
  /** The application's own calls per item (not per target): the write, and the client helper's read before it. */
  readonly application: {
    readonly writes: number;
    readonly reads: number;
    readonly writeUnits: number;
    readonly readUnits: number;
    readonly failedConditions: number;
  };
  /** The same, broken down. */
  readonly detail: {
    readonly stampWrites: number;
    readonly applyWrites: number;
    readonly failedConditions: number;
    readonly sqsSend: number;
    readonly sqsReceive: number;
    readonly sqsDelete: number;
    readonly sqsBilled: number;
    readonly sqsEmptyReceivesPerSecond: number;
    readonly shipperInvocations: number;
    readonly applierInvocations: number;
    /** The target regions' shippers, invoked on the applied changes' stream records (which they skip). */
    readonly echoInvocations: number;
    /** Stream records of applied changes that reached a target's shipper (the event filter let them through). */
    readonly echoRecords: number;
    /** GetRecords by the event source mapping (Lambda's, not billed). */
    readonly streamReads: number;
    readonly writeUnits: number;
    readonly transferBytes: number;
    readonly changesPerMessage: number;
    readonly recordsPerShipperInvocation: number;
    readonly messagesPerApplierInvocation: number;
    /** Invocations that failed or timed out (their batches come back: retries). A healthy run has none. */
    readonly failedInvocations: number;
  };
}

export interface Timing {
  /** Mean emulator answer time per call, ms. */
  readonly callMs: { readonly stamp: number | null; readonly apply: number | null; readonly send: number | null; readonly receive: number | null };
  readonly invocations: Record<
    'shipper' | 'applier' | 'echo',
    { readonly count: number; readonly meanMs: number | null; readonly p50Ms: number | null; readonly meanRecords: number | null }
  >;
}

export interface StepResult {
  readonly path: WritePath;
  /** New items, or whole-item overwrites (PutItem) of items an earlier step wrote and replicated. */
  readonly workload: 'insert' | 'update';
  readonly offeredPerSec: number;
  readonly seconds: number;
  readonly items: number;
  readonly writeErrors: number;
  readonly achievedWritesPerSec: number;
  /**
   * Items applied per second per target (mean over targets), from the step's first write to its
   * last applied copy (or the end of its writes, if later): every copy applied counts, so a step
   * that replicated anything has a throughput above 0, however short it is.
   */
  readonly throughputItemsPerSec: number;
  /** Run-relative start and end, seconds. */
  readonly startSec: number;
  readonly endSec: number;
  readonly drainSeconds: number;
  readonly undrained: number;
  readonly lagMs: Percentiles;
  readonly lagByPair: Record<string, Percentiles>;
  /** Median lag of the first and last quarter of the step's items: growth means the backlog grows. */
  readonly lagFirstQuarterP50: number | null;
  readonly lagLastQuarterP50: number | null;
  readonly stable: boolean;
  readonly unstableReason?: string;
  readonly requests: RequestFigures;
  readonly usage: PathUsage;
  readonly timing: Timing;
  readonly invocations: { role: string; region: string; durationMs: number; records: number; atSec: number }[];
}

/** Replication of backlogs of one full batch each: what any load high enough to fill every batch costs per item. */
export interface SaturationResult {
  readonly path: WritePath;
  readonly items: number;
  readonly drainSeconds: number;
  readonly undrained: number;
  /** Items applied per second per target while the backlog drained: the emulator's replication capacity. */
  readonly throughputItemsPerSec: number;
  readonly requests: RequestFigures;
  readonly usage: PathUsage;
  readonly timing: Timing;
}

export async function runBench(o: BenchOptions): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  const loadAtStart = loadavg();
  const [source, ...targets] = o.regions as [string, ...string[]];
  if (targets.length === 0) throw new Error('bench: needs at least two regions (a source and a target)');
  o.log(`regionsync bench (${o.mode}): ${o.regions.join(', ')}; writes in ${source}; steps ${o.steps.join(', ')} items/s × ${o.stepSeconds} s`);

  const window = o.batchingWindowSeconds ?? 0;
  const env = await startEnvironment({
    endpoint: o.endpoint,
    appName: o.appName,
    tableName: o.tableName,
    partitionKey: KEY,
    regions: o.regions,
    log: o.log,
    verbose: o.verbose,
    batchingWindowSeconds: window,
  });
  const observer = new ApplyObserver({ endpoint: env.endpoint, accessKeyId: 'bench-observer' }, targets, o.tableName, KEY);
  const steps: StepResult[] = [];
  const saturation: Partial<Record<WritePath, SaturationResult>> = {};
  const series: { pair: string; tSec: number; lag: number }[] = [];
  let runStart = 0;
  let sqsMappingsPerTableRegion = 0;
  let schedulesPerTableRegion = { count: 0, everyMinutes: 1 };
  try {
    await observer.start();
    runStart = Date.now();
    let index = 0;
    const prefixes = new Map<StepResult, string>();
    const step = async (p: WritePath, rate: number, updateOf?: StepResult): Promise<StepResult> => {
      const prefix = updateOf ? prefixes.get(updateOf)! : `${p}${index++}`;
      const r = await runStep(o, env, observer, p, rate, prefix, runStart, series, updateOf ? 'update' : 'insert');
      steps.push(r);
      prefixes.set(r, prefix);
      o.log(
        `  ${p.padEnd(6)} ${updateOf ? 'update ' : ''}${String(rate).padStart(4)}/s offered, ${r.achievedWritesPerSec.toFixed(1)}/s written, ${r.throughputItemsPerSec.toFixed(1)}/s applied per target; ` +
          `lag p50 ${fmt(r.lagMs.p50)} p99 ${fmt(r.lagMs.p99)} ms; ${r.stable ? 'stable' : `UNSTABLE (${r.unstableReason})`}`,
      );
      return r;
    };
    for (const rate of o.steps) {
      const r = await step('plain', rate);
      if (!r.stable) break;
    }
    const sustained = highestStable(steps.filter((s) => s.path === 'plain' && s.workload === 'insert'));
    const helperStep = await step('helper', sustained.offeredPerSec);
    // Updates of replicated items: the same keys again, overwritten whole (a plain PutItem, or the
    // helper's put). Their appliers' writes come back on the targets' streams, where the event filter
    // should drop them.
    await step('plain', sustained.offeredPerSec, sustained);
    await step('helper', sustained.offeredPerSec, helperStep);
    for (const p of ['plain', 'helper'] as const) {
      const r = await runSaturation(o, env, observer, p, `sat-${p}`);
      saturation[p] = r;
      o.log(
        `  ${p.padEnd(6)} backlog of ${r.items}: drained in ${r.drainSeconds} s (${r.throughputItemsPerSec} items/s per target); per item per target: ` +
          `${r.requests.dynamodbWrite} DynamoDB writes, ${r.requests.sqs} SQS calls, ${r.requests.lambdaInvocations} Lambda invocations`,
      );
    }
    // Queues Lambda long-polls per table and region, whatever the traffic: the idle cost's unit.
    sqsMappingsPerTableRegion = env.runtime.stats().filter((m) => m.source === 'sqs' && m.region === source).length;
    schedulesPerTableRegion = {
      count: env.runtime.schedules.filter((t) => t.region === source).length,
      everyMinutes: Math.max(1, ...env.runtime.schedules.map((t) => t.rateMs / 60_000)),
    };
  } finally {
    await observer.stop();
    await env.stop();
  }

  o.log(`handler CPU on in-memory fakes (${o.cpuItems} items)`);
  const cpu = await measureCpu({ items: o.cpuItems, itemBytes: o.itemBytes });
  // Deterministic (call counts, not timings), so the same in every preset.
  const operationCosts = await measureOperationCosts({ regions: o.regions });
  for (const line of formatOperationCosts(operationCosts)) o.log(line);

  const plainSteps = steps.filter((s) => s.path === 'plain' && s.workload === 'insert');
  const sustained = highestStable(plainSteps);
  const helper = steps.find((s) => s.path === 'helper' && s.workload === 'insert')!;
  const updates = {
    plain: steps.find((s) => s.path === 'plain' && s.workload === 'update')!,
    helper: steps.find((s) => s.path === 'helper' && s.workload === 'update')!,
  };
  const knee = plainSteps.find((s) => !s.stable);
  const metadataBytes = measureMetadata(observer, o.itemBytes);
  const sat = { plain: saturation.plain!, helper: saturation.helper! };
  // Lambda durations in AWS: measured CPU at the functions' vCPU share, and writes at DynamoDB's
  // documented single-digit-millisecond latency, taken at its upper bound. The emulator's own
  // latencies (timing.callMs) describe moto on this machine, not AWS.
  const durationInputs = (shipperCpu: number): AwsDurationInputs => ({
    memoryMb: env.memoryMb.applier ?? env.memoryMb.shipper ?? 512,
    cpuMicros: { shipper: shipperCpu, applier: cpu.applier },
    callMs: { dynamodbWrite: AWS_CALL_MS, sqsSend: AWS_SQS_SEND_MS },
    roundTripMs: Math.max(...targets.map((t) => roundTripMs(source, t).ms)),
    concurrency: 16,
  });
  const durations = { plain: durationInputs(cpu.shipper), helper: durationInputs(cpu.shipperHelper) };
  const cost = costModel({ plain: sat.plain, helper: sat.helper }, o.itemBytes, metadataBytes, durations, targets.length);
  const costAtRate = costModel({ plain: sustained, helper }, o.itemBytes, metadataBytes, durations, targets.length);
  // At the rates real tables run: the per-item counts measured here, batched as AWS would batch them.
  const rateConfig = (p: WritePath): RateModelConfig => ({
    source,
    targets,
    windows: { stream: window, queue: window },
    shipperBatchSize: 500,
    maxMessageBytes: PACKED_MESSAGE_BYTES,
    memoryMb: durations[p].memoryMb,
    cpuMicros: durations[p].cpuMicros,
    callMs: durations[p].callMs,
    concurrency: durations[p].concurrency,
    sqsMappingsPerTableRegion,
    schedulesPerTableRegion,
  });
  const realistic: RealisticRatesInput = {
    measured: {
      plain: {
        insert: perItemFrom(sat.plain.usage, sat.plain.requests.detail, targets.length),
        update: perItemFrom(updates.plain.usage, updates.plain.requests.detail, targets.length),
      },
      helper: {
        insert: perItemFrom(sat.helper.usage, sat.helper.requests.detail, targets.length),
        update: perItemFrom(updates.helper.usage, updates.helper.requests.detail, targets.length),
      },
    },
    measuredItemBytes: o.itemBytes,
    metadataBytes,
    itemSizes: [o.itemBytes, 4096],
    config: { plain: rateConfig('plain'), helper: rateConfig('helper') },
  };
  const costRatioAtRate = costRatioAtRates(realistic);
  const tradeoff = batchingTradeoff(realistic);
  const echoFilter = (['plain', 'helper'] as const).map((p) => {
    const d = updates[p].requests.detail;
    return {
      path: p,
      workload: 'update' as const,
      offeredPerSec: updates[p].offeredPerSec,
      items: updates[p].items,
      // Each applied change is one stream record in its target; what reached a target's shipper passed the filter.
      echoRecordsPerChange: d.echoRecords,
      droppedShare: round4(Math.max(0, 1 - d.echoRecords)),
      echoInvocationsPerItem: round4(d.echoInvocations * targets.length),
      lambdaInvocationsPerItem: round4(updates[p].requests.lambdaInvocations * targets.length),
    };
  });
  // What the emulator itself measured at each insert step, with AWS durations: the model's check at the rates moto reaches.
  const emulatorAtRate = plainSteps
    .filter((s) => s.stable)
    .map((s) => ({
      offeredPerSec: s.offeredPerSec,
      path: 'plain' as const,
      ratio: costModel({ plain: s, helper }, o.itemBytes, metadataBytes, durations, targets.length).ratioPlain,
    }));
  // Processing time per invocation as it would be in AWS (the batches measured at the highest stable
  // load, the CPU measured per item, writes at DynamoDB's latency), and, for comparison, as the
  // emulator took it.
  const lagModel = (step: StepResult, d: AwsDurationInputs) => {
    const batchingWindowMs = { stream: window * 1000, queue: window * 1000 };
    const est = awsInvocations(step, d, source);
    const emulator = cloudLagModel({
      source,
      targets,
      shipper: step.invocations.filter((i) => i.role === 'shipper' && i.region === source),
      applier: step.invocations.filter((i) => i.role === 'applier'),
      batchingWindowMs,
    });
    return {
      ...cloudLagModel({ source, targets, ...est, batchingWindowMs }),
      atEmulatorDurations: { p50: emulator.p50, p99: emulator.p99, components: emulator.components },
    };
  };
  const cloudLag = { plain: lagModel(sustained, durations.plain), helper: lagModel(helper, durations.helper) };
  const headline: WritePath = 'helper';
  const result = {
    schema: 1,
    generatedAt: new Date().toISOString(),
    mode: o.mode,
    durationSeconds: Math.round((Date.now() - t0) / 1000),
    machine: machine(loadAtStart),
    emulator: { kind: o.endpoint ? `given (${o.endpoint})` : 'moto, started for this run', moto: motoVersion(), deploySeconds: Math.round(env.deploySeconds) },
    config: {
      regions: o.regions,
      source,
      targets,
      itemBytes: o.itemBytes,
      metadataBytes,
      steps: o.steps,
      stepSeconds: o.stepSeconds,
      backlogItems: o.backlogItems,
      lambdaMemoryMb: env.memoryMb,
      sustainedOfferedPerSec: sustained.offeredPerSec,
      batchingWindowSeconds: { stream: window, queue: window },
      clientHelper: CLIENT_HELPER_NOTE,
    },
    headlinePath: headline,
    requestsPerItem: pick(sat[headline].requests),
    requestsPerItemByPath: { plain: sat.plain.requests, helper: sat.helper.requests },
    requestsPerItemAtRate: { offeredPerSec: sustained.offeredPerSec, plain: sustained.requests, helper: helper.requests },
    saturation: { plain: stripUsage(sat.plain), helper: stripUsage(sat.helper) },
    targets: { dynamodbWrite: 1.05, sqs: 0.05, lambdaInvocations: 0.02, costRatio: 1.1 },
    costRatioAtRate,
    idleUsdPerTableRegionMonth: idleUsdPerTableRegionMonth(sqsMappingsPerTableRegion, schedulesPerTableRegion, durations.helper.memoryMb),
    idle: {
      sqsMappingsPerTableRegion,
      usdPerQueueMonth: round4(idleSqsCostPerQueueMonth().usd),
      schedulesPerTableRegion,
      usdPerScheduleMonth: round4(idleScheduleCostMonth(schedulesPerTableRegion.everyMinutes, durations.helper.memoryMb).usd),
      note: "Lambda long-polls every SQS mapping's queue (5 pollers, 20 s waits) whether or not messages come; a schedule's empty run is one invocation, one receive and ~20 ms; stream mappings' reads are not billed",
    },
    batchingTradeoff: tradeoff,
    echoFilter,
    emulatorCostRatioAtRate: emulatorAtRate,
    rateModel: RATE_MODEL_NOTE,
    costPerMillionUsd: {
      ...cost,
      atRate: {
        offeredPerSec: sustained.offeredPerSec,
        regionsync: costAtRate.regionsync,
        regionsyncPlain: costAtRate.regionsyncPlain,
        ratio: costAtRate.ratio,
        ratioPlain: costAtRate.ratioPlain,
        breakdown: costAtRate.breakdown,
      },
    },
    cpuMicrosPerItem: roundAll(cpu) as unknown as CpuResult,
    operationCosts,
    lagMs: {
      p50: sustained.lagMs.p50,
      p99: sustained.lagMs.p99,
      path: 'plain',
      offeredPerSec: sustained.offeredPerSec,
      helper: { p50: helper.lagMs.p50, p99: helper.lagMs.p99 },
    },
    throughputItemsPerSec: sustained.throughputItemsPerSec,
    knee: knee
      ? {
          reached: true,
          lastStableOfferedPerSec: sustained.offeredPerSec,
          lastStableThroughputItemsPerSec: sustained.throughputItemsPerSec,
          firstUnstableOfferedPerSec: knee.offeredPerSec,
          reason: knee.unstableReason,
        }
      : { reached: false, lastStableOfferedPerSec: sustained.offeredPerSec, lastStableThroughputItemsPerSec: sustained.throughputItemsPerSec },
    cloudLagModelMs: { p50: cloudLag[headline].p50, p99: cloudLag[headline].p99, path: headline, byPath: cloudLag },
    loadSteps: steps.map(({ invocations: _i, usage: _u, ...s }) => s),
    lagSeries: bucketSeries(series),
    lagQuantiles: { plain: quantilesByPair(series, sustained), helper: quantilesByPair(series, helper) },
    functionErrors: env.functionErrors.slice(0, 10),
    observerErrors: observer.errors,
  };

  await mkdir(o.outDir, { recursive: true });
  const stamp = result.generatedAt.replace(/[:]/g, '').replace(/\..*$/, 'Z');
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const base = `${o.mode === 'full' ? '' : `${o.mode}-`}${window > 0 ? `window${window}-` : ''}`;
  const files = {
    latest: path.join(o.outDir, `${base}latest.json`),
    dated: path.join(o.outDir, `${base}${stamp}.json`),
    html: path.join(o.outDir, `${base}latest.html`),
  };
  await writeFile(files.latest, json);
  await writeFile(files.dated, json);
  await writeFile(files.html, renderReport(result as never));
  o.log(`wrote ${files.latest}, ${files.dated}, ${files.html}`);
  return { ...result, files };
}

async function runStep(
  o: BenchOptions,
  env: Environment,
  observer: ApplyObserver,
  p: WritePath,
  rate: number,
  prefix: string,
  runStart: number,
  series: { pair: string; tSec: number; lag: number }[],
  workload: 'insert' | 'update' = 'insert',
): Promise<StepResult> {
  const [source, ...targets] = o.regions as [string, ...string[]];
  const before = env.stats.snapshot();
  const invFrom = env.invocations.length;
  const startedAt = Date.now();
  const w = await writeLoad({
    target: { endpoint: env.proxy.endpoint, accessKeyId: APP_KEY },
    region: source,
    tableName: o.tableName,
    partitionKey: KEY,
    path: p,
    ratePerSec: rate,
    seconds: o.stepSeconds,
    itemBytes: o.itemBytes,
    idPrefix: prefix,
  });
  const acked = w.writes.filter((x) => x.ackAt !== undefined);
  const endedAt = Date.now();
  // Drain: every acknowledged item in every target, or the timeout.
  const deadline = endedAt + o.drainTimeoutSeconds * 1000;
  const missing = () => targets.reduce((n, r) => n + acked.filter((x) => !observer.applied.get(r)!.at.has(writeKey(x))).length, 0);
  while (missing() > 0 && Date.now() < deadline) await sleep(200);
  // Let the last deletes and echo invocations of this step finish before counting.
  await sleep(1000);
  const drainedAt = Date.now();
  const undrained = missing();
  const calls = env.stats.since(before);
  const invocations = env.invocations.slice(invFrom);

  // Lags, per pair and overall.
  const lagByPair: Record<string, Percentiles> = {};
  const all: number[] = [];
  let appliedCopies = 0;
  let lastAppliedAt = endedAt;
  const firstQ: number[] = [];
  const lastQ: number[] = [];
  acked.forEach((x, i) => {
    for (const r of targets) {
      const at = observer.applied.get(r)!.at.get(writeKey(x));
      if (at === undefined) continue;
      const lag = at - x.t0;
      all.push(lag);
      series.push({ pair: `${source}→${r}`, tSec: (x.t0 - runStart) / 1000, lag });
      appliedCopies++;
      lastAppliedAt = Math.max(lastAppliedAt, at);
      if (i < acked.length / 4) firstQ.push(lag);
      if (i >= (acked.length * 3) / 4) lastQ.push(lag);
    }
  });
  for (const r of targets) {
    const lags = acked.map((x) => observer.applied.get(r)!.at.get(writeKey(x))).flatMap((at, i) => (at === undefined ? [] : [at - acked[i]!.t0]));
    lagByPair[`${source}→${r}`] = percentiles(lags);
  }
  const lagMs = percentiles(all);
  const fq = percentiles(firstQ).p50;
  const lq = percentiles(lastQ).p50;

  let unstableReason: string | undefined;
  if (undrained > 0) unstableReason = `${undrained} item copies not applied ${o.drainTimeoutSeconds} s after the step`;
  else if (w.achievedPerSec < 0.85 * rate) unstableReason = `the emulator accepted only ${w.achievedPerSec.toFixed(1)} of ${rate} writes/s`;
  else if (fq !== null && lq !== null && lq > 2 * fq && lq - fq > 1000) unstableReason = `lag grew during the step (median ${fq} ms → ${lq} ms)`;

  const items = acked.length;
  const requests = requestFigures(calls, invocations, items, source, targets.length, (drainedAt - startedAt) / 1000);
  const usage = pathUsage(calls, invocations, items, source, targets.length);
  return {
    path: p,
    workload,
    offeredPerSec: rate,
    seconds: o.stepSeconds,
    items,
    writeErrors: w.writes.length - items,
    achievedWritesPerSec: round1(w.achievedPerSec),
    // Not only the copies applied before the last write was acknowledged: in a step shorter than
    // the lag (a cold start, a long poll's 1 s steps) that can be none of them, and 0 items/s.
    throughputItemsPerSec: roundRate(appliedCopies / targets.length / ((lastAppliedAt - startedAt) / 1000)),
    startSec: round1((startedAt - runStart) / 1000),
    endSec: round1((endedAt - runStart) / 1000),
    drainSeconds: round1((drainedAt - endedAt) / 1000),
    undrained,
    lagMs,
    lagByPair,
    lagFirstQuarterP50: fq,
    lagLastQuarterP50: lq,
    stable: unstableReason === undefined,
    ...(unstableReason ? { unstableReason } : {}),
    requests,
    usage,
    timing: timing(calls, invocations, source),
    invocations: invocations.map((i) => ({
      role: i.region !== source && i.role === 'shipper' ? 'echo' : i.role,
      region: i.region,
      durationMs: i.outcome.durationMs,
      records: i.records,
      atSec: round1((i.at - runStart) / 1000),
    })),
  };
}

/** A backlog round: one full shipper batch (the mappings' BatchSize), so no invocation gets more than AWS would give it. */
const BACKLOG_ROUND = 500;

async function runSaturation(o: BenchOptions, env: Environment, observer: ApplyObserver, p: WritePath, prefix: string): Promise<SaturationResult> {
  const [source, ...targets] = o.regions as [string, ...string[]];
  const before = env.stats.snapshot();
  const invFrom = env.invocations.length;
  const acked: { id: string }[] = [];
  let seconds = 0;
  let undrained = 0;
  // Rounds of one full batch each: a single large backlog would hand the appliers ten full
  // messages at once, more than the saturated emulator applies within the function timeout.
  for (let round = 0, left = o.backlogItems; left > 0; round++, left -= BACKLOG_ROUND) {
    const n = Math.min(BACKLOG_ROUND, left);
    await env.pause();
    // The backlog: written as fast as the emulator takes it, while nothing replicates.
    const w = await writeLoad({
      target: { endpoint: env.proxy.endpoint, accessKeyId: APP_KEY },
      region: source,
      tableName: o.tableName,
      partitionKey: KEY,
      path: p,
      ratePerSec: 1000,
      seconds: n / 1000,
      itemBytes: o.itemBytes,
      idPrefix: `${prefix}${round}`,
    });
    const ok = w.writes.filter((x) => x.ackAt !== undefined);
    acked.push(...ok);
    const startedAt = Date.now();
    await env.resume();
    const timeout = startedAt + Math.max(o.drainTimeoutSeconds, n / 5) * 1000;
    const missing = () => targets.reduce((m, r) => m + ok.filter((x) => !observer.applied.get(r)!.at.has(writeKey(x))).length, 0);
    while (missing() > 0 && Date.now() < timeout) await sleep(200);
    seconds += (Date.now() - startedAt) / 1000;
    undrained += missing();
  }
  await sleep(1000);
  const calls = env.stats.since(before);
  const invocations = env.invocations.slice(invFrom);
  return {
    path: p,
    items: acked.length,
    drainSeconds: round1(seconds),
    undrained,
    throughputItemsPerSec: round1(acked.length / seconds),
    requests: requestFigures(calls, invocations, acked.length, source, targets.length, seconds),
    usage: pathUsage(calls, invocations, acked.length, source, targets.length),
    timing: timing(calls, invocations, source),
  };
}

/**
 * The invocations of a step with the duration each would take in AWS: the handler CPU for its
 * items at the function's vCPU share, plus its writes at DynamoDB's latency, 16 in flight. The
 * shipper's time is counted up to its send (the one-way trip to each target is the model's).
 */
function awsInvocations(step: StepResult, d: AwsDurationInputs, source: string) {
  const slow = Math.max(1, VCPU_MB / d.memoryMb);
  const shipper = step.invocations.filter((i) => i.role === 'shipper' && i.region === source);
  const applier = step.invocations.filter((i) => i.role === 'applier');
  const records = shipper.reduce((n, i) => n + i.records, 0);
  const itemsPerRecord = records > 0 ? step.items / records : 1;
  const stamps = step.requests.detail.stampWrites > 0;
  const changesPerMessage = step.requests.detail.changesPerMessage;
  return {
    shipper: shipper.map((i) => {
      const n = i.records * itemsPerRecord;
      return { records: i.records, durationMs: (d.cpuMicros.shipper * n * slow) / 1000 + (stamps ? Math.ceil(n / d.concurrency) * d.callMs.dynamodbWrite : 0) };
    }),
    applier: applier.map((i) => {
      const changes = i.records * changesPerMessage;
      return {
        records: i.records,
        durationMs: (d.cpuMicros.applier * changes * slow) / 1000 + Math.ceil(changes / (d.concurrency * Math.max(1, i.records))) * d.callMs.dynamodbWrite,
      };
    }),
  };
}

function timing(calls: readonly CallCount[], inv: readonly Invocation[], source: string): Timing {
  const mean = (xs: readonly CallCount[]) => {
    const n = xs.reduce((a, c) => a + c.calls, 0);
    return n > 0 ? round1(xs.reduce((a, c) => a + c.latencyMs, 0) / n) : null;
  };
  const summary = (xs: readonly Invocation[]) => {
    const d = percentiles(xs.map((i) => i.outcome.durationMs));
    return {
      count: xs.length,
      meanMs: xs.length ? round1(xs.reduce((a, i) => a + i.outcome.durationMs, 0) / xs.length) : null,
      p50Ms: d.p50,
      meanRecords: xs.length ? round1(xs.reduce((a, i) => a + i.records, 0) / xs.length) : null,
    };
  };
  return {
    callMs: {
      stamp: mean(calls.filter((c) => c.caller === 'shipper' && isDynamoWrite(c))),
      apply: mean(calls.filter((c) => c.caller === 'applier' && isDynamoWrite(c))),
      send: mean(calls.filter((c) => c.caller === 'shipper' && c.operation === 'SendMessageBatch')),
      receive: mean(calls.filter((c) => c.operation === 'ReceiveMessage')),
    },
    invocations: {
      shipper: summary(inv.filter((i) => i.role === 'shipper' && i.region === source)),
      applier: summary(inv.filter((i) => i.role === 'applier')),
      echo: summary(inv.filter((i) => i.role === 'shipper' && i.region !== source)),
    },
  };
}

function stripUsage({ usage: _u, ...rest }: SaturationResult) {
  return rest;
}

/** What the "client helper" path is in this run. */
const CLIENT_HELPER_NOTE =
  'RegionSyncClient.put from src/client: an eventually consistent GetItem of the item (retried with a consistent one when the condition fails), then a PutItem carrying the new version (_rs_v, _rs_w = app, _rs_vv) conditional on the version read; the shipper ships it without a stamping write';

function requestFigures(
  calls: readonly CallCount[],
  inv: readonly Invocation[],
  items: number,
  source: string,
  targets: number,
  seconds: number,
): RequestFigures {
  const per = (n: number) => (items > 0 ? round4(n / (items * targets)) : 0);
  const fn = calls.filter((c) => c.caller === 'shipper' || c.caller === 'applier');
  const sum = (xs: readonly CallCount[], f: (c: CallCount) => number = (c) => c.calls) => xs.reduce((n, c) => n + f(c), 0);
  const op = (name: string) => calls.filter((c) => c.service === 'sqs' && c.operation === name);
  const stampWrites = sum(fn.filter((c) => c.caller === 'shipper' && isDynamoWrite(c)));
  const applyWrites = sum(fn.filter((c) => c.caller === 'applier' && isDynamoWrite(c)));
  const sqsSend = sum(op('SendMessageBatch')) + sum(op('SendMessage'));
  const sqsReceive = sum(op('ReceiveMessage'));
  const sqsDelete = sum(op('DeleteMessageBatch')) + sum(op('DeleteMessage'));
  const billedOps = ['SendMessageBatch', 'SendMessage', 'ReceiveMessage', 'DeleteMessageBatch', 'DeleteMessage'];
  const sqsBilled = sum(
    calls.filter((c) => c.service === 'sqs' && billedOps.includes(c.operation)),
    (c) => c.sqsBilledRequests,
  );
  const shipper = inv.filter((i) => i.role === 'shipper' && i.region === source);
  const echo = inv.filter((i) => i.role === 'shipper' && i.region !== source);
  const applier = inv.filter((i) => i.role === 'applier');
  const messagesSent = sum(op('SendMessageBatch'), (c) => c.messages);
  const app = calls.filter((c) => c.caller === APP_KEY);
  const perItem = (n: number) => (items > 0 ? round4(n / items) : 0);
  return {
    dynamodbWrite: per(stampWrites + applyWrites),
    dynamodbRead: per(sum(fn.filter(isDynamoRead))),
    sqs: per(sqsSend + sqsReceive + sqsDelete),
    lambdaInvocations: per(shipper.length + applier.length + echo.length),
    application: {
      writes: perItem(sum(app.filter(isDynamoWrite))),
      reads: perItem(sum(app.filter(isDynamoRead))),
      writeUnits: perItem(sum(app, (c) => c.writeUnits)),
      readUnits: perItem(sum(app, (c) => c.readUnits)),
      failedConditions: perItem(sum(app, (c) => c.conditionalFailures)),
    },
    detail: {
      stampWrites: per(stampWrites),
      applyWrites: per(applyWrites),
      failedConditions: per(sum(fn, (c) => c.conditionalFailures)),
      sqsSend: per(sqsSend),
      sqsReceive: per(sqsReceive),
      sqsDelete: per(sqsDelete),
      sqsBilled: per(sqsBilled),
      sqsEmptyReceivesPerSecond: round1(sum(op('ReceiveMessage(empty)')) / seconds),
      shipperInvocations: per(shipper.length),
      applierInvocations: per(applier.length),
      echoInvocations: per(echo.length),
      echoRecords: per(echo.reduce((n, i) => n + i.records, 0)),
      streamReads: per(sum(calls.filter((c) => c.service === 'dynamodbstreams' && c.operation === 'GetRecords'))),
      writeUnits: per(sum(fn, (c) => c.writeUnits)),
      transferBytes: per(sum(crossRegion(calls), (c) => c.requestBytes + c.responseBytes)),
      changesPerMessage: round1((items * targets) / Math.max(1, messagesSent)),
      recordsPerShipperInvocation: round1(shipper.reduce((n, i) => n + i.records, 0) / Math.max(1, shipper.length)),
      messagesPerApplierInvocation: round1(applier.reduce((n, i) => n + i.records, 0) / Math.max(1, applier.length)),
      failedInvocations: inv.filter((i) => !i.outcome.ok).length,
    },
  };
}

/** Calls a function made to another region than its own: what crosses regions. */
function crossRegion(calls: readonly CallCount[]): CallCount[] {
  return calls.filter((c) => c.callerRegion !== undefined && c.callerRegion !== c.region);
}

function pathUsage(calls: readonly CallCount[], inv: readonly Invocation[], items: number, source: string, targets: number): PathUsage {
  const per = (n: number) => (items > 0 ? n / items : 0);
  const perT = (n: number) => per(n) / targets;
  const gbs = (xs: readonly Invocation[]) => xs.reduce((n, i) => n + (Math.ceil(i.outcome.durationMs) / 1000) * (i.memoryMb / 1024), 0);
  const sum = (xs: readonly CallCount[], f: (c: CallCount) => number) => xs.reduce((n, c) => n + f(c), 0);
  const billedOps = ['SendMessageBatch', 'SendMessage', 'ReceiveMessage', 'DeleteMessageBatch', 'DeleteMessage'];
  const targetInv = inv.filter((i) => i.region !== source);
  const sourceInv = inv.filter((i) => i.region === source && i.role === 'shipper');
  const app = calls.filter((c) => c.caller === APP_KEY);
  const fnCalls = calls.filter((c) => c.caller === 'shipper' || c.caller === 'applier');
  return {
    appWriteUnits: per(sum(app.filter(isDynamoWrite), (c) => c.writeUnits)),
    appReadUnits: per(sum(app, (c) => c.readUnits)),
    sourceWriteUnits: per(
      sum(
        calls.filter((c) => c.caller === 'shipper' && isDynamoWrite(c)),
        (c) => c.writeUnits,
      ),
    ),
    // regionsync's own reads (tombstone rows, merging strategies' items), by where they are made.
    sourceReadUnits: per(
      sum(
        fnCalls.filter((c) => c.region === source),
        (c) => c.readUnits,
      ),
    ),
    perTarget: {
      writeUnits: perT(
        sum(
          calls.filter((c) => c.caller === 'applier' && isDynamoWrite(c)),
          (c) => c.writeUnits,
        ),
      ),
      readUnits: perT(
        sum(
          fnCalls.filter((c) => c.region !== source),
          (c) => c.readUnits,
        ),
      ),
      sqsBilledRequests: perT(
        sum(
          calls.filter((c) => c.service === 'sqs' && billedOps.includes(c.operation)),
          (c) => c.sqsBilledRequests,
        ),
      ),
      lambdaInvocations: perT(targetInv.length),
      lambdaGbSeconds: perT(gbs(targetInv)),
      echoLambdaGbSeconds: perT(gbs(targetInv.filter((i) => i.role === 'shipper'))),
      transferBytes: perT(sum(crossRegion(calls), (c) => c.requestBytes + c.responseBytes)),
    },
    source: { lambdaInvocations: per(sourceInv.length), lambdaGbSeconds: per(gbs(sourceInv)) },
  };
}

function costModel(
  measured: Record<'plain' | 'helper', { usage: PathUsage; requests: RequestFigures }>,
  itemBytes: number,
  metadataBytes: number,
  durations: Record<'plain' | 'helper', AwsDurationInputs>,
  measuredTargets: number,
) {
  const targets = 2; // the question asked: one million writes replicated to two other regions
  const gt = globalTablesCost(itemBytes, targets);
  const aws = (p: 'plain' | 'helper', u: PathUsage = measured[p].usage): PathUsage => {
    const d = measured[p].requests.detail;
    const est = awsLambdaGbSeconds(
      { stampsPerItem: d.stampWrites * measuredTargets, appliesPerItemPerTarget: d.applyWrites, sendsPerItemPerTarget: d.sqsSend },
      durations[p],
      targets,
    );
    return withAwsDurations(u, est);
  };
  const est = { plain: regionsyncCost(aws('plain'), targets), helper: regionsyncCost(aws('helper'), targets) };
  const emu = { plain: regionsyncCost(measured.plain.usage, targets), helper: regionsyncCost(measured.helper.usage, targets) };
  const scenarios: WriteUnitScenario[] = [
    { name: `${itemBytes} B items, new (as measured)`, appItemBytes: itemBytes, metadataBytes, kind: 'insert' },
    { name: `${itemBytes} B items, updates of replicated items`, appItemBytes: itemBytes, metadataBytes, kind: 'update' },
    { name: '1024 B items: the metadata pushes every write over 1 KB', appItemBytes: 1024, metadataBytes, kind: 'update' },
  ];
  const byScenario = scenarios.map((s) => {
    const gts = globalTablesCost(s.appItemBytes, targets);
    const pl = regionsyncCost(withScenario(aws('plain'), s, 'plain', measured.plain.requests.detail.applyWrites), targets);
    const he = regionsyncCost(withScenario(aws('helper'), s, 'helper', measured.helper.requests.detail.applyWrites), targets);
    return {
      scenario: s,
      globalTables: gts.total,
      plain: pl.total,
      helper: he.total,
      plainRatio: round2(pl.total / gts.total),
      helperRatio: round2(he.total / gts.total),
    };
  });
  const idle = idleSqsCostPerQueueMonth();
  return {
    regionsync: est.helper.total,
    globalTables: gt.total,
    ratio: round2(est.helper.total / gt.total),
    path: 'helper',
    regionsyncPlain: est.plain.total,
    ratioPlain: round2(est.plain.total / gt.total),
    lambdaDurationBasis:
      "estimated for AWS: handler CPU per item (cpuMicrosPerItem) slowed to the configured memory's vCPU share (1,769 MB = 1 vCPU), plus waits for writes at 10 ms each (DynamoDB's single-digit milliseconds, upper bound), 16 in flight, and the slowest target's inter-region round trip + 20 ms (assumed) per send (targets in parallel); request counts as measured",
    durationInputs: durations,
    breakdown: { plain: est.plain, helper: est.helper, globalTables: gt },
    atEmulatorDurations: {
      note: 'the same request counts with Lambda GB-s at the durations measured on the emulator, where a saturated moto answers a write in tens of ms (see saturation timing): an upper bound',
      regionsync: emu.helper.total,
      ratio: round2(emu.helper.total / gt.total),
      regionsyncPlain: emu.plain.total,
      ratioPlain: round2(emu.plain.total / gt.total),
      breakdown: { plain: emu.plain, helper: emu.helper },
    },
    byScenario,
    targetsModelled: targets,
    idleCost: {
      sqsRequestsPerQueueMonth: idle.requests,
      usdPerQueueMonth: round4(idle.usd),
      note: 'Lambda long-polls each inbound queue even when idle; not per item',
    },
    prices: PRICES,
  };
}

function measureMetadata(observer: ApplyObserver, itemBytes: number): number {
  const samples = [...observer.applied.values()].flatMap((a) => a.sample);
  if (samples.length === 0) return 0;
  const sizes = samples.map((s) => itemSize(s as Record<string, unknown>) - itemBytes);
  return Math.max(...sizes);
}

function highestStable(steps: readonly StepResult[]): StepResult {
  const stable = steps.filter((s) => s.stable);
  return stable.length > 0 ? stable[stable.length - 1]! : steps[0]!;
}

function percentiles(values: readonly number[]): Percentiles {
  if (values.length === 0) return { p50: null, p99: null, max: null, count: 0 };
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!);
  return { p50: q(0.5), p99: q(0.99), max: Math.round(s[s.length - 1]!), count: s.length };
}

/** Per pair, per second of the run: p50, p99 and max lag of the items written in that second. */
function bucketSeries(series: readonly { pair: string; tSec: number; lag: number }[]): Record<string, [number, number, number, number][]> {
  const byPair = new Map<string, Map<number, number[]>>();
  for (const s of series) {
    const m = byPair.get(s.pair) ?? new Map<number, number[]>();
    byPair.set(s.pair, m);
    const b = Math.floor(s.tSec);
    m.set(b, [...(m.get(b) ?? []), s.lag]);
  }
  const out: Record<string, [number, number, number, number][]> = {};
  for (const [pair, m] of byPair) {
    out[pair] = [...m.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([t, lags]) => {
        const p = percentiles(lags);
        return [t, p.p50!, p.p99!, p.max!];
      });
  }
  return out;
}

/** The distribution of one step's lags per pair, as quantiles (1..99, 99.9, max): the CDF plot. */
function quantilesByPair(series: readonly { pair: string; tSec: number; lag: number }[], step: StepResult): Record<string, [number, number][]> {
  const out: Record<string, [number, number][]> = {};
  for (const pair of Object.keys(step.lagByPair)) {
    const lags = series
      .filter((s) => s.pair === pair && s.tSec >= step.startSec && s.tSec <= step.endSec)
      .map((s) => s.lag)
      .sort((a, b) => a - b);
    if (lags.length === 0) continue;
    const ps = [...Array.from({ length: 99 }, (_, i) => (i + 1) / 100), 0.999, 1];
    out[pair] = ps.map((p) => [p, Math.round(lags[Math.min(lags.length - 1, Math.max(0, Math.ceil(p * lags.length) - 1))]!)]);
  }
  return out;
}

function machine(loadAtStart: number[]) {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    os: `${platform()} ${release()}`,
    node: process.version,
    loadAverageAtStart: loadAtStart.map((x) => Math.round(x * 100) / 100),
    loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

function motoVersion(): string {
  try {
    return execFileSync(process.env.REGIONSYNC_PYTHON ?? 'python3', ['-c', 'import moto; print(moto.__version__)'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function pick(r: RequestFigures) {
  return { dynamodbWrite: r.dynamodbWrite, dynamodbRead: r.dynamodbRead, sqs: r.sqs, lambdaInvocations: r.lambdaInvocations };
}

function roundAll(o: object): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round1(v) : v]));
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
/** One decimal, but two significant digits below 0.1: a rate that is not 0 never rounds to 0. */
const roundRate = (x: number) => (x > 0 && x < 0.1 ? Number(x.toPrecision(2)) : round1(x));
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
const fmt = (x: number | null) => (x === null ? '-' : String(x));
