/**
 * Dashboard widgets over every table of an app in one region at once, built on CloudWatch SEARCH
 * expressions rather than one metric per table: what the dashboards show when tables are many
 * (`stackLayout: 'per-table'`, or more than {@link MAX_DETAILED_PAIRS} region pairs). A dashboard of per-table widgets grows by about 16 KB of template
 * per table and region (50 tables in 5 regions: 2 MB, past CloudFormation's 1 MB per template and
 * CloudWatch's 500 widgets per dashboard); these stay the same size however many tables there are.
 * Per-table detail is one click away: CloudWatch lets a SEARCH graph's lines be picked one by one,
 * and every alarm still names its table.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { AWS_METRICS, METRICS, PAIR_METRICS, TABLE_METRICS } from '../../core/metrics.ts';
import type { ResolvedConfig } from '../config/schema.ts';
import { ONE_MINUTE } from './monitoring-metrics.ts';

/**
 * Region pairs (source → target, per table) up to which dashboards keep a section per table. Each
 * pair adds about 1.2 KB to the global dashboard and 0.8 KB to a region's, so past this the
 * templates approach CloudFormation's 1 MB (12 tables in 5 regions are 240 pairs).
 */
export const MAX_DETAILED_PAIRS = 40;

/** Whether the app's dashboards show every table at once (fleet widgets) rather than a section per table. */
export function usesFleetDashboards(config: ResolvedConfig): boolean {
  if (config.stackLayout === 'per-table') return true;
  return config.tables.reduce((n, t) => n + t.regions.length * (t.regions.length - 1), 0) > MAX_DETAILED_PAIRS;
}

/** A SEARCH over one metric of every table, in `region`: one line per dimension set it finds. */
function search(terms: string, statistic: string, region: string, account?: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('${terms}', '${statistic}', 60)`,
    usingMetrics: {},
    period: ONE_MINUTE,
    searchRegion: region,
    ...(account ? { searchAccount: account } : {}),
  });
}

/** An alarm line, drawn only when every table alarms at the same value. */
function thresholdLine(values: readonly number[], label: (v: number) => string): cloudwatch.HorizontalAnnotation[] {
  const distinct = [...new Set(values)];
  return distinct.length === 1 ? [{ value: distinct[0]!, label: label(distinct[0]!), color: cloudwatch.Color.RED }] : [];
}

function regionSearch(metricName: string, regionDimension: string, region: string): string {
  return `Namespace="${METRICS.namespace}" MetricName="${metricName}" ${regionDimension}="${region}"`;
}

/** The app's queues of one kind (`inbound`, `dlq`): queue names are `<app>-<table>-<kind>`, and SEARCH ANDs its terms. */
function queueSearch(appName: string, kind: 'inbound' | 'dlq', metricName: string): string {
  return `{${AWS_METRICS.sqs.namespace},${AWS_METRICS.sqs.dimension}} MetricName="${metricName}" ${appName} ${kind}`;
}

/** Lag, throughput, conflicts, backlog and DLQ of every table replicating into `region`. */
export function fleetWidgets(
  appName: string,
  region: string,
  thresholds: readonly { readonly lagP99ThresholdMs: number; readonly backlogAgeThresholdSeconds: number }[],
  account?: string,
): cloudwatch.IWidget[] {
  const target = METRICS.dimensions.targetRegion;
  const axis = { min: 0, showUnits: false };
  return [
    new cloudwatch.TextWidget({ markdown: `## Every table in ${region}`, width: 24, height: 1 }),
    new cloudwatch.Row(
      new cloudwatch.GraphWidget({
        title: `Replication lag p99 into ${region}, per table and source (ms)`,
        width: 12,
        left: [search(regionSearch(PAIR_METRICS.lag.name, target, region), 'p99', region, account)],
        leftAnnotations: thresholdLine(
          thresholds.map((t) => t.lagP99ThresholdMs),
          (v) => `p99 alarm (${v} ms)`,
        ),
        leftYAxis: axis,
      }),
      new cloudwatch.GraphWidget({
        title: `Changes applied in ${region} per minute, per table and source`,
        width: 12,
        left: [search(regionSearch(PAIR_METRICS.applied.name, target, region), 'Sum', region, account)],
        leftYAxis: axis,
      }),
    ),
    new cloudwatch.Row(
      new cloudwatch.GraphWidget({
        title: `Conflicts and dead-lettered changes in ${region}, per table`,
        width: 8,
        left: [
          search(regionSearch(TABLE_METRICS.conflicts, target, region), 'Sum', region, account),
          search(regionSearch(TABLE_METRICS.deadLettered, target, region), 'Sum', region, account),
        ],
        leftYAxis: axis,
      }),
      new cloudwatch.GraphWidget({
        title: `Oldest waiting change per inbound queue in ${region} (s)`,
        width: 8,
        left: [search(queueSearch(appName, 'inbound', AWS_METRICS.sqs.oldestAge), 'Maximum', region, account)],
        leftAnnotations: thresholdLine(
          thresholds.map((t) => t.backlogAgeThresholdSeconds),
          (v) => `backlog age alarm (${v} s)`,
        ),
        leftYAxis: axis,
      }),
      new cloudwatch.GraphWidget({
        title: `Dead-letter queue depth per table in ${region}`,
        width: 8,
        left: [search(queueSearch(appName, 'dlq', AWS_METRICS.sqs.visible), 'Maximum', region, account)],
        leftAnnotations: [{ value: 1, label: 'DLQ alarm (any message)', color: cloudwatch.Color.RED }],
        leftYAxis: axis,
      }),
    ),
  ];
}
