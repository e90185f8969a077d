/**
 * The alarms of one replicated table in one region, from the table's resolved thresholds:
 *
 * | kind | metric (this region) | fires when |
 * |---|---|---|
 * | lagP99 (per source) | RegionSync ReplicationLagMs p99, 1 min | above lagP99ThresholdMs in lagEvaluationMinutes consecutive minutes |
 * | lagMax (per source) | RegionSync ReplicationLagMs Maximum, 1 min | above lagMaxThresholdMs in one minute |
 * | dlq | AWS/SQS ApproximateNumberOfMessagesVisible of the DLQ, Maximum | any message |
 * | backlogAge | AWS/SQS ApproximateAgeOfOldestMessage of the inbound queue, Maximum | above backlogAgeThresholdSeconds |
 * | iteratorAge | AWS/Lambda IteratorAge of the shipper, Maximum | above iteratorAgeThresholdSeconds |
 * | shipperErrors, applierErrors | (Errors + Throttles) / (Invocations + Throttles), 5 min | above errorRateThresholdPercent |
 * | parkedAge | AWS/SQS visible + not visible of the outage backlog, Maximum, 1 min | ≥ 1 in each of ceil(parkedAgeThresholdSeconds / 60) consecutive minutes |
 * | clockSkew (per source) | RegionSync ChangesAheadOfClock Sum, 1 min | any change from the source beyond maxClockOffsetSeconds ahead of this region's clock |
 * | streamFailures | AWS/SQS ApproximateNumberOfMessagesVisible of the stream-failures queue, Maximum | any message |
 *
 * `parkedAge` is how long the source region's outage backlog (changes parked for an unreachable
 * target) has not been empty, not the queue's ApproximateAgeOfOldestMessage: SQS leaves out of
 * that metric every message received three times or more without being deleted, which is what the
 * drainer does to each parked change while its target is down (it retries it every ≤ 30 s). The
 * age metric would show only the changes parked in the last few seconds and never fire in a
 * long outage. A depth alarm with its own threshold would add nothing: any depth is a target
 * that is down or flapping, and how long is what matters (the backlog keeps changes 14 days).
 *
 * Missing data never fires: no traffic is not a fault, and a stalled pipeline still shows in the
 * backlog and iterator ages. Each alarm notifies `actions` on ALARM and OK, and the fence action
 * too when the table fences on that kind.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { alarmName, type AlarmKind } from '../../core/metrics.ts';
import { parkedAlarmMinutes } from '../config/monitoring.ts';
import type { ResolvedTableConfig, ResolvedTableMonitoring } from '../config/schema.ts';
import { errorRate, functionMetric, pairMetric, parkedDepth, queueMetric } from './monitoring-metrics.ts';
import type { ReplicatedTable } from './replicated-table.ts';

/** Properties of {@link ReplicationAlarms}. */
export interface ReplicationAlarmsProps {
  readonly appName: string;
  readonly table: ResolvedTableConfig;
  /** This stack's region. */
  readonly region: string;
  readonly replicated: ReplicatedTable;
  readonly thresholds: ResolvedTableMonitoring;
  /** Notified on ALARM and OK (the region's alarm topic). */
  readonly actions: readonly cloudwatch.IAlarmAction[];
  /**
   * Added to the alarms whose kind is in `thresholds.fenceOn` (the region's write fence).
   * @default none: the alarms notify `actions` only
   */
  readonly fenceAction?: cloudwatch.IAlarmAction;
}

/** One alarm of {@link ReplicationAlarms}: its kind, its source region for per-pair kinds, and its name. */
export interface ReplicationAlarm {
  readonly kind: AlarmKind;
  /**
   * Per-pair alarms (lagP99, lagMax, clockSkew): the source region.
   * @default undefined for the alarms of the table as a whole (dlq, backlogAge, iteratorAge, parkedAge, streamFailures, shipperErrors, applierErrors)
   */
  readonly sourceRegion?: string;
  /** The alarm's name as a plain string (`alarm.alarmName` is a reference to the resource). */
  readonly name: string;
  readonly alarm: cloudwatch.Alarm;
}

/** The alarms of one replicated table in one region (the table in the file comment), named by `alarmName` (src/core/metrics.ts). */
export class ReplicationAlarms extends Construct {
  public readonly alarms: readonly ReplicationAlarm[];

  constructor(scope: Construct, id: string, props: ReplicationAlarmsProps) {
    super(scope, id);
    const { appName, table, region, replicated, thresholds: t } = props;
    const alarms: ReplicationAlarm[] = [];
    const add = (kind: AlarmKind, sourceRegion: string | undefined, build: (name: string) => cloudwatch.Alarm) => {
      const name = alarmName(appName, table.name, kind, sourceRegion);
      const alarm = build(name);
      for (const action of props.actions) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
      if (props.fenceAction && t.fenceOn.includes(kind)) {
        alarm.addAlarmAction(props.fenceAction);
        alarm.addOkAction(props.fenceAction);
      }
      alarms.push({ kind, ...(sourceRegion ? { sourceRegion } : {}), name, alarm });
    };
    const common = {
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };

    for (const source of table.regions.filter((r) => r !== region)) {
      const pair = { table: table.name, source, target: region };
      const id = `From${pascal(source)}`;
      add(
        'lagP99',
        source,
        (alarmName) =>
          new cloudwatch.Alarm(this, `LagP99${id}`, {
            ...common,
            alarmName,
            alarmDescription: `regionsync ${table.name}: p99 replication lag ${source} → ${region} above ${t.lagP99ThresholdMs} ms for ${t.lagEvaluationMinutes} min`,
            metric: pairMetric(pair, 'lag', 'p99'),
            threshold: t.lagP99ThresholdMs,
            evaluationPeriods: t.lagEvaluationMinutes,
            datapointsToAlarm: t.lagEvaluationMinutes,
          }),
      );
      add(
        'lagMax',
        source,
        (alarmName) =>
          new cloudwatch.Alarm(this, `LagMax${id}`, {
            ...common,
            alarmName,
            alarmDescription: `regionsync ${table.name}: a change from ${source} took more than ${t.lagMaxThresholdMs} ms to apply in ${region}`,
            metric: pairMetric(pair, 'lag', 'Maximum'),
            threshold: t.lagMaxThresholdMs,
            evaluationPeriods: 1,
          }),
      );
      // No threshold to tune: NTP-synced clocks never come near the bound, so one such change is a clock to fix.
      add(
        'clockSkew',
        source,
        (alarmName) =>
          new cloudwatch.Alarm(this, `ClockSkew${id}`, {
            ...common,
            alarmName,
            alarmDescription:
              `regionsync ${table.name}: a change from ${source} was more than ${table.maxClockOffsetSeconds} s (maxClockOffsetSeconds) ahead of ${region}'s clock; ` +
              `it waits for the clock (or is in the DLQ with the reason): check the clocks of ${source} and of the application hosts writing there`,
            metric: pairMetric(pair, 'aheadOfClock', 'Sum'),
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            threshold: 1,
            evaluationPeriods: 1,
          }),
      );
    }
    add(
      'dlq',
      undefined,
      (alarmName) =>
        new cloudwatch.Alarm(this, 'DeadLetters', {
          ...common,
          alarmName,
          alarmDescription: `regionsync ${table.name}: messages in the dead-letter queue in ${region} (changes that could not be applied; each carries its reason)`,
          metric: queueMetric(appName, table.name, region, 'dlq', 'visible'),
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          threshold: 1,
          evaluationPeriods: 1,
        }),
    );
    add(
      'backlogAge',
      undefined,
      (alarmName) =>
        new cloudwatch.Alarm(this, 'BacklogAge', {
          ...common,
          alarmName,
          alarmDescription: `regionsync ${table.name}: oldest change waiting in ${region}'s inbound queue is older than ${t.backlogAgeThresholdSeconds} s`,
          metric: queueMetric(appName, table.name, region, 'inbound', 'oldestAge'),
          threshold: t.backlogAgeThresholdSeconds,
          evaluationPeriods: 1,
        }),
    );
    add(
      'iteratorAge',
      undefined,
      (alarmName) =>
        new cloudwatch.Alarm(this, 'IteratorAge', {
          ...common,
          alarmName,
          alarmDescription: `regionsync ${table.name}: the shipper in ${region} is more than ${t.iteratorAgeThresholdSeconds} s behind its stream (records expire after 24 h)`,
          metric: functionMetric(replicated.shipper, 'iteratorAge', 'Maximum'),
          threshold: t.iteratorAgeThresholdSeconds * 1000,
          evaluationPeriods: 1,
        }),
    );
    // Not in DEFAULT_FENCE_ON (src/infra/config/monitoring.ts): this region is healthy and keeps shipping to the other targets.
    const parkedMinutes = parkedAlarmMinutes(t.parkedAgeThresholdSeconds);
    add(
      'parkedAge',
      undefined,
      (alarmName) =>
        new cloudwatch.Alarm(this, 'ParkedAge', {
          ...common,
          alarmName,
          alarmDescription: `regionsync ${table.name}: changes for an unreachable target region have been parked in ${region}'s outage backlog for ${parkedMinutes} min (the backlog keeps them 14 days; they drain when the target is back)`,
          metric: parkedDepth(appName, table.name, region),
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          threshold: 1,
          evaluationPeriods: parkedMinutes,
          datapointsToAlarm: parkedMinutes,
        }),
    );
    // Any message is a change that did not replicate, and the stream drops the records a Lambda
    // on-failure record names 24 h after they were written: redrive them before that.
    add(
      'streamFailures',
      undefined,
      (alarmName) =>
        new cloudwatch.Alarm(this, 'StreamFailures', {
          ...common,
          alarmName,
          alarmDescription: `regionsync ${table.name}: stream records in ${region} that did not replicate (a batch the shipper's stream mapping gave up on, or an item with no room for regionsync's metadata); fix the cause, then regionsync redrive --stream-failures --region ${region} (within 24 h of the write for discarded batches)`,
          metric: queueMetric(appName, table.name, region, 'streamFailures', 'visible'),
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          threshold: 1,
          evaluationPeriods: 1,
        }),
    );
    const fiveMinutes = Duration.minutes(5);
    for (const [kind, fn, what] of [
      ['shipperErrors', replicated.shipper, 'shipper'],
      ['applierErrors', replicated.applier, 'applier'],
    ] as const) {
      add(
        kind,
        undefined,
        (alarmName) =>
          new cloudwatch.Alarm(this, kind === 'shipperErrors' ? 'ShipperErrorRate' : 'ApplierErrorRate', {
            ...common,
            alarmName,
            alarmDescription: `regionsync ${table.name}: more than ${t.errorRateThresholdPercent}% of the ${what}'s invocations in ${region} failed or were throttled over 5 min`,
            metric: errorRate(fn, fiveMinutes, `${what} error rate (%)`),
            threshold: t.errorRateThresholdPercent,
            evaluationPeriods: 1,
          }),
      );
    }
    this.alarms = alarms;
  }

  /** The alarm of `kind` (and source region, for per-pair kinds). */
  get(kind: AlarmKind, sourceRegion?: string): cloudwatch.Alarm | undefined {
    return this.alarms.find((a) => a.kind === kind && a.sourceRegion === sourceRegion)?.alarm;
  }
}

/** Every alarm regionsync creates for `table` in `region`, in creation order: what the global dashboard and `status` address by name. */
export function alarmPlan(table: Pick<ResolvedTableConfig, 'name' | 'regions'>, region: string): { kind: AlarmKind; sourceRegion?: string }[] {
  const sources = table.regions.filter((r) => r !== region);
  return [
    ...sources.flatMap((sourceRegion) => [
      { kind: 'lagP99' as const, sourceRegion },
      { kind: 'lagMax' as const, sourceRegion },
      { kind: 'clockSkew' as const, sourceRegion },
    ]),
    ...(['dlq', 'backlogAge', 'iteratorAge', 'parkedAge', 'streamFailures', 'shipperErrors', 'applierErrors'] as const).map((kind) => ({ kind })),
  ];
}

function pascal(region: string): string {
  return region
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}
