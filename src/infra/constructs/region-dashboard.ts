/**
 * One CloudWatch dashboard per region (`<app>-<region>`): for each table, the lag of every pair
 * into this region with the alarm thresholds drawn, throughput, conflicts and dead-lettered
 * changes (and changes held back by the clock bound), the inbound backlog and DLQ, the shipper's iterator age, errors and throttles, the
 * outage backlog (changes parked here for unreachable targets); then the state of every alarm in
 * the region.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { regionDashboardName } from '../../core/contract.ts';
import type { ResolvedTableConfig, ResolvedTableMonitoring } from '../config/schema.ts';
import { functionMetric, pairMetric, parkedDepth, queueMetric, sourceSearch, tableSearch } from './monitoring-metrics.ts';
import type { ReplicatedTable } from './replicated-table.ts';
import { fleetWidgets } from './fleet-widgets.ts';

/** One table as a region's dashboard draws it: its config, its constructs here (for the functions' metrics) and its thresholds (drawn as alarm lines). */
export interface DashboardTable {
  readonly config: ResolvedTableConfig;
  readonly replicated: ReplicatedTable;
  readonly thresholds: ResolvedTableMonitoring;
}

/** Properties of {@link RegionDashboard}. */
export interface RegionDashboardProps {
  readonly appName: string;
  readonly region: string;
  readonly tables: readonly DashboardTable[];
  /**
   * Alarms shown in the alarm status widgets (at most {@link ALARMS_PER_WIDGET} per widget).
   * @default no alarm status widget
   */
  readonly alarms?: readonly cloudwatch.IAlarm[];
  /**
   * One set of widgets over every table (SEARCH expressions, fleet-widgets.ts) instead of a
   * section per table: for apps with many tables.
   * @default false
   */
  readonly fleet?: boolean;
}

/** A region's dashboard name, `<appName>-<region>` (named in the contract: the ops console reads it). */
export { regionDashboardName };

/** An alarm status widget holds at most 100 alarms. */
export const ALARMS_PER_WIDGET = 100;

/** One region's dashboard (see the file comment): a section per table, or with `fleet` one set of widgets over all of them, then the alarms' states. */
export class RegionDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: RegionDashboardProps) {
    super(scope, id);
    const { appName, region } = props;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: regionDashboardName(appName, region),
    });
    if (props.fleet)
      this.dashboard.addWidgets(
        ...fleetWidgets(
          appName,
          region,
          props.tables.map((t) => t.thresholds),
        ),
      );
    else for (const t of props.tables) this.dashboard.addWidgets(...tableWidgets(appName, region, t));
    for (const w of alarmStatusWidgets(`Alarms in ${region}`, props.alarms ?? [])) this.dashboard.addWidgets(w);
  }
}

function tableWidgets(appName: string, region: string, t: DashboardTable): cloudwatch.IWidget[] {
  const { config, replicated, thresholds } = t;
  const name = config.name;
  const sources = config.regions.filter((r) => r !== region);
  const pairsIn = sources.map((source) => ({ table: name, source, target: region }));
  const pairsOut = sources.map((target) => ({ table: name, source: region, target }));
  const lag = new cloudwatch.GraphWidget({
    title: `${name}: replication lag into ${region} (ms)`,
    width: 8,
    left: pairsIn.flatMap((p) => [
      pairMetric(p, 'lag', 'p99', { label: `p99 from ${p.source}` }),
      pairMetric(p, 'lag', 'p50', { label: `p50 from ${p.source}` }),
    ]),
    right: pairsIn.map((p) => pairMetric(p, 'lag', 'Maximum', { label: `max from ${p.source}` })),
    leftAnnotations: [
      {
        value: thresholds.lagP99ThresholdMs,
        label: `p99 alarm (${thresholds.lagP99ThresholdMs} ms for ${thresholds.lagEvaluationMinutes} min)`,
        color: cloudwatch.Color.RED,
      },
    ],
    rightAnnotations: [{ value: thresholds.lagMaxThresholdMs, label: `max alarm (${thresholds.lagMaxThresholdMs} ms)`, color: cloudwatch.Color.ORANGE }],
    leftYAxis: { min: 0, showUnits: false },
    rightYAxis: { min: 0, showUnits: false },
  });
  const throughput = new cloudwatch.GraphWidget({
    title: `${name}: changes per minute`,
    width: 8,
    left: [
      ...pairsIn.map((p) => pairMetric(p, 'applied', 'Sum', { label: `applied from ${p.source}` })),
      ...pairsIn.map((p) => pairMetric(p, 'stale', 'Sum', { label: `stale from ${p.source}` })),
      ...pairsOut.map((p) => pairMetric(p, 'shipped', 'Sum', { label: `shipped to ${p.target}` })),
    ],
    leftYAxis: { min: 0, showUnits: false },
  });
  const conflicts = new cloudwatch.GraphWidget({
    title: `${name}: conflicts and dead-lettered changes in ${region}; changes held back by the clock bound (right)`,
    width: 8,
    left: [tableSearch('conflicts', name, region, 'conflicts'), tableSearch('deadLettered', name, region, 'dead-lettered')],
    // Clock bound (maxClockOffsetSeconds): changes held back for their source's clock, client writes restamped for their host's.
    right: [
      ...pairsIn.map((p) => pairMetric(p, 'aheadOfClock', 'Sum', { label: `ahead of clock from ${p.source}` })),
      sourceSearch('restamped', name, region, 'client writes restamped (host clock ahead)'),
    ],
    rightAnnotations: [{ value: 1, label: `clock skew alarm (beyond ${config.maxClockOffsetSeconds} s)`, color: cloudwatch.Color.RED }],
    leftYAxis: { min: 0, showUnits: false },
    rightYAxis: { min: 0, showUnits: false },
  });
  const backlog = new cloudwatch.GraphWidget({
    title: `${name}: inbound backlog in ${region}`,
    width: 6,
    left: [
      queueMetric(appName, name, region, 'inbound', 'visible', 'Maximum', 'waiting'),
      queueMetric(appName, name, region, 'inbound', 'inFlight', 'Maximum', 'in flight'),
    ],
    right: [queueMetric(appName, name, region, 'inbound', 'oldestAge', 'Maximum', 'oldest (s)')],
    rightAnnotations: [
      { value: thresholds.backlogAgeThresholdSeconds, label: `backlog age alarm (${thresholds.backlogAgeThresholdSeconds} s)`, color: cloudwatch.Color.RED },
    ],
    leftYAxis: { min: 0, showUnits: false },
    rightYAxis: { min: 0, showUnits: false },
  });
  const dlq = new cloudwatch.GraphWidget({
    title: `${name}: dead-letter queue in ${region}`,
    width: 6,
    left: [queueMetric(appName, name, region, 'dlq', 'visible', 'Maximum', 'messages')],
    leftAnnotations: [{ value: 1, label: 'DLQ alarm (any message)', color: cloudwatch.Color.RED }],
    leftYAxis: { min: 0, showUnits: false },
  });
  const iterator = new cloudwatch.GraphWidget({
    title: `${name}: shipper iterator age in ${region} (ms)`,
    width: 6,
    left: [functionMetric(replicated.shipper, 'iteratorAge', 'Maximum', undefined, 'iterator age')],
    leftAnnotations: [
      {
        value: thresholds.iteratorAgeThresholdSeconds * 1000,
        label: `iterator age alarm (${thresholds.iteratorAgeThresholdSeconds} s)`,
        color: cloudwatch.Color.RED,
      },
    ],
    leftYAxis: { min: 0, showUnits: false },
  });
  const errors = new cloudwatch.GraphWidget({
    title: `${name}: errors and throttles in ${region}`,
    width: 6,
    left: [
      functionMetric(replicated.shipper, 'errors', 'Sum', undefined, 'shipper errors'),
      functionMetric(replicated.shipper, 'throttles', 'Sum', undefined, 'shipper throttles'),
      functionMetric(replicated.applier, 'errors', 'Sum', undefined, 'applier errors'),
      functionMetric(replicated.applier, 'throttles', 'Sum', undefined, 'applier throttles'),
    ],
    leftYAxis: { min: 0, showUnits: false },
  });
  // One queue per table and source region, shared by every target (a message's `target` attribute
  // says which): depth and age are per queue; parked and drained per minute show the traffic.
  const parked = new cloudwatch.GraphWidget({
    title: `${name}: outage backlog in ${region} (changes parked for unreachable targets: ${sources.join(', ')})`,
    width: 24,
    left: [
      parkedDepth(appName, name, region, 'parked (waiting or being retried)'),
      sourceSearch('backlogged', name, region, 'parked per minute'),
      sourceSearch('drained', name, region, 'drained per minute'),
    ],
    // AWS leaves out messages received 3+ times (each retry is a receive): a lower bound in a long outage. The alarm counts minutes non-empty instead.
    right: [queueMetric(appName, name, region, 'backlog', 'oldestAge', 'Maximum', 'oldest parked (s, lower bound)')],
    rightAnnotations: [
      {
        value: thresholds.parkedAgeThresholdSeconds,
        label: `parked age alarm (non-empty for ${thresholds.parkedAgeThresholdSeconds} s)`,
        color: cloudwatch.Color.RED,
      },
    ],
    leftYAxis: { min: 0, showUnits: false },
    rightYAxis: { min: 0, showUnits: false },
  });
  return [
    new cloudwatch.TextWidget({ markdown: `## ${name} in ${region}`, width: 24, height: 1 }),
    new cloudwatch.Row(lag, throughput, conflicts),
    new cloudwatch.Row(backlog, dlq, iterator, errors),
    new cloudwatch.Row(parked),
  ];
}

/** Alarm status widgets of at most {@link ALARMS_PER_WIDGET} alarms each. */
export function alarmStatusWidgets(title: string, alarms: readonly cloudwatch.IAlarm[]): cloudwatch.IWidget[] {
  const out: cloudwatch.IWidget[] = [];
  for (let i = 0; i < alarms.length; i += ALARMS_PER_WIDGET) {
    const chunk = alarms.slice(i, i + ALARMS_PER_WIDGET);
    out.push(
      new cloudwatch.AlarmStatusWidget({
        title: alarms.length > ALARMS_PER_WIDGET ? `${title} (${i / ALARMS_PER_WIDGET + 1})` : title,
        alarms: [...chunk],
        width: 24,
        height: Math.min(12, 2 + Math.ceil(chunk.length / 4)),
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
      }),
    );
  }
  return out;
}
