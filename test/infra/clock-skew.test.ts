/**
 * The clock bound in the templates (review finding 10): `maxClockOffsetSeconds` reaches both
 * functions' settings with the applier's hold budget, and every table has a clock-skew alarm per
 * source region on the metric the applier emits (its name taken from METRICS, so they cannot drift).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '../../src/core/contract.ts';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import { flatten, logicalId, regionOf, replicatedTable, resources, settingsOf, synthesizeFixture, type SynthesizedRegion } from '../support/infra-fixture.ts';

const APP = 'rsclock';
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];
/** `orders` sets its own bound; `profiles` takes the app's. */
const CONFIG: RegionSyncConfig = {
  appName: APP,
  regions: REGIONS,
  maxClockOffsetSeconds: 2,
  tables: [
    { name: 'orders', partitionKey: { name: 'pk', type: 'string' }, regions: ['us-east-1', 'eu-west-1'], maxClockOffsetSeconds: 10 },
    { name: 'profiles', partitionKey: { name: 'id', type: 'string' } },
  ],
};
/** Written out, not derived: bound in ms, and the hold budget of the default inbound queue (9 receives after the first × 180 s visibility). */
const EXPECTED = { orders: { maxOffsetMs: 10_000, regions: ['us-east-1', 'eu-west-1'] }, profiles: { maxOffsetMs: 2_000, regions: REGIONS } } as const;
const HOLD_MS = 9 * 180_000;
const PLACEMENTS = (Object.keys(EXPECTED) as (keyof typeof EXPECTED)[]).flatMap((table) => EXPECTED[table].regions.map((region) => ({ table, region })));

let synth: Map<string, SynthesizedRegion>;

beforeAll(() => {
  synth = synthesizeFixture(CONFIG);
});

const alarmsOf = (region: string) =>
  new Map(
    Object.values(resources(regionOf(synth, region).template))
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => [r.Properties!.AlarmName as string, r.Properties!]),
  );

describe('clock bound', () => {
  it.each(PLACEMENTS)('$table in $region: shipper and applier get the table’s bound, the applier the hold budget of its queue', ({ table, region }) => {
    // Prepare
    const r = regionOf(synth, region);
    const t = replicatedTable(r, table);
    // Act
    const shipper = settingsOf(r.template, logicalId(t.shipper));
    const applier = settingsOf(r.template, logicalId(t.applier));
    // Assess
    for (const s of [shipper, applier]) expect(s.clockBound).toEqual({ maxOffsetMs: EXPECTED[table].maxOffsetMs, holdMs: HOLD_MS });
  });

  it.each(PLACEMENTS)('$table in $region: a clock-skew alarm per source region on any ChangesAheadOfClock of the pair', ({ table, region }) => {
    // Prepare
    const alarms = alarmsOf(region);
    for (const source of EXPECTED[table].regions.filter((r) => r !== region)) {
      // Act
      const alarm = alarms.get(`${APP}/${table}/clockSkew/${source}`);
      // Assess
      expect(alarm).toMatchObject({
        Namespace: METRICS.namespace,
        MetricName: METRICS.names.changesAheadOfClock,
        Dimensions: [
          { Name: 'SourceRegion', Value: source },
          { Name: 'Table', Value: table },
          { Name: 'TargetRegion', Value: region },
        ],
        Statistic: 'Sum',
        Period: 60,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(alarm!.AlarmDescription).toContain(`${EXPECTED[table].maxOffsetMs / 1000} s (maxClockOffsetSeconds)`);
    }
  });

  it.each(PLACEMENTS)('$table in $region: the region dashboard shows changes held back per source and client writes restamped', ({ table, region }) => {
    // Prepare
    const dashboard = Object.values(resources(regionOf(synth, region).template)).find(
      (r) => r.Type === 'AWS::CloudWatch::Dashboard' && r.Properties!.DashboardName === `${APP}-${region}`,
    )!;
    const widgets = (JSON.parse(flatten(dashboard.Properties!.DashboardBody)) as { widgets: { properties: { title?: string; metrics?: unknown[][] } }[] })
      .widgets;
    // Act
    const widget = widgets.find((w) => w.properties.title?.startsWith(`${table}: conflicts and dead-lettered`));
    const body = JSON.stringify(widget?.properties.metrics ?? []);
    // Assess
    for (const source of EXPECTED[table].regions.filter((r) => r !== region))
      expect(body).toContain(`"${METRICS.names.changesAheadOfClock}","SourceRegion","${source}"`);
    expect(body).toContain(`MetricName=\\"${METRICS.names.clientWritesRestamped}\\"`);
  });
});
