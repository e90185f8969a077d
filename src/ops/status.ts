/**
 * `regionsync status`, the data: for every source→target pair of every table, the replication
 * lag (p50/p99/max over the window, from CloudWatch GetMetricData), changes shipped, applied and
 * skipped, the target's inbound backlog and dead-letter queue (live, from SQS), the age of the
 * oldest waiting change and the source shipper's iterator age (CloudWatch), errors, and which
 * thresholds are breached. Per table and source region: the outage backlog (changes parked for an
 * unreachable target; live from SQS, how long it has been non-empty from CloudWatch). Per region:
 * alarms firing and write fences.
 *
 * Every region is read on its own; what cannot be read is reported in `problems` and shows as
 * null, so one unreachable region never hides the others.
 */
import type { CloudWatchClient, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient, paginateListFunctions, type FunctionConfiguration } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { backlogQueueName, deadLetterQueueName, ENV, inboundQueueName, METRICS, type FunctionSettings } from '../core/contract.ts';
import { FENCE_KEY, fenceStateOf, fenceTableName, type FenceState } from '../core/fence.ts';
import { AWS_METRICS, PAIR_METRICS, pairDimensions, type AlarmKind, type Pair } from '../core/metrics.ts';
import { clientConfig, dynamodb, type Target, cloudwatch as cloudwatchOf, sqs as sqsOf } from './aws.ts';
import { parkedAlarmMinutes, tableMonitoring } from '../infra/config/monitoring.ts';
import type { ResolvedConfig, ResolvedThresholds } from '../infra/config/schema.ts';
import { queueCounts, type QueueCounts } from './queue-depth.ts';
import { describeAlarms, getMetricData, type MetricPoint } from './cloudwatch-read.ts';

/** What {@link collectStatus} reads: the config, where (endpoint and region credentials), and the window. */
export interface StatusOptions extends Target {
  readonly config: ResolvedConfig;
  /** Minutes of metrics the lag percentiles and counts cover. @default 5 */
  readonly windowMinutes?: number;
  /** Clock, epoch ms: the report's time; the window ends at the whole minute at or after it. @default Date.now */
  readonly now?: () => number;
}

/** Replication lag of a pair over the window, ms; null when there was no data. */
export interface LagFigures {
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  /** Changes the figures are computed over. */
  readonly samples: number;
}

/** A threshold status checks a pair against: the kinds of the pair's alarms, compared on the window's figures. */
export type Breach = Extract<AlarmKind, 'lagP99' | 'lagMax' | 'dlq' | 'backlogAge' | 'iteratorAge' | 'shipperErrors' | 'applierErrors'>;

/** One source→target pair of a table: lag, changes, the target's queues, errors, and what is breached. */
export interface PairStatus {
  readonly table: string;
  readonly source: string;
  readonly target: string;
  /** Source write → applied in the target, ms (see replicationLagMs in src/core/metrics.ts). */
  readonly lag: LagFigures;
  readonly changes: { readonly shipped: number | null; readonly applied: number | null; readonly stale: number | null };
  /** The target's inbound queue for this table (shared by every source into the target). */
  readonly backlog: { readonly messages: number | null; readonly inFlight: number | null; readonly oldestAgeSeconds: number | null };
  /** The target's dead-letter queue for this table. */
  readonly dlq: { readonly messages: number | null };
  /** How far behind its stream the source's shipper reads (latest minute's maximum), ms. */
  readonly iteratorAgeMs: number | null;
  /** Error rates (%) over the window: the source's shipper, the target's applier. */
  readonly errorRatePercent: { readonly shipper: number | null; readonly applier: number | null };
  readonly thresholds: ResolvedThresholds;
  readonly breaches: readonly Breach[];
}

/**
 * The outage backlog of one table in one source region: changes its shipper could not deliver
 * to a target region that was down, waiting there (14 days) until the drainer delivers them.
 * One queue per table and source, shared by every target.
 */
export interface ParkedStatus {
  readonly table: string;
  /** The source region holding the parked changes. */
  readonly region: string;
  /** Changes parked, waiting or being retried (live, SQS GetQueueAttributes); null when unreadable. */
  readonly messages: number | null;
  /**
   * AWS/SQS ApproximateAgeOfOldestMessage of the backlog (latest minute), s; 0 when the backlog is
   * empty. A lower bound in a long outage: AWS leaves out messages received 3 times or more, and
   * the drainer receives each parked change again every ≤ 30 s while its target is down.
   */
  readonly oldestAgeSeconds: number | null;
  /** How long the backlog has held a message in every minute up to the latest (what the `parkedAge` alarm counts), s; null when unknown. */
  readonly nonEmptySeconds: number | null;
  /** `parkedAgeThresholdSeconds` of the table. */
  readonly thresholdSeconds: number;
  /** Changes are parked and have been for longer than the threshold (see {@link parkedBreached}). */
  readonly breached: boolean;
}

/** What concerns a region as a whole: alarms firing and fenced tables. */
export interface RegionStatus {
  readonly region: string;
  /** Names of regionsync alarms in state ALARM (none on emulators that do not evaluate alarms). */
  readonly alarmsFiring: readonly string[];
  /** Tables fenced in this region (see src/core/fence.ts); empty when none or no fence table. */
  readonly fences: readonly FenceState[];
}

/** The result of {@link collectStatus}: what `regionsync status` renders, or prints as JSON. */
export interface StatusReport {
  readonly app: string;
  readonly generatedAt: string;
  readonly windowMinutes: number;
  /** The emulator endpoint read. @default none: AWS */
  readonly endpoint?: string;
  readonly pairs: readonly PairStatus[];
  /** Per table and source region: the outage backlog. */
  readonly parked: readonly ParkedStatus[];
  readonly regions: readonly RegionStatus[];
  /** True when no pair or outage backlog breaches a threshold, no alarm fires and no table is fenced. */
  readonly healthy: boolean;
  /** What could not be read, per region and source. */
  readonly problems: readonly string[];
}

interface TableFunctions {
  shipper?: string;
  applier?: string;
}

/** Raw figures of one region, keyed as `${table}|${kind}|${other region or ''}`. */
type Figures = Map<string, number | null>;

/**
 * Reads every region's metrics, queues, alarms and fences, each region on its own and in parallel,
 * into one report; what cannot be read is listed in `problems` and shows as null.
 */
export async function collectStatus(opts: StatusOptions): Promise<StatusReport> {
  const { config } = opts;
  const app = config.appName;
  const now = (opts.now ?? Date.now)();
  const windowMinutes = opts.windowMinutes ?? 5;
  const problems: string[] = [];
  const regions = config.regions.map((r) => r.region).filter((r) => config.tables.some((t) => t.regions.includes(r)));

  const perRegion = await Promise.all(regions.map((region) => collectRegion(opts, region, now, windowMinutes, problems)));
  const figures = new Map(regions.map((r, i) => [r, perRegion[i]!.figures]));
  const get = (region: string, table: string, kind: string, other = ''): number | null => figures.get(region)?.get(`${table}|${kind}|${other}`) ?? null;

  const pairs: PairStatus[] = [];
  for (const table of config.tables) {
    const thresholds = tableMonitoring(config, table.name);
    for (const source of table.regions) {
      for (const target of table.regions.filter((r) => r !== source)) {
        const shipperErrors = get(source, table.name, 'shipperErrorRate');
        const applierErrors = get(target, table.name, 'applierErrorRate');
        const pair: Omit<PairStatus, 'breaches'> = {
          table: table.name,
          source,
          target,
          lag: {
            p50: get(target, table.name, 'lagP50', source),
            p99: get(target, table.name, 'lagP99', source),
            max: get(target, table.name, 'lagMax', source),
            samples: get(target, table.name, 'lagSamples', source) ?? 0,
          },
          changes: {
            shipped: get(source, table.name, 'shipped', target),
            applied: get(target, table.name, 'applied', source),
            stale: get(target, table.name, 'stale', source),
          },
          backlog: {
            messages: get(target, table.name, 'inboundVisible'),
            inFlight: get(target, table.name, 'inboundInFlight'),
            oldestAgeSeconds: get(target, table.name, 'oldestAge'),
          },
          dlq: { messages: get(target, table.name, 'dlqVisible') },
          iteratorAgeMs: get(source, table.name, 'iteratorAge'),
          errorRatePercent: { shipper: shipperErrors, applier: applierErrors },
          thresholds: { ...pickThresholds(thresholds) },
        };
        pairs.push({ ...pair, breaches: breachesOf(pair) });
      }
    }
  }
  const parked: ParkedStatus[] = [];
  for (const table of config.tables) {
    const thresholdSeconds = tableMonitoring(config, table.name).parkedAgeThresholdSeconds;
    for (const region of table.regions) {
      const messages = get(region, table.name, 'parkedMessages');
      const figures = {
        table: table.name,
        region,
        messages,
        // An empty backlog has no oldest change and has waited for nothing, whatever the latest minute's samples said.
        oldestAgeSeconds: messages === 0 ? 0 : get(region, table.name, 'parkedOldestAge'),
        nonEmptySeconds: messages === 0 ? 0 : get(region, table.name, 'parkedNonEmpty'),
        thresholdSeconds,
      };
      parked.push({ ...figures, breached: parkedBreached(figures) });
    }
  }
  const regionStatus = regions.map((region, i) => ({ region, alarmsFiring: perRegion[i]!.alarmsFiring, fences: perRegion[i]!.fences }));
  const healthy =
    pairs.every((p) => p.breaches.length === 0) &&
    parked.every((p) => !p.breached) &&
    regionStatus.every((r) => r.alarmsFiring.length === 0 && r.fences.every((f) => !f.fenced));
  return {
    app,
    generatedAt: new Date(now).toISOString(),
    windowMinutes,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    pairs,
    parked,
    regions: regionStatus,
    healthy,
    problems,
  };
}

/** Which thresholds a pair's figures breach (the same comparisons the alarms make, on the window's figures). */
export function breachesOf(p: Omit<PairStatus, 'breaches'>): Breach[] {
  const t = p.thresholds;
  const out: Breach[] = [];
  if (p.lag.p99 !== null && p.lag.p99 > t.lagP99ThresholdMs) out.push('lagP99');
  if (p.lag.max !== null && p.lag.max > t.lagMaxThresholdMs) out.push('lagMax');
  if ((p.dlq.messages ?? 0) > 0) out.push('dlq');
  if (p.backlog.oldestAgeSeconds !== null && p.backlog.oldestAgeSeconds > t.backlogAgeThresholdSeconds) out.push('backlogAge');
  if (p.iteratorAgeMs !== null && p.iteratorAgeMs > t.iteratorAgeThresholdSeconds * 1000) out.push('iteratorAge');
  if (p.errorRatePercent.shipper !== null && p.errorRatePercent.shipper > t.errorRateThresholdPercent) out.push('shipperErrors');
  if (p.errorRatePercent.applier !== null && p.errorRatePercent.applier > t.errorRateThresholdPercent) out.push('applierErrors');
  return out;
}

/**
 * Whether an outage backlog breaches its threshold: changes are parked now (or the live count is
 * unknown) and either the backlog has been non-empty for the alarm's whole minutes, as the
 * `parkedAge` alarm counts, or AWS's oldest-message age (a lower bound) already exceeds it.
 */
export function parkedBreached(p: Omit<ParkedStatus, 'breached'>): boolean {
  if (p.messages !== null && p.messages <= 0) return false;
  const minutes = parkedAlarmMinutes(p.thresholdSeconds);
  return (p.nonEmptySeconds ?? 0) >= minutes * 60 || (p.oldestAgeSeconds ?? 0) > p.thresholdSeconds;
}

/**
 * Seconds the backlog has held a message in every minute up to the newest one with data: whole
 * minutes counted back from the newest while depth (visible + in flight, each the minute's
 * Maximum) is at least 1; a minute with no data ends the run. 0 when the newest minute is empty.
 */
export function nonEmptySeconds(depthByMinute: ReadonlyMap<number, number>): number {
  const minutes = [...depthByMinute.keys()].sort((a, b) => b - a);
  if (minutes.length === 0) return 0;
  let n = 0;
  for (let t = minutes[0]!; (depthByMinute.get(t) ?? 0) >= 1; t -= 60_000) n++;
  return n * 60;
}

function pickThresholds(t: ResolvedThresholds): ResolvedThresholds {
  return {
    lagP99ThresholdMs: t.lagP99ThresholdMs,
    lagEvaluationMinutes: t.lagEvaluationMinutes,
    lagMaxThresholdMs: t.lagMaxThresholdMs,
    backlogAgeThresholdSeconds: t.backlogAgeThresholdSeconds,
    iteratorAgeThresholdSeconds: t.iteratorAgeThresholdSeconds,
    errorRateThresholdPercent: t.errorRateThresholdPercent,
    parkedAgeThresholdSeconds: t.parkedAgeThresholdSeconds,
  };
}

async function collectRegion(
  opts: StatusOptions,
  region: string,
  now: number,
  windowMinutes: number,
  problems: string[],
): Promise<{ figures: Figures; alarmsFiring: string[]; fences: FenceState[] }> {
  const { config } = opts;
  const app = config.appName;
  const tables = config.tables.filter((t) => t.regions.includes(region));
  const figures: Figures = new Map();
  const set = (table: string, kind: string, other: string, v: number | null) => figures.set(`${table}|${kind}|${other}`, v);
  const cw = cloudwatchOf(opts, region);
  // Bound to the region, never routed by the queue URL's host (which an emulator may not serve).
  const queue = sqsOf(opts, region);
  const ddb = dynamodb(opts, region);
  const note = (what: string, e: unknown) => problems.push(`${region}: ${what}: ${(e as Error).message ?? String(e)}`);

  try {
    const functions = await findFunctions(
      opts,
      region,
      app,
      tables.map((t) => t.name),
    ).catch((e) => {
      note('cannot list functions (iterator age and error rates unknown)', e);
      return new Map<string, TableFunctions>();
    });

    // Window aggregates (one period over the whole window) and gauges (latest minute).
    const end = Math.ceil(now / 60_000) * 60_000;
    const start = end - windowMinutes * 60_000;
    const windowQueries: { key: [string, string, string]; q: MetricDataQuery }[] = [];
    const gaugeQueries: { key: [string, string, string]; q: MetricDataQuery }[] = [];
    const windowPeriod = windowMinutes * 60;
    const metricQuery = (namespace: string, name: string, dims: Record<string, string>, stat: string, period: number): MetricDataQuery['MetricStat'] => ({
      Metric: {
        Namespace: namespace,
        MetricName: name,
        Dimensions: Object.keys(dims)
          .sort()
          .map((Name) => ({ Name, Value: dims[Name]! })),
      },
      Period: period,
      Stat: stat,
    });
    const addWindow = (key: [string, string, string], namespace: string, name: string, dims: Record<string, string>, stat: string) =>
      windowQueries.push({ key, q: { Id: `w${windowQueries.length}`, MetricStat: metricQuery(namespace, name, dims, stat, windowPeriod) } });
    const addGauge = (key: [string, string, string], namespace: string, name: string, dims: Record<string, string>, stat: string) =>
      gaugeQueries.push({ key, q: { Id: `g${gaugeQueries.length}`, MetricStat: metricQuery(namespace, name, dims, stat, 60) } });

    for (const t of tables) {
      for (const other of t.regions.filter((r) => r !== region)) {
        const into: Pair = { table: t.name, source: other, target: region };
        const out: Pair = { table: t.name, source: region, target: other };
        addWindow([t.name, 'lagP50', other], METRICS.namespace, PAIR_METRICS.lag.name, pairDimensions(into), 'p50');
        addWindow([t.name, 'lagP99', other], METRICS.namespace, PAIR_METRICS.lag.name, pairDimensions(into), 'p99');
        addWindow([t.name, 'lagMax', other], METRICS.namespace, PAIR_METRICS.lag.name, pairDimensions(into), 'Maximum');
        addWindow([t.name, 'lagSamples', other], METRICS.namespace, PAIR_METRICS.lag.name, pairDimensions(into), 'SampleCount');
        addWindow([t.name, 'applied', other], METRICS.namespace, PAIR_METRICS.applied.name, pairDimensions(into), 'Sum');
        addWindow([t.name, 'stale', other], METRICS.namespace, PAIR_METRICS.stale.name, pairDimensions(into), 'Sum');
        addWindow([t.name, 'shipped', other], METRICS.namespace, PAIR_METRICS.shipped.name, pairDimensions(out), 'Sum');
      }
      addGauge(
        [t.name, 'oldestAge', ''],
        AWS_METRICS.sqs.namespace,
        AWS_METRICS.sqs.oldestAge,
        { [AWS_METRICS.sqs.dimension]: inboundQueueName(app, t.name) },
        'Maximum',
      );
      addGauge(
        [t.name, 'parkedOldestAge', ''],
        AWS_METRICS.sqs.namespace,
        AWS_METRICS.sqs.oldestAge,
        { [AWS_METRICS.sqs.dimension]: backlogQueueName(app, t.name) },
        'Maximum',
      );
      const fns = functions.get(t.name) ?? {};
      const L = AWS_METRICS.lambda;
      if (fns.shipper) {
        addGauge([t.name, 'iteratorAge', ''], L.namespace, L.iteratorAge, { [L.dimension]: fns.shipper }, 'Maximum');
        for (const m of ['errors', 'throttles', 'invocations'] as const)
          addWindow([t.name, `shipper.${m}`, ''], L.namespace, L[m], { [L.dimension]: fns.shipper }, 'Sum');
      }
      if (fns.applier)
        for (const m of ['errors', 'throttles', 'invocations'] as const)
          addWindow([t.name, `applier.${m}`, ''], L.namespace, L[m], { [L.dimension]: fns.applier }, 'Sum');
    }

    // The outage backlog's depth per minute, back as far as the longest parkedAge alarm of these tables looks (+ 2 minutes of CloudWatch delay).
    const depthQueries = tables.flatMap((t) =>
      (['visible', 'inFlight'] as const).map((m) => ({
        table: t.name,
        q: {
          Id: `d${tables.indexOf(t)}_${m}`,
          MetricStat: metricQuery(AWS_METRICS.sqs.namespace, AWS_METRICS.sqs[m], { [AWS_METRICS.sqs.dimension]: backlogQueueName(app, t.name) }, 'Maximum', 60),
        },
      })),
    );
    const depthMinutes = Math.max(windowMinutes, ...tables.map((t) => parkedAlarmMinutes(tableMonitoring(config, t.name).parkedAgeThresholdSeconds) + 2));
    const [windowValues, gaugeValues, depthSeries] = await Promise.all([
      metricData(
        cw,
        windowQueries.map((w) => w.q),
        start,
        end,
      ).catch((e) => {
        note('cannot read CloudWatch metrics', e);
        return new Map<string, number[]>();
      }),
      metricData(
        cw,
        gaugeQueries.map((w) => w.q),
        start,
        end,
      ).catch((e) => {
        note('cannot read CloudWatch metrics', e);
        return new Map<string, number[]>();
      }),
      metricSeries(
        cw,
        depthQueries.map((d) => d.q),
        end - depthMinutes * 60_000,
        end,
      ).catch((e) => {
        note('cannot read CloudWatch metrics', e);
        return undefined;
      }),
    ]);
    if (depthSeries) {
      for (const t of tables) {
        const byMinute = new Map<number, number>();
        for (const d of depthQueries.filter((d) => d.table === t.name)) {
          for (const p of depthSeries.get(d.q.Id!) ?? []) byMinute.set(p.t, (byMinute.get(p.t) ?? 0) + p.v);
        }
        set(t.name, 'parkedNonEmpty', '', nonEmptySeconds(byMinute));
      }
    }
    for (const w of windowQueries) {
      const values = windowValues.get(w.q.Id!) ?? [];
      // A count with no data point means nothing happened in the window: 0, not unknown.
      const isCount = /^(applied|stale|shipped|lagSamples)$|\.(errors|throttles|invocations)$/.test(w.key[1]);
      set(w.key[0], w.key[1], w.key[2], values.length > 0 ? aggregate(w.key[1], values) : isCount ? 0 : null);
    }
    for (const g of gaugeQueries) {
      const values = gaugeValues.get(g.q.Id!) ?? [];
      set(g.key[0], g.key[1], g.key[2], values.length > 0 ? values[0]! : null);
    }
    for (const t of tables) {
      for (const who of ['shipper', 'applier'] as const) {
        const n = (m: string) => figures.get(`${t.name}|${who}.${m}|`);
        const inv = n('invocations');
        const failed = (n('errors') ?? 0) + (n('throttles') ?? 0);
        set(
          t.name,
          `${who}ErrorRate`,
          '',
          inv === undefined || inv === null || inv + (n('throttles') ?? 0) === 0 ? null : (100 * failed) / (inv + (n('throttles') ?? 0)),
        );
      }
    }

    await Promise.all(
      tables.map(async (t) => {
        for (const [kind, name] of [
          ['inbound', inboundQueueName(app, t.name)],
          ['dlq', deadLetterQueueName(app, t.name)],
          ['parked', backlogQueueName(app, t.name)],
        ] as const) {
          try {
            const depth = await queueCountsByName(queue, name);
            set(t.name, `${kind}Visible`, '', depth.visible);
            if (kind === 'inbound') set(t.name, 'inboundInFlight', '', depth.inFlight);
            // A parked change being retried is hidden (the drainer's backoff): still parked.
            if (kind === 'parked') set(t.name, 'parkedMessages', '', depth.visible + depth.inFlight);
          } catch (e) {
            note(`cannot read queue ${name}`, e);
          }
        }
      }),
    );

    const alarmsFiring = await firingAlarms(cw, app).catch((e) => {
      note('cannot read alarm states', e);
      return [];
    });
    const fences = await readFences(
      ddb,
      app,
      tables.map((t) => t.name),
    ).catch((e) => {
      note('cannot read write fences', e);
      return [];
    });
    return { figures, alarmsFiring, fences };
  } finally {
    cw.destroy();
    queue.destroy();
    ddb.destroy();
  }
}

/** Lag percentiles over one period come back as one value; anything else is summed or maxed over the periods returned. */
function aggregate(kind: string, values: number[]): number {
  if (kind === 'lagMax') return Math.max(...values);
  if (kind === 'lagP50' || kind === 'lagP99') return values[0]!;
  return values.reduce((a, b) => a + b, 0);
}

/** Values per query id, newest first (GetMetricData takes at most 500 queries per call). */
async function metricData(cw: CloudWatchClient, queries: MetricDataQuery[], start: number, end: number): Promise<Map<string, number[]>> {
  const series = await metricSeries(cw, queries, start, end);
  return new Map([...series].map(([id, points]) => [id, points.map((p) => p.v)]));
}

/** Points (timestamp ms, value) per query id, newest first. */
async function metricSeries(cw: CloudWatchClient, queries: MetricDataQuery[], start: number, end: number): Promise<Map<string, MetricPoint[]>> {
  const out = new Map<string, MetricPoint[]>();
  for (const r of await getMetricData(cw, queries, start, end))
    out.set(
      r.id,
      [...(out.get(r.id) ?? []), ...r.points].sort((a, b) => b.t - a.t),
    );
  return out;
}

async function queueCountsByName(client: SQSClient, name: string): Promise<QueueCounts> {
  const url = (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
  return queueCounts(client, url);
}

async function firingAlarms(cw: CloudWatchClient, app: string): Promise<string[]> {
  const alarms = await describeAlarms(cw, { prefix: `${app}/`, state: 'ALARM' });
  return alarms
    .map((a) => a.AlarmName!)
    .filter(Boolean)
    .sort();
}

async function readFences(client: DynamoDBClient, app: string, tables: readonly string[]): Promise<FenceState[]> {
  const out: FenceState[] = [];
  for (const table of tables) {
    try {
      const res = await client.send(
        new QueryCommand({
          TableName: fenceTableName(app),
          KeyConditionExpression: '#t = :t',
          ExpressionAttributeNames: { '#t': FENCE_KEY.table },
          ExpressionAttributeValues: { ':t': { S: table } },
          ConsistentRead: true,
        }),
      );
      const state = fenceStateOf(table, res.Items ?? []);
      if (state.fenced) out.push(state);
    } catch (e) {
      // No fence table: no table of this region fences.
      if ((e as { name?: string }).name === 'ResourceNotFoundException') return out;
      throw e;
    }
  }
  return out;
}

/**
 * The shipper and applier function of each table in `region`, found by the settings the stack
 * gave them (function names are generated by CloudFormation): a shipper sends to the table's
 * inbound queues, an applier dead-letters to the table's DLQ.
 */
async function findFunctions(t: Target, region: string, app: string, tables: readonly string[]): Promise<Map<string, TableFunctions>> {
  const out = new Map<string, TableFunctions>();
  const client = new LambdaClient(clientConfig(t, region));
  try {
    const all: FunctionConfiguration[] = [];
    for await (const page of paginateListFunctions({ client }, {})) all.push(...(page.Functions ?? []));
    for (const fn of all) {
      const raw = fn.Environment?.Variables?.[ENV.settings];
      if (!raw || !fn.FunctionName) continue;
      let s: FunctionSettings;
      try {
        s = JSON.parse(raw) as FunctionSettings;
      } catch {
        continue;
      }
      if (!tables.includes(s.logicalTable) || s.region !== region) continue;
      const entry = out.get(s.logicalTable) ?? {};
      if (s.targets?.some((x) => x.queueUrl.endsWith(`/${inboundQueueName(app, s.logicalTable)}`))) entry.shipper = fn.FunctionName;
      else if (s.deadLetterQueueUrl?.endsWith(`/${deadLetterQueueName(app, s.logicalTable)}`)) entry.applier = fn.FunctionName;
      out.set(s.logicalTable, entry);
    }
    return out;
  } finally {
    client.destroy();
  }
}
