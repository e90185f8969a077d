/**
 * The ops console reads the dashboards the CDK app synthesizes (src/ops/dashboards.ts): every
 * widget of every synthesized dashboard becomes GetMetricData queries in the region the widget
 * names, with the statistic and period it was defined with, and every alarm widget's ARNs become
 * the names of the alarms the stacks create. Bodies are taken from the templates (CloudFormation
 * values resolved as a deploy would), so a widget the console could not read fails here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { parseDashboardBody, widgetAlarms, widgetQueries, type DashboardWidget } from '../../src/ops/dashboards.ts';
import { ACCOUNTS, FIXTURE_CONFIG, flatten, regionOf, REGIONS, resources, synthesizeFixture, type SynthesizedRegion } from '../support/infra-fixture.ts';

let synth: Map<string, SynthesizedRegion>;
let fleet: Map<string, SynthesizedRegion>;

beforeAll(() => {
  synth = synthesizeFixture();
  fleet = synthesizeFixture({ ...FIXTURE_CONFIG, stackLayout: 'per-table' });
});

/** Each dashboard of `region`'s template as deployed there: `${AWS::Region}` and the other pseudo parameters resolved. */
function dashboardsOf(s: Map<string, SynthesizedRegion>, region: string): Map<string, DashboardWidget[]> {
  const out = new Map<string, DashboardWidget[]>();
  for (const r of Object.values(resources(regionOf(s, region).template))) {
    if (r.Type !== 'AWS::CloudWatch::Dashboard') continue;
    const body = flatten(r.Properties!.DashboardBody)
      .replaceAll('${AWS::Region}', region)
      .replaceAll('${AWS::Partition}', 'aws')
      .replaceAll('${AWS::AccountId}', ACCOUNTS[region]!)
      .replace(/\$\{[A-Za-z0-9]+\}/g, (ref) => `fn-${ref.slice(2, -1)}`);
    out.set(r.Properties!.DashboardName as string, parseDashboardBody(r.Properties!.DashboardName as string, body));
  }
  return out;
}

const alarmNamesOf = (s: Map<string, SynthesizedRegion>, region: string) =>
  Object.values(resources(regionOf(s, region).template))
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .map((r) => r.Properties!.AlarmName as string);

describe('console queries from the synthesized dashboards', () => {
  it('every metric widget of every dashboard becomes queries, in the regions its metrics name, each returned line a metric or an expression', () => {
    for (const s of [synth, fleet]) {
      for (const region of REGIONS) {
        for (const [name, widgets] of dashboardsOf(s, region)) {
          // Act
          const metricWidgets = widgets.filter((w) => w.type === 'metric');
          const groups = metricWidgets.map((w) => widgetQueries(w, region));

          // Assess
          expect(metricWidgets.length, `${name}: metric widgets`).toBeGreaterThan(0);
          for (const [i, g] of groups.entries()) {
            const title = String(metricWidgets[i]!.properties?.title);
            const returned = g.flatMap((x) => x.queries.filter((q) => q.ReturnData));
            expect(returned.length, `${name} / ${title}: lines`).toBeGreaterThan(0);
            for (const x of g) {
              expect(REGIONS, `${name} / ${title}: region`).toContain(x.region);
              for (const q of x.queries) expect(q.MetricStat ?? q.Expression, `${name} / ${title}: ${q.Id}`).toBeDefined();
            }
          }
        }
      }
    }
  });

  it("a region's lag widget asks that region for p99, p50 and maximum lag from each source; the global DLQ widget asks each region for its DLQ", () => {
    // Prepare: orders replicates between us-east-1 and eu-west-1 (test/support/infra-fixture.ts); the global dashboard is in the first region.
    const region = 'eu-west-1';
    const dash = dashboardsOf(synth, region).get(`rsinfra-${region}`)!;
    const lag = dash.find((w) => String(w.properties?.title).startsWith(`orders: replication lag into ${region}`))!;
    const global = dashboardsOf(synth, 'us-east-1').get('rsinfra-global')!;
    const dlq = global.find((w) => String(w.properties?.title).startsWith('orders: dead-letter queue depth'))!;

    // Act
    const lagQueries = widgetQueries(lag, region);
    const dlqQueries = widgetQueries(dlq, 'us-east-1');

    // Assess
    const stat = (q: MetricDataQuery) => [q.Label, q.MetricStat?.Metric?.MetricName, q.MetricStat?.Stat, q.MetricStat?.Period];
    expect(lagQueries.map((g) => g.region)).toEqual([region]);
    expect(lagQueries[0]!.queries.map(stat)).toEqual([
      ['p99 from us-east-1', 'ReplicationLagMs', 'p99', 60],
      ['p50 from us-east-1', 'ReplicationLagMs', 'p50', 60],
      ['max from us-east-1', 'ReplicationLagMs', 'Maximum', 60],
    ]);
    expect(lagQueries[0]!.styles).toMatchObject({ m2: { yAxis: 'right' } });
    expect(
      dlqQueries.map((g) => [g.region, g.queries.map((q) => q.MetricStat?.Metric?.Dimensions)]),
      'one query per region, in that region',
    ).toEqual([
      ['us-east-1', [[{ Name: 'QueueName', Value: 'rsinfra-orders-dlq' }]]],
      ['eu-west-1', [[{ Name: 'QueueName', Value: 'rsinfra-orders-dlq' }]]],
    ]);
  });

  it('the alarm widgets name exactly the alarms the stacks create: each region its own, the global dashboard all of them', () => {
    // Act
    const perRegion = REGIONS.map((region) => {
      const widgets = dashboardsOf(synth, region).get(`rsinfra-${region}`)!;
      return widgets.filter((w) => w.type === 'alarm').flatMap((w) => widgetAlarms(w));
    });
    const global = dashboardsOf(synth, 'us-east-1')
      .get('rsinfra-global')!
      .filter((w) => w.type === 'alarm')
      .flatMap((w) => widgetAlarms(w));

    // Assess
    for (const [i, region] of REGIONS.entries()) {
      expect(perRegion[i]!.map((a) => a.name).sort(), region).toEqual(alarmNamesOf(synth, region).sort());
      expect(new Set(perRegion[i]!.map((a) => `${a.region}:${a.account}`)), region).toEqual(new Set([`${region}:${ACCOUNTS[region]}`]));
    }
    expect(global.map((a) => `${a.region} ${a.name}`).sort()).toEqual(REGIONS.flatMap((r) => alarmNamesOf(synth, r).map((n) => `${r} ${n}`)).sort());
  });

  it('a widget the console cannot read fails naming the widget and the entry', () => {
    // Prepare
    const bad: DashboardWidget = { type: 'metric', properties: { title: 'lag', metrics: [['RegionSync', 'ReplicationLagMs', 'Table']] } };
    const badArn: DashboardWidget = { type: 'alarm', properties: { title: 'alarms', alarms: ['arn:aws:sns:us-east-1:1:topic'] } };

    // Act / Assess
    expect(() => widgetQueries(bad, 'us-east-1')).toThrow(/widget "lag": metrics\[0\] is neither/);
    expect(() => widgetAlarms(badArn)).toThrow(/"arn:aws:sns:us-east-1:1:topic" is not a CloudWatch alarm ARN/);
    expect(() => parseDashboardBody('x-global', '{"nope":1}')).toThrow(/dashboard x-global: the body has no "widgets" array/);
  });
});
