/**
 * Monitoring in the synthesized templates: every alarm (metric, statistic, threshold,
 * evaluation, actions), each region's alarm topic and subscriptions, every dashboard widget that
 * carries a threshold or an alarm list, the write fence, the per-stack switches, and cdk-nag.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import { flatten, logicalId, propertiesOf, regionOf, replicatedTable, resources, synthesizeFixture, type SynthesizedRegion } from '../support/infra-fixture.ts';

const APP = 'rsmon';
const ACCOUNTS: Record<string, string> = { 'us-east-1': '111111111111', 'eu-west-1': '222222222222', 'ap-southeast-1': '333333333333' };
const REGIONS = Object.keys(ACCOUNTS);

/** `orders`: 2 regions, its own thresholds, fenced. `profiles`: 3 regions, the app-wide thresholds. */
const CONFIG: RegionSyncConfig = {
  appName: APP,
  regions: REGIONS.map((region) => ({ region, account: ACCOUNTS[region]! })),
  tables: [
    {
      name: 'orders',
      partitionKey: { name: 'pk', type: 'string' },
      regions: ['us-east-1', 'eu-west-1'],
      monitoring: { lagP99ThresholdMs: 2000, lagEvaluationMinutes: 3, backlogAgeThresholdSeconds: 120, parkedAgeThresholdSeconds: 90, fence: true },
    },
    { name: 'profiles', partitionKey: { name: 'id', type: 'string' } },
  ],
  monitoring: {
    alarmEmails: ['ops@example.com', 'dba@example.com'],
    alarmHttpsEndpoints: ['https://pager.example.com/hook'],
    iteratorAgeThresholdSeconds: 1800,
    globalDashboardRegion: 'eu-west-1',
  },
};

/** Thresholds per table, written out (not derived from the code under test). */
const THRESHOLDS = {
  orders: { lagP99: 2000, evaluation: 3, lagMax: 60_000, backlogAge: 120, iteratorAgeMs: 1_800_000, errorRate: 5, parkedAge: 90, parkedMinutes: 2 },
  profiles: { lagP99: 5000, evaluation: 5, lagMax: 60_000, backlogAge: 300, iteratorAgeMs: 1_800_000, errorRate: 5, parkedAge: 600, parkedMinutes: 10 },
} as const;
const TABLE_REGIONS: Record<keyof typeof THRESHOLDS, string[]> = { orders: ['us-east-1', 'eu-west-1'], profiles: REGIONS };
const FENCED_KINDS = ['lagP99', 'backlogAge', 'iteratorAge'];

const PLACEMENTS = (Object.keys(TABLE_REGIONS) as (keyof typeof THRESHOLDS)[]).flatMap((table) => TABLE_REGIONS[table].map((region) => ({ table, region })));

let synth: Map<string, SynthesizedRegion>;

beforeAll(() => {
  synth = synthesizeFixture(CONFIG);
});

type Resource = { Type: string; Properties?: Record<string, any> };
const ofType = (template: Template, type: string): [string, Resource][] => Object.entries(resources(template)).filter(([, r]) => r.Type === type);
const alarmsOf = (region: string) =>
  new Map(ofType(regionOf(synth, region).template, 'AWS::CloudWatch::Alarm').map(([, r]) => [r.Properties!.AlarmName as string, r.Properties!]));
const topicId = (region: string) => ofType(regionOf(synth, region).template, 'AWS::SNS::Topic')[0]![0];
const fenceFunctionId = (region: string) => ofType(regionOf(synth, region).template, 'AWS::Lambda::Function').find(([id]) => id.includes('WriteFence'))?.[0];
const dashboards = (region: string) =>
  new Map(
    ofType(regionOf(synth, region).template, 'AWS::CloudWatch::Dashboard').map(([, r]) => [
      r.Properties!.DashboardName as string,
      JSON.parse(flatten(r.Properties!.DashboardBody)) as { widgets: Widget[] },
    ]),
  );
interface Widget {
  type: string;
  properties: {
    title?: string;
    metrics?: unknown[][];
    alarms?: string[];
    annotations?: { horizontal?: { value: number; label: string }[] };
    markdown?: string;
  };
}
const alarmArn = (region: string, name: string) => `arn:\${AWS::Partition}:cloudwatch:${region}:${ACCOUNTS[region]}:alarm:${name}`;

/** The alarms each table must have in each region, by name. */
function expectedAlarmNames(table: keyof typeof THRESHOLDS, region: string): string[] {
  const sources = TABLE_REGIONS[table].filter((r) => r !== region);
  return [
    ...sources.flatMap((s) => [`${APP}/${table}/lagP99/${s}`, `${APP}/${table}/lagMax/${s}`, `${APP}/${table}/clockSkew/${s}`]),
    ...['dlq', 'backlogAge', 'iteratorAge', 'parkedAge', 'streamFailures', 'shipperErrors', 'applierErrors'].map((k) => `${APP}/${table}/${k}`),
  ];
}

describe('alarms', () => {
  it.each(REGIONS)('%s: exactly the alarms of its tables, no other', (region) => {
    // Act
    const names = [...alarmsOf(region).keys()].sort();

    // Assess
    const expected = PLACEMENTS.filter((p) => p.region === region).flatMap((p) => expectedAlarmNames(p.table, region));
    expect(names).toEqual(expected.sort());
  });

  it.each(PLACEMENTS)('$table in $region: lag alarms per source on p99 (N of N minutes) and maximum, from this region’s ReplicationLagMs of the pair', ({
    table,
    region,
  }) => {
    // Prepare
    const alarms = alarmsOf(region);
    const t = THRESHOLDS[table];

    for (const source of TABLE_REGIONS[table].filter((r) => r !== region)) {
      // Act
      const p99 = alarms.get(`${APP}/${table}/lagP99/${source}`)!;
      const max = alarms.get(`${APP}/${table}/lagMax/${source}`)!;

      // Assess
      const metric = {
        Namespace: 'RegionSync',
        MetricName: 'ReplicationLagMs',
        Dimensions: [
          { Name: 'SourceRegion', Value: source },
          { Name: 'Table', Value: table },
          { Name: 'TargetRegion', Value: region },
        ],
        Period: 60,
        TreatMissingData: 'notBreaching',
        ComparisonOperator: 'GreaterThanThreshold',
      };
      expect(p99).toMatchObject({ ...metric, ExtendedStatistic: 'p99', Threshold: t.lagP99, EvaluationPeriods: t.evaluation, DatapointsToAlarm: t.evaluation });
      expect(max).toMatchObject({ ...metric, Statistic: 'Maximum', Threshold: t.lagMax, EvaluationPeriods: 1 });
    }
  });

  it.each(PLACEMENTS)('$table in $region: DLQ (any message), backlog age and iterator age alarms on the table’s own queues and shipper', ({
    table,
    region,
  }) => {
    // Prepare
    const alarms = alarmsOf(region);
    const t = THRESHOLDS[table];
    const shipper = logicalId(replicatedTable(regionOf(synth, region), table).shipper);

    // Act
    const dlq = alarms.get(`${APP}/${table}/dlq`);
    const backlog = alarms.get(`${APP}/${table}/backlogAge`);
    const iterator = alarms.get(`${APP}/${table}/iteratorAge`);

    // Assess
    const common = { Period: 60, Statistic: 'Maximum', EvaluationPeriods: 1, TreatMissingData: 'notBreaching' };
    expect(dlq).toMatchObject({
      ...common,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: `${APP}-${table}-dlq` }],
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
    });
    expect(backlog).toMatchObject({
      ...common,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: `${APP}-${table}-inbound` }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: t.backlogAge,
    });
    expect(iterator).toMatchObject({
      ...common,
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: shipper } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: t.iteratorAgeMs,
    });
  });

  it.each(
    PLACEMENTS,
  )('$table in $region: parked-age alarm on the outage backlog: visible + in flight ≥ 1 in each of the threshold’s whole minutes, never fencing', ({
    table,
    region,
  }) => {
    // Prepare
    const t = THRESHOLDS[table];

    // Act
    const alarm = alarmsOf(region).get(`${APP}/${table}/parkedAge`)!;
    const expression = alarm.Metrics.find((m: { Expression?: string }) => m.Expression);
    const inputs = alarm.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat).map((m: { Id: string; MetricStat: any }) => [
      m.Id,
      m.MetricStat.Metric.Namespace,
      m.MetricStat.Metric.MetricName,
      m.MetricStat.Metric.Dimensions,
      m.MetricStat.Period,
      m.MetricStat.Stat,
    ]);

    // Assess
    expect(alarm).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: t.parkedMinutes,
      DatapointsToAlarm: t.parkedMinutes,
      TreatMissingData: 'notBreaching',
    });
    expect(expression).toMatchObject({ Expression: 'visible + inFlight', ReturnData: true });
    const dims = [{ Name: 'QueueName', Value: `${APP}-${table}-backlog` }];
    expect(inputs.sort()).toEqual(
      [
        ['inFlight', 'AWS/SQS', 'ApproximateNumberOfMessagesNotVisible', dims, 60, 'Maximum'],
        ['visible', 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', dims, 60, 'Maximum'],
      ].sort(),
    );
    // The backlog queue the alarm watches is the one the table's shipper parks changes in.
    expect(flatten(propertiesOf(regionOf(synth, region).template, logicalId(replicatedTable(regionOf(synth, region), table).backlogQueue)).QueueName)).toBe(
      `${APP}-${table}-backlog`,
    );
    expect(alarm.AlarmActions).toEqual([{ Ref: topicId(region) }]);
  });

  it('a parked-age threshold outside 60..86400 s fails the synth, naming the field and the value', () => {
    // Prepare
    const bad = (v: number): RegionSyncConfig => ({
      ...CONFIG,
      tables: [{ ...CONFIG.tables[0]!, monitoring: { parkedAgeThresholdSeconds: v } }, CONFIG.tables[1]!],
    });

    // Act
    const errors = [59, 86_401, Number.NaN].map((v) => {
      try {
        synthesizeFixture(bad(v));
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    });

    // Assess
    expect(errors[0]).toMatch(/tables\[0\]\.monitoring\.parkedAgeThresholdSeconds: must be from 60 to 86400 seconds.*\(got 59\)/);
    expect(errors[1]).toMatch(/tables\[0\]\.monitoring\.parkedAgeThresholdSeconds: .*\(got 86401\)/);
    expect(errors[2]).toMatch(/tables\[0\]\.monitoring\.parkedAgeThresholdSeconds: /);
  });

  it.each(
    PLACEMENTS,
  )('$table in $region: error-rate alarms, (errors + throttles) / (invocations + throttles) over 5 minutes, for its shipper and its applier', ({
    table,
    region,
  }) => {
    // Prepare
    const alarms = alarmsOf(region);
    const rt = replicatedTable(regionOf(synth, region), table);

    for (const [kind, fn] of [
      ['shipperErrors', rt.shipper],
      ['applierErrors', rt.applier],
    ] as const) {
      // Act
      const alarm = alarms.get(`${APP}/${table}/${kind}`)!;
      const expression = alarm.Metrics.find((m: { Expression?: string }) => m.Expression);
      const inputs = alarm.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat).map((m: { Id: string; MetricStat: any }) => [
        m.Id,
        m.MetricStat.Metric.MetricName,
        m.MetricStat.Metric.Dimensions,
        m.MetricStat.Period,
        m.MetricStat.Stat,
      ]);

      // Assess
      expect(alarm).toMatchObject({
        Threshold: THRESHOLDS[table].errorRate,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(expression).toMatchObject({ Expression: '100 * (errors + throttles) / (invocations + throttles)', ReturnData: true });
      const dims = [{ Name: 'FunctionName', Value: { Ref: logicalId(fn) } }];
      expect(inputs.sort()).toEqual(
        [
          ['errors', 'Errors', dims, 300, 'Sum'],
          ['invocations', 'Invocations', dims, 300, 'Sum'],
          ['throttles', 'Throttles', dims, 300, 'Sum'],
        ].sort(),
      );
    }
  });

  it.each(
    PLACEMENTS,
  )('$table in $region: every alarm notifies the region’s topic on ALARM and OK, and the fence function only where the table fences on that kind', ({
    table,
    region,
  }) => {
    // Prepare
    const topic = { Ref: topicId(region) };
    const fence = fenceFunctionId(region);

    for (const name of expectedAlarmNames(table, region)) {
      // Act
      const alarm = alarmsOf(region).get(name)!;
      const kind = name.split('/')[2]!;

      // Assess
      const fences = table === 'orders' && FENCED_KINDS.includes(kind);
      const expected = fences ? [topic, { 'Fn::GetAtt': [fence, 'Arn'] }] : [topic];
      expect(alarm.AlarmActions, name).toEqual(expected);
      expect(alarm.OKActions, name).toEqual(expected);
    }
  });
});

describe('alarm topics', () => {
  it.each(REGIONS)('%s: one TLS-only topic with the configured email and HTTPS subscriptions', (region) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const id = topicId(region);

    // Act
    const topics = ofType(template, 'AWS::SNS::Topic').map(([, r]) => r.Properties!.TopicName);
    const subscriptions = ofType(template, 'AWS::SNS::Subscription').map(([, r]) => [r.Properties!.Protocol, r.Properties!.Endpoint, r.Properties!.TopicArn]);
    const policies = ofType(template, 'AWS::SNS::TopicPolicy').map(([, r]) => r.Properties!);

    // Assess
    expect(topics).toEqual([`${APP}-alarms`]);
    expect(subscriptions.sort()).toEqual(
      [
        ['email', 'ops@example.com', { Ref: id }],
        ['email', 'dba@example.com', { Ref: id }],
        ['https', 'https://pager.example.com/hook', { Ref: id }],
      ].sort(),
    );
    expect(policies).toHaveLength(1);
    expect(policies[0]!.PolicyDocument.Statement).toEqual([
      expect.objectContaining({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Resource: { Ref: id } }),
      expect.objectContaining({ Effect: 'Allow', Action: 'sns:Publish', Principal: { Service: 'cloudwatch.amazonaws.com' }, Resource: { Ref: id } }),
    ]);
  });

  // moto runs no alarm actions: this walk is what shows an alarm's notification can be delivered.
  it.each(
    REGIONS,
  )("%s: every alarm → its SNS action → the topic → a policy that lets this account's CloudWatch publish that alarm, over TLS, unencrypted or with a key CloudWatch may use", (region) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const all = resources(template);
    const alarms = ofType(template, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(0);
    const arnOfAlarm = (name: string) => `arn:aws:cloudwatch:${region}:${ACCOUNTS[region]}:alarm:${name}`;
    /** Whether `arn` matches an IAM ArnLike pattern, the template's pseudo parameters filled in. */
    const arnLike = (pattern: string, arn: string) =>
      new RegExp(
        `^${pattern
          .replaceAll('${AWS::Partition}', 'aws')
          .replaceAll('${AWS::Region}', region)
          .replaceAll('${AWS::AccountId}', ACCOUNTS[region]!)
          .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
          .replaceAll('*', '.*')}$`,
      ).test(arn);

    for (const [alarmId, alarm] of alarms) {
      const name = alarm.Properties!.AlarmName as string;
      const topicRefs = [...((alarm.Properties!.AlarmActions as unknown[]) ?? []), ...((alarm.Properties!.OKActions as unknown[]) ?? [])]
        .map((a) => (a as { Ref?: string }).Ref)
        .filter((ref): ref is string => ref !== undefined && all[ref]?.Type === 'AWS::SNS::Topic');

      // Act: the topic's policies and their statements about sns:Publish
      for (const topicRef of new Set(topicRefs)) {
        const statements = ofType(template, 'AWS::SNS::TopicPolicy')
          .filter(([, p]) => (p.Properties!.Topics as unknown[]).some((t) => (t as { Ref?: string }).Ref === topicRef))
          .flatMap(([, p]) => p.Properties!.PolicyDocument.Statement as Array<Record<string, any>>);
        const allows = statements.filter(
          (st) =>
            st.Effect === 'Allow' &&
            [st.Action].flat().includes('sns:Publish') &&
            st.Principal?.Service === 'cloudwatch.amazonaws.com' &&
            st.Condition?.StringEquals?.['aws:SourceAccount'] !== undefined &&
            arnLike(flatten(st.Condition?.ArnLike?.['aws:SourceArn']), arnOfAlarm(name)) &&
            flatten(st.Condition.StringEquals['aws:SourceAccount']) === '${AWS::AccountId}',
        );
        const tlsOnly = statements.some((st) => st.Effect === 'Deny' && st.Condition?.Bool?.['aws:SecureTransport'] === 'false');

        // Assess
        expect({ alarmId, topicRef, allows: allows.length, tlsOnly }).toEqual({ alarmId, topicRef, allows: 1, tlsOnly: true });
        expect(arnLike(flatten(allows[0]!.Condition.ArnLike['aws:SourceArn']), arnOfAlarm('someone-else/orders/lagP99'))).toBe(false);
        // An encrypted topic would also need a key policy letting CloudWatch use the key: this one is not encrypted.
        expect(all[topicRef]!.Properties!.KmsMasterKeyId).toBeUndefined();
      }
    }
  });
});

describe('dashboards', () => {
  it.each(REGIONS)('%s: its own dashboard; the global one only in the configured region', (region) => {
    // Act
    const names = [...dashboards(region).keys()].sort();

    // Assess
    expect(names).toEqual(region === 'eu-west-1' ? [`${APP}-eu-west-1`, `${APP}-global`] : [`${APP}-${region}`]);
  });

  it.each(PLACEMENTS)('$table in $region: the region dashboard draws every lag, backlog age and iterator age threshold on its widget', ({ table, region }) => {
    // Prepare
    const widgets = dashboards(region).get(`${APP}-${region}`)!.widgets;
    const t = THRESHOLDS[table];
    const titled = (prefix: string) => widgets.find((w) => w.properties.title?.startsWith(`${table}: ${prefix}`));
    const values = (w: Widget | undefined) => (w?.properties.annotations?.horizontal ?? []).map((a) => a.value).sort((a, b) => a - b);

    // Act
    const lag = titled('replication lag into');
    const lagMetrics = (lag?.properties.metrics ?? []).map((m) => [m[3], (m[m.length - 1] as { stat: string }).stat]);

    // Assess
    const sources = TABLE_REGIONS[table].filter((r) => r !== region);
    expect(lagMetrics.sort()).toEqual(
      sources
        .flatMap((s) => [
          [s, 'p99'],
          [s, 'p50'],
          [s, 'Maximum'],
        ])
        .sort(),
    );
    expect(values(lag)).toEqual([t.lagP99, t.lagMax].sort((a, b) => a - b));
    expect(values(titled('inbound backlog'))).toEqual([t.backlogAge]);
    expect(values(titled('dead-letter queue'))).toEqual([1]);
    expect(values(titled('shipper iterator age'))).toEqual([t.iteratorAgeMs]);
    for (const prefix of ['changes per minute', 'conflicts and dead-lettered', 'errors and throttles']) expect(titled(prefix), prefix).toBeDefined();
  });

  it.each(
    PLACEMENTS,
  )('$table in $region: the region dashboard shows the outage backlog: parked depth, parked and drained per minute, oldest age, the alarm’s threshold', ({
    table,
    region,
  }) => {
    // Prepare
    const widgets = dashboards(region).get(`${APP}-${region}`)!.widgets;

    // Act
    const parked = widgets.find((w) => w.properties.title?.startsWith(`${table}: outage backlog in ${region}`));
    const metrics = JSON.stringify(parked?.properties.metrics ?? []);

    // Assess
    expect(parked?.properties.title).toContain(TABLE_REGIONS[table].filter((r) => r !== region).join(', '));
    expect(metrics).toContain('visible + inFlight');
    expect(metrics).toContain(`"ApproximateNumberOfMessagesVisible","QueueName","${APP}-${table}-backlog"`);
    expect(metrics).toContain(`"ApproximateAgeOfOldestMessage","QueueName","${APP}-${table}-backlog"`);
    for (const name of ['MessagesBacklogged', 'MessagesDrained']) {
      expect(metrics).toContain(`MetricName=\\"${name}\\" Table=\\"${table}\\" SourceRegion=\\"${region}\\"`);
    }
    expect(parked?.properties.annotations?.horizontal?.map((a) => a.value)).toEqual([THRESHOLDS[table].parkedAge]);
  });

  it.each(REGIONS)('%s: the region dashboard’s alarm status widget lists exactly the region’s alarms', (region) => {
    // Act
    const widgets = dashboards(region)
      .get(`${APP}-${region}`)!
      .widgets.filter((w) => w.type === 'alarm');

    // Assess
    const expected = [...alarmsOf(region).keys()].map((n) => alarmArn(region, n)).sort();
    expect(widgets.flatMap((w) => w.properties.alarms ?? []).sort()).toEqual(expected);
  });

  it('the global dashboard: p99 lag of every pair read in the target region with the threshold drawn, DLQ and backlog per region, and every alarm of every region', () => {
    // Prepare
    const widgets = dashboards('eu-west-1').get(`${APP}-global`)!.widgets;

    for (const table of ['orders', 'profiles'] as const) {
      // Act
      const lag = widgets.find((w) => w.properties.title === `${table}: p99 replication lag per pair (ms)`)!;
      const pairs = (lag.properties.metrics ?? []).map((m) => `${m[3]}>${m[7]}@${(m[8] as { region: string }).region}`);
      const dlq = widgets.find((w) => w.properties.title === `${table}: dead-letter queue depth per region`)!;

      // Assess
      const regions = TABLE_REGIONS[table];
      expect(pairs.sort()).toEqual(regions.flatMap((t) => regions.filter((s) => s !== t).map((s) => `${s}>${t}@${t}`)).sort());
      expect(lag.properties.annotations?.horizontal?.map((a) => a.value)).toEqual([THRESHOLDS[table].lagP99]);
      expect((dlq.properties.metrics ?? []).map((m) => `${m[3]}@${(m[4] as { region: string }).region}`).sort()).toEqual(
        regions.map((r) => `${APP}-${table}-dlq@${r}`).sort(),
      );
      expect(
        widgets.find((w) => w.properties.title === `${table}: oldest waiting change per region (s)`)?.properties.annotations?.horizontal?.map((a) => a.value),
      ).toEqual([THRESHOLDS[table].backlogAge]);
    }
    const listed = widgets.filter((w) => w.type === 'alarm').flatMap((w) => w.properties.alarms ?? []);
    const every = REGIONS.flatMap((r) => [...alarmsOf(r).keys()].map((n) => alarmArn(r, n)));
    expect(listed.sort()).toEqual(every.sort());
  });
});

describe('write fence', () => {
  it.each(REGIONS)('%s: the fence table and function exist only where a table fences, and any alarm of the app may invoke the function', (region) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const fenced = region !== 'ap-southeast-1';

    // Act
    const fenceTables = ofType(template, 'AWS::DynamoDB::Table').filter(([, r]) => r.Properties!.TableName === `${APP}-fence`);
    // Besides the fence's, the only invoke permission is each table's backlog drain schedule (region-stack.test.ts).
    const permissions = ofType(template, 'AWS::Lambda::Permission')
      .map(([, r]) => r.Properties!)
      .filter((p) => p.Principal !== 'events.amazonaws.com');

    // Assess
    expect(fenceTables).toHaveLength(fenced ? 1 : 0);
    expect(fenceFunctionId(region) !== undefined).toBe(fenced);
    expect(permissions).toEqual(
      fenced
        ? [
            {
              Action: 'lambda:InvokeFunction',
              FunctionName: { 'Fn::GetAtt': [fenceFunctionId(region), 'Arn'] },
              Principal: 'lambda.alarms.cloudwatch.amazonaws.com',
              SourceAccount: ACCOUNTS[region],
              SourceArn: expect.anything(),
            },
          ]
        : [],
    );
    // cdk.json sets @aws-cdk/core:enablePartitionLiterals: a known region's partition is written out.
    if (fenced) expect(flatten(permissions[0]!.SourceArn)).toBe(`arn:aws:cloudwatch:${region}:${ACCOUNTS[region]}:alarm:${APP}/*`);
    if (fenced)
      expect(fenceTables[0]![1].Properties!.KeySchema).toEqual([
        { AttributeName: 'tbl', KeyType: 'HASH' },
        { AttributeName: 'src', KeyType: 'RANGE' },
      ]);
  });

  it('the fence function may only put items into its region’s fence table (and write its own logs)', () => {
    // Prepare
    const { template } = regionOf(synth, 'us-east-1');
    const fn = propertiesOf(template, fenceFunctionId('us-east-1')!);
    const roleId = (fn.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const fenceTable = ofType(template, 'AWS::DynamoDB::Table').find(([, r]) => r.Properties!.TableName === `${APP}-fence`)![0];

    // Act
    const statements = ofType(template, 'AWS::IAM::Policy')
      .filter(([, r]) => (r.Properties!.Roles as { Ref: string }[]).some((x) => x.Ref === roleId))
      .flatMap(([, r]) => r.Properties!.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);

    // Assess
    const grants = statements.flatMap((s) => [s.Action].flat().map((a) => `${a} on ${flatten(s.Resource)}`));
    expect(grants.filter((g) => !g.startsWith('logs:'))).toEqual([`dynamodb:PutItem on \${${fenceTable}.Arn}`]);
    expect(fn.Environment.Variables.REGIONSYNC_FENCE_SETTINGS).toBe(JSON.stringify({ appName: APP, fenceTable: `${APP}-fence` }));
  });
});

describe('switches', () => {
  it('alarms off for the app: no alarm, topic or fence function anywhere; a stack can turn them back on; dashboards off for one stack', () => {
    // Prepare
    const config: RegionSyncConfig = {
      ...CONFIG,
      monitoring: { ...CONFIG.monitoring, alarms: false, stacks: { 'us-east-1': { alarms: true }, 'eu-west-1': { dashboards: false } } },
    };

    // Act
    const s = synthesizeFixture(config);
    const count = (region: string, type: string) => ofType(regionOf(s, region).template, type).length;

    // Assess
    expect(REGIONS.map((r) => [r, count(r, 'AWS::CloudWatch::Alarm'), count(r, 'AWS::SNS::Topic')])).toEqual([
      // orders: 3 per source (lagP99, lagMax, clockSkew) × 1 + 7; profiles: 3 × 2 + 7.
      ['us-east-1', 23, 1],
      ['eu-west-1', 0, 0],
      ['ap-southeast-1', 0, 0],
    ]);
    // eu-west-1 still fences (orders), by `regionsync fence` only: the table, no function.
    expect(ofType(regionOf(s, 'eu-west-1').template, 'AWS::DynamoDB::Table').some(([, r]) => r.Properties!.TableName === `${APP}-fence`)).toBe(true);
    expect(ofType(regionOf(s, 'eu-west-1').template, 'AWS::Lambda::Function')).toHaveLength(4);
    // Dashboards: none in eu-west-1, which also was to hold the global one.
    expect(REGIONS.map((r) => [r, count(r, 'AWS::CloudWatch::Dashboard')])).toEqual([
      ['us-east-1', 1],
      ['eu-west-1', 0],
      ['ap-southeast-1', 1],
    ]);
  });
});

describe('cdk-nag', () => {
  it.each(REGIONS)('%s: no unacknowledged AwsSolutions finding with monitoring, subscriptions and the fence', (region) => {
    // Act
    const report = new AwsSolutionsChecks().validateScope(regionOf(synth, region).stack);
    const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`));

    // Assess
    expect(findings).toEqual([]);
  });
});
