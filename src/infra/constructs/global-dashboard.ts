/**
 * The global dashboard (`<app>-global`), in one region's stack: every pair of every table side by
 * side — lag with the alarm threshold drawn, throughput, conflicts, DLQ depth and backlog per
 * region — and the state of every regionsync alarm in every region. Everything is addressed by
 * name and region, so it needs nothing from the other stacks.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { globalDashboardName } from '../../core/contract.ts';
import { alarmName } from '../../core/metrics.ts';
import type { ResolvedConfig } from '../config/schema.ts';
import { monitoringOf, tableMonitoring } from '../config/monitoring.ts';
import { alarmPlan } from './replication-alarms.ts';
import { alarmStatusWidgets } from './region-dashboard.ts';
import { fleetWidgets } from './fleet-widgets.ts';
import { accountOfConfig, alarmArn, pairMetric, queueMetric, tableSearch } from './monitoring-metrics.ts';

/** Properties of {@link GlobalDashboard}. */
export interface GlobalDashboardProps {
  readonly config: ResolvedConfig;
  /**
   * Every region's widgets over all its tables (fleet-widgets.ts) and no alarm list (each region's
   * dashboard lists its own), instead of a section per table: for apps with many tables.
   * @default false
   */
  readonly fleet?: boolean;
}

/** The global dashboard's name, `<appName>-global` (named in the contract: the ops console reads it). */
export { globalDashboardName };

/**
 * The app's one dashboard across regions (see the file comment): a section per table and the state
 * of every regionsync alarm, or with `fleet` each region's widgets over all its tables.
 */
export class GlobalDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  /** ARNs of the alarms shown (every region whose stack has alarms). */
  public readonly alarmArns: readonly string[];

  constructor(scope: Construct, id: string, props: GlobalDashboardProps) {
    super(scope, id);
    const { config } = props;
    const app = config.appName;
    // Regions in other accounts are read from their account (cross-account observability).
    const accountOf = accountOfConfig(config.regions);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: globalDashboardName(app) });
    if (props.fleet) {
      for (const r of config.regions) {
        const here = config.tables.filter((t) => t.regions.includes(r.region));
        if (here.length > 0)
          this.dashboard.addWidgets(
            ...fleetWidgets(
              app,
              r.region,
              here.map((t) => tableMonitoring(config, t.name)),
              r.account,
            ),
          );
      }
      this.alarmArns = [];
      return;
    }
    for (const table of config.tables) {
      const t = tableMonitoring(config, table.name);
      const pairs = table.regions.flatMap((target) => table.regions.filter((s) => s !== target).map((source) => ({ table: table.name, source, target })));
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: `## ${table.name} across ${table.regions.join(', ')}`, width: 24, height: 1 }),
        new cloudwatch.Row(
          new cloudwatch.GraphWidget({
            title: `${table.name}: p99 replication lag per pair (ms)`,
            width: 12,
            left: pairs.map((p) => pairMetric(p, 'lag', 'p99', { label: `${p.source} → ${p.target}`, accountOf })),
            leftAnnotations: [{ value: t.lagP99ThresholdMs, label: `p99 alarm (${t.lagP99ThresholdMs} ms)`, color: cloudwatch.Color.RED }],
            leftYAxis: { min: 0, showUnits: false },
          }),
          new cloudwatch.GraphWidget({
            title: `${table.name}: changes applied per pair per minute`,
            width: 12,
            left: pairs.map((p) => pairMetric(p, 'applied', 'Sum', { label: `${p.source} → ${p.target}`, accountOf })),
            leftYAxis: { min: 0, showUnits: false },
          }),
        ),
        new cloudwatch.Row(
          new cloudwatch.GraphWidget({
            title: `${table.name}: conflicts per region`,
            width: 8,
            left: table.regions.map((r) => tableSearch('conflicts', table.name, r, r, accountOf(r))),
            leftYAxis: { min: 0, showUnits: false },
          }),
          new cloudwatch.GraphWidget({
            title: `${table.name}: dead-letter queue depth per region`,
            width: 8,
            left: table.regions.map((r) => queueMetric(app, table.name, r, 'dlq', 'visible', 'Maximum', r, accountOf(r))),
            leftAnnotations: [{ value: 1, label: 'DLQ alarm', color: cloudwatch.Color.RED }],
            leftYAxis: { min: 0, showUnits: false },
          }),
          new cloudwatch.GraphWidget({
            title: `${table.name}: oldest waiting change per region (s)`,
            width: 8,
            left: table.regions.map((r) => queueMetric(app, table.name, r, 'inbound', 'oldestAge', 'Maximum', r, accountOf(r))),
            leftAnnotations: [
              { value: t.backlogAgeThresholdSeconds, label: `backlog age alarm (${t.backlogAgeThresholdSeconds} s)`, color: cloudwatch.Color.RED },
            ],
            leftYAxis: { min: 0, showUnits: false },
          }),
        ),
      );
    }
    const stacks = monitoringOf(config).stacks;
    const arns = config.tables.flatMap((table) =>
      table.regions
        .filter((region) => stacks[region]?.alarms !== false)
        .flatMap((region) =>
          alarmPlan(table, region).map((a) =>
            alarmArn(region, config.regions.find((r) => r.region === region)?.account, alarmName(app, table.name, a.kind, a.sourceRegion)),
          ),
        ),
    );
    this.alarmArns = arns;
    const alarms = arns.map((arn, i) => cloudwatch.Alarm.fromAlarmArn(this, `Alarm${i}`, arn));
    for (const w of alarmStatusWidgets('regionsync alarms in every region', alarms)) this.dashboard.addWidgets(w);
  }
}
