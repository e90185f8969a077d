/**
 * Plays CloudWatch's alarm evaluation for the local environment. moto skips
 * `AWS::CloudWatch::Alarm` in templates and never evaluates an alarm, so this reads the alarms the
 * CDK app synthesized from each region's deployed stack (GetTemplate, nested stacks included),
 * creates them with PutMetricAlarm (names, descriptions, metrics, thresholds as synthesized; no
 * actions: moto would deliver none), then every `intervalMs` evaluates each against GetMetricData
 * and sets its state (SetAlarmState) when it changes. Whatever reads alarms (DescribeAlarms:
 * `regionsync status`, the ops console) then works locally as it does on AWS.
 *
 * Evaluation, as CloudWatch's for these alarms: the last `EvaluationPeriods` periods, ALARM when
 * at least `DatapointsToAlarm` of them breach the threshold, OK otherwise; a missing point
 * breaches only with TreatMissingData `breaching`. One difference, for a local feedback loop:
 * the period in progress counts too (CloudWatch waits for a period to end), so an alarm fires
 * seconds after its metric crosses, not minutes; it returns to OK when CloudWatch's window (the
 * last complete periods) is clear as well.
 */
import { CloudFormationClient, GetTemplateCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchClient,
  type ComparisonOperator,
  type MetricDataQuery,
  PutMetricAlarmCommand,
  type PutMetricAlarmCommandInput,
  SetAlarmStateCommand,
  type StateValue,
} from '@aws-sdk/client-cloudwatch';
import { stackName } from '../../src/core/contract.ts';
import { errorMessage } from '../../src/core/errors.ts';
import { accountOf, EMULATOR_CREDENTIALS } from '../../src/ops/aws.ts';
import { getMetricData, type MetricPoint } from '../../src/ops/cloudwatch-read.ts';
import { resolveIntrinsic } from './discovery.ts';
import type { RuntimeLogger } from './poller-common.ts';

export interface AlarmEvaluatorOptions {
  readonly endpoint: string;
  readonly appName: string;
  readonly regions: readonly string[];
  /** Between evaluations. @default 10000 */
  readonly intervalMs?: number;
  readonly log?: RuntimeLogger;
  /** Clock, epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** One alarm as created in the emulator, and what it was last set to. */
export interface LocalAlarm {
  readonly region: string;
  readonly name: string;
  readonly input: PutMetricAlarmCommandInput;
  state: StateValue | undefined;
}

/** Comparison operators of metric alarms (CloudWatch's names). */
const COMPARE: Readonly<Record<string, { test: (v: number, t: number) => boolean; text: string }>> = {
  GreaterThanThreshold: { test: (v, t) => v > t, text: 'greater than' },
  GreaterThanOrEqualToThreshold: { test: (v, t) => v >= t, text: 'greater than or equal to' },
  LessThanThreshold: { test: (v, t) => v < t, text: 'less than' },
  LessThanOrEqualToThreshold: { test: (v, t) => v <= t, text: 'less than or equal to' },
};

/** Creates the app's synthesized alarms in the emulator and evaluates them until `stop()`. */
export class AlarmEvaluator {
  private readonly clients = new Map<string, CloudWatchClient>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  private constructor(
    private readonly o: AlarmEvaluatorOptions,
    readonly alarms: readonly LocalAlarm[],
  ) {}

  /** Reads every region's alarms from its stack, creates them, evaluates once, then keeps evaluating. */
  static async start(o: AlarmEvaluatorOptions): Promise<AlarmEvaluator> {
    const account = await accountOf({ endpoint: o.endpoint }, o.regions[0] ?? 'us-east-1');
    const alarms = (await Promise.all(o.regions.map((region) => synthesizedAlarms(o, region, account)))).flat();
    const evaluator = new AlarmEvaluator(o, alarms);
    for (const a of alarms) await evaluator.client(a.region).send(new PutMetricAlarmCommand(a.input));
    await evaluator.evaluate();
    evaluator.timer = setInterval(() => {
      if (!evaluator.running) evaluator.running = evaluator.evaluate().finally(() => (evaluator.running = undefined));
    }, o.intervalMs ?? 10_000);
    evaluator.timer.unref();
    o.log?.('info', `alarm evaluator: ${alarms.length} alarm(s) in ${o.regions.join(', ')}, every ${(o.intervalMs ?? 10_000) / 1000} s`);
    return evaluator;
  }

  /** Evaluates every alarm once and sets the states that changed. */
  async evaluate(): Promise<void> {
    await Promise.all(
      this.alarms.map(async (a) => {
        if (this.stopped) return;
        try {
          const next = await this.evaluateOne(a);
          if (next.state === a.state || this.stopped) return;
          await this.client(a.region).send(
            new SetAlarmStateCommand({ AlarmName: a.name, StateValue: next.state, StateReason: next.reason, StateReasonData: JSON.stringify(next.data) }),
          );
          this.o.log?.('info', `alarm ${a.name} in ${a.region}: ${a.state ?? 'INSUFFICIENT_DATA'} → ${next.state} (${next.reason})`);
          a.state = next.state;
        } catch (e) {
          this.o.log?.('warn', `alarm evaluator: cannot evaluate ${a.name} in ${a.region}: ${errorMessage(e)}`);
        }
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    for (const c of this.clients.values()) c.destroy();
  }

  private client(region: string): CloudWatchClient {
    let c = this.clients.get(region);
    if (!c) this.clients.set(region, (c = new CloudWatchClient({ region, endpoint: this.o.endpoint, credentials: EMULATOR_CREDENTIALS, maxAttempts: 2 })));
    return c;
  }

  private async evaluateOne(a: LocalAlarm): Promise<{ state: StateValue; reason: string; data: unknown }> {
    const input = a.input;
    const period = alarmPeriod(input);
    const n = input.EvaluationPeriods ?? 1;
    const m = input.DatapointsToAlarm ?? n;
    const now = (this.o.now ?? Date.now)();
    const p = period * 1000;
    // Two windows of n periods: ending with the period in progress, and ending with the last complete one (CloudWatch's).
    const end = Math.floor(now / p) * p + p;
    const start = end - (n + 1) * p;
    const results = await getMetricData(this.client(a.region), alarmQueries(input, period), start, end);
    const all: MetricPoint[] = results.flatMap((r) => r.points).filter((x) => x.t >= start && x.t < end);
    const compare = COMPARE[input.ComparisonOperator ?? ''];
    if (!compare) throw new Error(`comparison operator ${input.ComparisonOperator} is not evaluated locally`);
    const threshold = input.Threshold ?? 0;
    const judge = (from: number, to: number) => {
      const points = all.filter((x) => x.t >= from && x.t < to);
      const missing = Math.max(0, n - points.length);
      return { points, breaching: points.filter((x) => compare.test(x.v, threshold)).length + (input.TreatMissingData === 'breaching' ? missing : 0) };
    };
    const current = judge(end - n * p, end);
    const complete = judge(start, end - p);
    // Fires as soon as the period in progress breaches; returns to OK only once CloudWatch's window (complete periods) is clear too.
    const firing = current.breaching >= m ? current : complete.breaching >= m ? complete : undefined;
    const state: StateValue = firing ? 'ALARM' : 'OK';
    const { points, breaching } = firing ?? current;
    const shown = points.map((x) => `${x.v} (${new Date(x.t).toISOString().slice(11, 19)})`).join(', ');
    const reason =
      points.length === 0
        ? `Threshold Crossed: no datapoints were received for ${n} period(s) (treated as ${input.TreatMissingData === 'breaching' ? 'breaching' : 'not breaching'}).`
        : `Threshold Crossed: ${breaching} out of the last ${n} datapoints [${shown}] ${breaching === 1 ? 'was' : 'were'} ${compare.text} the threshold (${threshold}) (minimum ${m} datapoint${m === 1 ? '' : 's'} for OK -> ALARM transition).`;
    return {
      state,
      reason,
      data: {
        version: '1.0',
        queryDate: new Date(now).toISOString(),
        period,
        threshold,
        recentDatapoints: points.map((p) => p.v),
        evaluatedDatapoints: points.length,
      },
    };
  }
}

/** The period an alarm evaluates, s: its own, or its metrics' (math alarms). */
function alarmPeriod(input: PutMetricAlarmCommandInput): number {
  if (input.Period) return input.Period;
  return Math.max(60, ...(input.Metrics ?? []).map((q) => q.MetricStat?.Period ?? q.Period ?? 0));
}

/** An alarm's GetMetricData queries: its Metrics (math alarms) or its one metric. */
function alarmQueries(input: PutMetricAlarmCommandInput, period: number): MetricDataQuery[] {
  if (input.Metrics?.length) return input.Metrics.map((q) => ({ ...q }));
  return [
    {
      Id: 'm',
      MetricStat: {
        Metric: { Namespace: input.Namespace, MetricName: input.MetricName, Dimensions: input.Dimensions ?? [] },
        Period: period,
        Stat: input.ExtendedStatistic ?? input.Statistic ?? 'Average',
      },
      ReturnData: true,
    },
  ];
}

/** The AWS::CloudWatch::Alarm resources of the app's stack in `region` and its nested stacks, resolved, as PutMetricAlarm inputs. */
async function synthesizedAlarms(o: AlarmEvaluatorOptions, region: string, accountId: string): Promise<LocalAlarm[]> {
  const cfn = new CloudFormationClient({ region, endpoint: o.endpoint, credentials: EMULATOR_CREDENTIALS, maxAttempts: 2 });
  try {
    const out: LocalAlarm[] = [];
    const visit = async (stack: string): Promise<void> => {
      const template = JSON.parse((await cfn.send(new GetTemplateCommand({ StackName: stack }))).TemplateBody ?? '{}') as {
        Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> }>;
      };
      const physical = new Map<string, string>();
      const nested: string[] = [];
      let token: string | undefined;
      do {
        const page = await cfn.send(new ListStackResourcesCommand({ StackName: stack, NextToken: token }));
        for (const r of page.StackResourceSummaries ?? []) {
          if (r.LogicalResourceId && r.PhysicalResourceId) physical.set(r.LogicalResourceId, r.PhysicalResourceId);
          if (r.ResourceType === 'AWS::CloudFormation::Stack' && r.PhysicalResourceId) nested.push(r.PhysicalResourceId);
        }
        token = page.NextToken;
      } while (token);
      const resolve = (v: unknown): unknown => resolveValue(v, { accountId, region, stackName: stack, physical });
      for (const [logicalId, r] of Object.entries(template.Resources ?? {})) {
        if (r.Type !== 'AWS::CloudWatch::Alarm' || !r.Properties) continue;
        const p = resolve(r.Properties) as Record<string, unknown>;
        const name = typeof p.AlarmName === 'string' ? p.AlarmName : undefined;
        if (!name?.startsWith(`${o.appName}/`)) continue;
        const input: PutMetricAlarmCommandInput = {
          AlarmName: name,
          ...(typeof p.AlarmDescription === 'string' ? { AlarmDescription: p.AlarmDescription } : {}),
          ActionsEnabled: false,
          ComparisonOperator: p.ComparisonOperator as ComparisonOperator,
          EvaluationPeriods: Number(p.EvaluationPeriods),
          ...(p.DatapointsToAlarm !== undefined ? { DatapointsToAlarm: Number(p.DatapointsToAlarm) } : {}),
          Threshold: Number(p.Threshold),
          ...(typeof p.TreatMissingData === 'string' ? { TreatMissingData: p.TreatMissingData } : {}),
          ...(p.Metrics
            ? { Metrics: p.Metrics as MetricDataQuery[] }
            : {
                Namespace: p.Namespace as string,
                MetricName: p.MetricName as string,
                Dimensions: (p.Dimensions ?? []) as { Name: string; Value: string }[],
                Period: Number(p.Period),
                ...(p.ExtendedStatistic ? { ExtendedStatistic: p.ExtendedStatistic as string } : { Statistic: p.Statistic as 'Maximum' }),
              }),
        };
        if (JSON.stringify(input).includes('"Fn::') || JSON.stringify(input).includes('{"Ref"'))
          throw new Error(`alarm ${name} (${logicalId} in ${stack}): a property refers to something the evaluator cannot resolve`);
        out.push({ region, name, input, state: undefined });
      }
      for (const child of nested) await visit(child);
    };
    await visit(stackName(o.appName, region));
    return out;
  } finally {
    cfn.destroy();
  }
}

/** Resolves Ref (resources of the stack, pseudo parameters) and Fn::Join/Fn::Sub deep inside a value; leaves what it cannot as is. */
function resolveValue(v: unknown, ctx: { accountId: string; region: string; stackName: string; physical: ReadonlyMap<string, string> }): unknown {
  if (Array.isArray(v)) return v.map((x) => resolveValue(x, ctx));
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0] === 'Ref' && ctx.physical.has(String(o.Ref))) return ctx.physical.get(String(o.Ref));
  if (keys.length === 1 && keys[0] === 'Fn::Join') {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    const resolved = parts.map((p) => resolveValue(p, ctx));
    if (resolved.every((p) => typeof p === 'string')) return resolved.join(sep);
  }
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Fn::Sub')) {
    const r = resolveIntrinsic(o, { accountId: ctx.accountId, region: ctx.region, stackName: ctx.stackName, resources: {} });
    if (r !== undefined) return r;
    return o;
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolveValue(x, ctx)]));
}
