/**
 * What each region's stack deploys: its tables, their streams, the shipper and applier with their
 * event sources, the queues, and the settings each function is handed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { shipperStreamFilterPatterns } from '../../src/core/echo-filter.ts';
import { deadLetterQueueName, ENV, inboundQueueName } from '../../src/core/contract.ts';
import { readSettings } from '../../src/core/settings.ts';
import { DEFAULT_TOMBSTONE_TTL_SECONDS } from '../../src/infra/config/validate.ts';
import {
  ACCOUNTS,
  APP_NAME,
  inboundQueueUrl,
  logicalId,
  propertiesOf,
  ref,
  regionOf,
  REGIONS,
  replicatedTable,
  resources,
  settingsOf,
  synthesizeFixture,
  TABLE_REGIONS,
  type SynthesizedRegion,
} from '../support/infra-fixture.ts';

/** Every (region, table) pair of the fixture, for `it.each`. */
const PLACEMENTS = Object.entries(TABLE_REGIONS).flatMap(([table, regions]) => regions.map((region) => ({ region, table })));

let synth: Map<string, SynthesizedRegion>;

beforeAll(() => {
  synth = synthesizeFixture();
});

/** Logical IDs of one ReplicatedTable's resources in its region's template. */
function idsOf(region: string, table: string) {
  const rt = replicatedTable(regionOf(synth, region), table);
  return {
    table: logicalId(rt.table),
    shipper: logicalId(rt.shipper),
    applier: logicalId(rt.applier),
    inbound: logicalId(rt.inboundQueue),
    dlq: logicalId(rt.deadLetterQueue),
  };
}

describe('stacks and tables per region', () => {
  it('adds one stack per region, in that region and account', () => {
    // Prepare: the fixture is synthesized once in beforeAll.
    // Act
    const placed = [...synth.values()].map((r) => ({ region: r.region, account: r.stack.account, name: r.stack.stackName }));

    // Assess
    expect(placed).toEqual(REGIONS.map((region) => ({ region, account: ACCOUNTS[region], name: `${APP_NAME}-${region}` })));
  });

  it.each(REGIONS)('%s holds exactly the tables configured for it, as plain tables without replicas', (region) => {
    // Prepare
    const { template } = regionOf(synth, region);
    // Its replicated tables, the region's conflict log (kept by default) and its tombstone table (both fixture tables are lww).
    const expected = [
      ...Object.keys(TABLE_REGIONS).filter((t) => TABLE_REGIONS[t]!.includes(region)),
      `${APP_NAME}-conflicts`,
      `${APP_NAME}-tombstones`,
    ].sort();

    // Act
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table')).map((r) => r.Properties.TableName as string);

    // Assess
    expect(tables.sort()).toEqual(expected);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    // Neither native replicas of any kind (TableV2 replicas, legacy replica custom resources) nor Global Tables v2019 props.
    expect(Object.values(resources(template)).filter((r) => /Replica/i.test(r.Type))).toEqual([]);
    for (const props of Object.values(template.findResources('AWS::DynamoDB::Table')).map((r) => r.Properties)) expect(props).not.toHaveProperty('Replicas');
  });
});

describe('stack traces', () => {
  it.each(REGIONS)('%s: every function ships its source map and uses it (--enable-source-maps)', (region) => {
    // Act
    const functions = Object.entries(resources(regionOf(synth, region).template)).filter(
      ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Runtime !== undefined && String(r.Properties.Runtime).startsWith('nodejs'),
    );

    // Assess
    expect(functions.length).toBeGreaterThan(0);
    for (const [id, fn] of functions)
      expect({ id, options: (fn.Properties!.Environment as { Variables?: Record<string, string> } | undefined)?.Variables?.NODE_OPTIONS }).toEqual({
        id,
        options: '--enable-source-maps',
      });
  });
});

describe('outputs', () => {
  it.each(REGIONS)('%s: per table its name, inbound and dead-letter queue URLs; the alarm topic; the dashboard URLs', (region) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const here = Object.entries(TABLE_REGIONS)
      .filter(([, regions]) => regions.includes(region))
      .map(([t]) => t);

    // Act
    const outputs = Object.values(template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }>);
    const values = outputs.map((o) => JSON.stringify(o.Value));

    // Assess
    for (const table of here) {
      const ids = idsOf(region, table);
      expect(values).toContain(JSON.stringify({ Ref: ids.table }));
      expect(values).toContain(JSON.stringify({ Ref: ids.inbound }));
      expect(values).toContain(JSON.stringify({ Ref: ids.dlq }));
    }
    expect(outputs.filter((o) => o.Description.startsWith('every regionsync alarm'))).toHaveLength(1);
    expect(values.some((v) => v.includes(`https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=`))).toBe(true);
  });
});

describe('table definition', () => {
  it.each(TABLE_REGIONS.orders!)('orders in %s: pk (S) + sk (N), provisioned 7/3', (region) => {
    // Prepare
    const { template } = regionOf(synth, region);

    // Act
    const props = propertiesOf(template, idsOf(region, 'orders').table);

    // Assess
    expect(props.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(props.AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'N' },
    ]);
    expect(props.ProvisionedThroughput).toEqual({ ReadCapacityUnits: 7, WriteCapacityUnits: 3 });
    expect(props.BillingMode ?? 'PROVISIONED').toBe('PROVISIONED');
  });

  it.each(TABLE_REGIONS.profiles!)('profiles in %s: id (S) only, pay-per-request', (region) => {
    // Prepare
    const { template } = regionOf(synth, region);

    // Act
    const props = propertiesOf(template, idsOf(region, 'profiles').table);

    // Assess
    expect(props.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
    expect(props.AttributeDefinitions).toEqual([{ AttributeName: 'id', AttributeType: 'S' }]);
    expect(props.BillingMode).toBe('PAY_PER_REQUEST');
    expect(props).not.toHaveProperty('ProvisionedThroughput');
  });

  it.each(PLACEMENTS)('$table in $region: NEW_AND_OLD_IMAGES stream, TTL on the configured attribute, PITR, retained on delete', ({ region, table }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const ttlAttribute = table === 'profiles' ? 'expiresAt' : '_rs_exp';

    // Act
    const resource = resources(template)[idsOf(region, table).table]!;

    // Assess
    expect(resource.Properties).toMatchObject({
      TableName: table,
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(resource.DeletionPolicy).toBe('Retain');
  });
});

describe('functions', () => {
  it.each(REGIONS)('%s: every function is nodejs24.x on arm64, two per table', (region) => {
    // Prepare
    const { template, stack } = regionOf(synth, region);

    // Act
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).map((r) => r.Properties);

    // Assess
    expect(functions).toHaveLength(2 * stack.tables.size);
    for (const fn of functions) {
      expect(fn.Runtime).toBe('nodejs24.x');
      expect(fn.Architectures).toEqual(['arm64']);
    }
  });

  it.each(PLACEMENTS)('$table in $region: the stream feeds the shipper from TRIM_HORIZON with partial-batch failures, within bounds', ({ region, table }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const ids = idsOf(region, table);

    // Act
    const mappings = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { EventSourceArn: { 'Fn::GetAtt': [ids.table, 'StreamArn'] } } }),
    );

    // Assess
    expect(mappings).toHaveLength(1);
    const props = { ...mappings[0]!.Properties };
    delete props.Tags;
    expect(props).toEqual({
      EventSourceArn: { 'Fn::GetAtt': [ids.table, 'StreamArn'] },
      FunctionName: { Ref: ids.shipper },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 500,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ParallelizationFactor: 1,
      FilterCriteria: { Filters: expect.any(Array) },
      // Bounds and on-failure destination: test/infra/stream-bounds.test.ts.
      MaximumRetryAttempts: expect.any(Number),
      MaximumRecordAgeInSeconds: expect.any(Number),
      DestinationConfig: { OnFailure: { Destination: expect.anything() } },
    });
    // The echo filter: at most Lambda's default of 5 patterns, each the JSON of one in echo-filter.ts
    const patterns = (props.FilterCriteria as { Filters: { Pattern: string }[] }).Filters.map((f) => JSON.parse(f.Pattern));
    expect(patterns).toEqual(shipperStreamFilterPatterns({ name: table === 'orders' ? 'pk' : 'id', type: 'S' }));
    expect(patterns.length).toBeLessThanOrEqual(5);
  });

  it.each(PLACEMENTS)('$table in $region: the inbound queue feeds the applier with partial-batch failures', ({ region, table }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const ids = idsOf(region, table);

    // Act
    const mappings = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { EventSourceArn: { 'Fn::GetAtt': [ids.inbound, 'Arn'] } } }),
    );

    // Assess
    expect(mappings).toHaveLength(1);
    expect(mappings[0]!.Properties).toMatchObject({
      FunctionName: { Ref: ids.applier },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(mappings[0]!.Properties).not.toHaveProperty('StartingPosition');
  });

  it.each(REGIONS)('%s: no event source mapping other than one stream and one queue (inbound) per table', (region) => {
    // Prepare
    const { template, stack } = regionOf(synth, region);

    // Act
    const count = Object.keys(template.findResources('AWS::Lambda::EventSourceMapping')).length;

    // Assess: no mapping on a backlog queue (Lambda would long-poll it all month); a schedule drains it.
    expect(count).toBe(2 * stack.tables.size);
  });

  it.each(PLACEMENTS)("$table in $region: the backlog is drained by a schedule every minute that invokes the table's shipper, and only it", ({
    region,
    table,
  }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const rt = replicatedTable(regionOf(synth, region), table);
    const shipperArn = { 'Fn::GetAtt': [logicalId(rt.shipper), 'Arn'] };

    // Act
    const rules = Object.entries(template.findResources('AWS::Events::Rule')).filter(([, r]) =>
      JSON.stringify(r.Properties.Targets).includes(logicalId(rt.shipper)),
    );
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).filter(
      (p) => p.Properties.Principal === 'events.amazonaws.com' && JSON.stringify(p.Properties.FunctionName) === JSON.stringify(shipperArn),
    );

    // Assess
    expect(rules).toHaveLength(1);
    const [ruleId, rule] = rules[0]!;
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    expect(rule.Properties.Targets).toEqual([
      { Id: 'Shipper', Arn: shipperArn, Input: JSON.stringify({ regionsync: 'drain-backlog' }), RetryPolicy: { MaximumRetryAttempts: 0 } },
    ]);
    expect(permissions.map((p) => p.Properties)).toEqual([
      { Action: 'lambda:InvokeFunction', FunctionName: shipperArn, Principal: 'events.amazonaws.com', SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] } },
    ]);
  });
});

describe('queues', () => {
  it.each(PLACEMENTS)('$table in $region: named queues, encrypted with SQS-managed keys, inbound redrives to the DLQ', ({ region, table }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const ids = idsOf(region, table);

    // Act
    const inbound = propertiesOf(template, ids.inbound);
    const dlq = propertiesOf(template, ids.dlq);

    // Assess
    expect(inbound).toMatchObject({ QueueName: inboundQueueName(APP_NAME, table), SqsManagedSseEnabled: true });
    expect(dlq).toMatchObject({ QueueName: deadLetterQueueName(APP_NAME, table), SqsManagedSseEnabled: true });
    expect(inbound.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] }, maxReceiveCount: 10 });
    expect(dlq).not.toHaveProperty('RedrivePolicy');
    expect(dlq.MessageRetentionPeriod).toBeGreaterThan(inbound.MessageRetentionPeriod);
  });

  it.each(PLACEMENTS)('$table in $region: inbound visibility timeout is at least 6x the applier timeout', ({ region, table }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const ids = idsOf(region, table);

    // Act
    const visibility = propertiesOf(template, ids.inbound).VisibilityTimeout as number;
    const applierTimeout = propertiesOf(template, ids.applier).Timeout as number;

    // Assess
    expect(applierTimeout).toBeGreaterThan(0);
    expect(visibility).toBeGreaterThanOrEqual(6 * applierTimeout);
  });

  it.each(REGIONS)('%s: every queue is encrypted and has a policy denying requests without TLS', (region) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const queueIds = Object.keys(template.findResources('AWS::SQS::Queue'));
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).map((r) => r.Properties);

    // Act
    const unprotected = queueIds.filter((q) => {
      const policy = policies.find((p) => JSON.stringify(p.Queues) === JSON.stringify([{ Ref: q }]));
      return !policy?.PolicyDocument.Statement.some(
        (s: any) =>
          s.Effect === 'Deny' &&
          JSON.stringify(s.Principal) === JSON.stringify({ AWS: '*' }) &&
          s.Action === 'sqs:*' &&
          s.Condition?.Bool?.['aws:SecureTransport'] === 'false' &&
          JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [q, 'Arn'] }),
      );
    });

    // Assess
    expect(queueIds.length).toBeGreaterThan(0);
    expect(unprotected).toEqual([]);
    template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });
});

describe('function settings (REGIONSYNC_SETTINGS)', () => {
  it.each(PLACEMENTS)('$table in $region: the shipper targets exactly the other regions of its table, at their inbound queue URLs', ({ region, table }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const others = TABLE_REGIONS[table]!.filter((r) => r !== region);

    // Act
    const settings = settingsOf(template, idsOf(region, table).shipper);

    // Assess
    expect(settings.targets).toEqual(others.map((r) => ({ region: r, queueUrl: inboundQueueUrl(table, r) })));
    expect(settings).not.toHaveProperty('sourceRegions');
    expect(settings).not.toHaveProperty('deadLetterQueueUrl');
  });

  it.each(PLACEMENTS)('$table in $region: the applier accepts exactly the other regions and dead-letters to its own DLQ', ({ region, table }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const ids = idsOf(region, table);

    // Act
    const settings = settingsOf(template, ids.applier);

    // Assess
    expect([...settings.sourceRegions!].sort()).toEqual(TABLE_REGIONS[table]!.filter((r) => r !== region).sort());
    // `Ref` of a queue is its URL.
    expect(settings.deadLetterQueueUrl).toBe(ref(ids.dlq));
    expect(settings).not.toHaveProperty('targets');
  });

  it.each(PLACEMENTS)("$table in $region: both functions describe the same table, key and TTL, and pass the handlers' settings check", ({ region, table }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const ids = idsOf(region, table);
    const expected = {
      tableName: table,
      logicalTable: table,
      region,
      key: table === 'orders' ? { partitionKey: 'pk', sortKey: 'sk' } : { partitionKey: 'id' },
      ttlAttribute: table === 'profiles' ? 'expiresAt' : '_rs_exp',
      tombstoneTtlSeconds: DEFAULT_TOMBSTONE_TTL_SECONDS,
    };

    for (const fn of [ids.shipper, ids.applier]) {
      // Act
      const raw = JSON.stringify(settingsOf(template, fn));
      const settings = readSettings({ [ENV.settings]: raw });

      // Assess
      expect(settings).toMatchObject(expected);
      expect(settings.maxMessageBytes).toBeGreaterThan(1024);
      expect(settings.maxMessageBytes).toBeLessThanOrEqual(1024 * 1024);
    }
  });
});
