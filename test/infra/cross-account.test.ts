/**
 * Regions in different accounts: each shipper must address the other regions' queues in the
 * account those regions actually deploy to, and those queues must let it send.
 *
 * These tests fail against the constructs as they stand (see the infra test report for the fix).
 */
import { Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import {
  ACCOUNTS,
  flatten,
  logicalId,
  regionOf,
  replicatedTable,
  settingsOf,
  synthesizeFixture,
  TABLE_REGIONS,
  type SynthesizedRegion,
} from '../support/infra-fixture.ts';
import { grantsOf, policiesOfFunction, type PolicyStatementJson } from '../support/infra-iam.ts';

const PLACEMENTS = Object.entries(TABLE_REGIONS).flatMap(([table, regions]) => regions.map((region) => ({ region, table })));

/** The Allow statements of the queue policy attached to `queueId`. */
function queueAllows(r: SynthesizedRegion, queueId: string): PolicyStatementJson[] {
  return Object.values(r.template.findResources('AWS::SQS::QueuePolicy'))
    .filter((p) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: queueId }]))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as PolicyStatementJson[])
    .filter((s) => s.Effect === 'Allow');
}

/** The AWS principals of a statement, flattened (`arn:${AWS::Partition}:iam::222222222222:root`, ...). */
function awsPrincipals(s: PolicyStatementJson): string[] {
  const aws = (s.Principal as { AWS?: unknown } | undefined)?.AWS;
  return (Array.isArray(aws) ? aws : aws === undefined ? [] : [aws]).map(flatten);
}

const accountOfArn = (arn: string): string | undefined => /^arn:.*:iam::(\d{12}):/.exec(arn)?.[1];

describe('every region in its own account (the fixture)', () => {
  let synth: Map<string, SynthesizedRegion>;

  beforeAll(() => {
    synth = synthesizeFixture();
  });

  it.each(PLACEMENTS)('$table in $region: the inbound queue lets the shipper accounts of the other regions send, and no one else', ({ region, table }) => {
    // Prepare
    const r = regionOf(synth, region);
    const queueId = logicalId(replicatedTable(r, table).inboundQueue);
    const senders = TABLE_REGIONS[table]!.filter((x) => x !== region).map((x) => ACCOUNTS[x]!);

    // Act
    const allows = queueAllows(r, queueId).filter((s) => [s.Action].flat().includes('sqs:SendMessage'));
    const admitted = allows.flatMap(awsPrincipals).map((arn) => accountOfArn(arn) ?? arn);

    // Assess
    expect([...new Set(admitted)].sort()).toEqual([...senders].sort());
    for (const s of allows) expect([s.Action].flat()).toEqual(['sqs:SendMessage']);
  });
});

describe('the global dashboard, with every region in its own account', () => {
  it('reads each region`s metrics from that region`s account (CloudWatch cross-account observability)', () => {
    // Prepare
    const synth = synthesizeFixture();
    const dashboards = [...synth.values()].flatMap((r) => Object.values(r.template.findResources('AWS::CloudWatch::Dashboard')));
    const global = dashboards
      .map((d) => JSON.parse(flatten(d.Properties.DashboardBody)) as { widgets: { properties: { metrics?: unknown[][] } }[] })
      .find((b) => JSON.stringify(b).includes('across'))!;

    // Act: every metric line's options (the last element of each line), with its region and account.
    const lines = global.widgets.flatMap((w) => w.properties.metrics ?? []).map((line) => line[line.length - 1] as { region?: string; accountId?: string });

    // Assess: the CDK leaves out the region and account of lines in the dashboard's own (us-east-1);
    // every other region's line names that region's account.
    const elsewhere = lines.filter((o) => o.region !== undefined && o.region !== 'us-east-1');
    expect(elsewhere.length).toBeGreaterThan(10);
    for (const options of elsewhere) expect(options.accountId, JSON.stringify(options)).toBe(ACCOUNTS[options.region!]);
    for (const options of lines.filter((o) => o.region === undefined || o.region === 'us-east-1'))
      expect([undefined, ACCOUNTS['us-east-1']]).toContain(options.accountId);
  });
});

describe('a region without an account uses the default account, also as a target', () => {
  const DEFAULT_ACCOUNT = '999999999999';
  const config: RegionSyncConfig = {
    appName: 'rsinfra',
    regions: [{ region: 'us-east-1', account: '111111111111' }, 'eu-west-1'],
    tables: [{ name: 'orders', partitionKey: { name: 'pk', type: 'string' } }],
  };
  let synth: Map<string, SynthesizedRegion>;

  beforeAll(() => {
    synth = synthesizeFixture(config, { defaultAccount: DEFAULT_ACCOUNT });
  });

  it('eu-west-1 deploys to the default account', () => {
    // Prepare: synthesized in beforeAll.
    // Act
    const account = regionOf(synth, 'eu-west-1').stack.account;

    // Assess
    expect(account).toBe(DEFAULT_ACCOUNT);
  });

  it('the us-east-1 shipper sends to the eu-west-1 queue in the default account, not in its own', () => {
    // Prepare
    const r = regionOf(synth, 'us-east-1');
    const shipper = logicalId(replicatedTable(r, 'orders').shipper);

    // Act
    const targets = settingsOf(r.template, shipper).targets;
    const sendsTo = grantsOf(policiesOfFunction(r.template, shipper).statements)
      .filter((g) => g.action === 'sqs:SendMessage')
      .map((g) => g.resource)
      // Its own region's backlog queue (region isolation) and stream-failures queue are not targets.
      .filter(
        (arn) => ![replicatedTable(r, 'orders').backlogQueue, replicatedTable(r, 'orders').streamFailureQueue].some((q) => arn === `\${${logicalId(q)}.Arn}`),
      );

    // Assess
    expect(Stack.of(replicatedTable(r, 'orders')).account).toBe('111111111111');
    expect(targets).toEqual([{ region: 'eu-west-1', queueUrl: `https://sqs.eu-west-1.\${AWS::URLSuffix}/${DEFAULT_ACCOUNT}/rsinfra-orders-inbound` }]);
    expect(sendsTo).toEqual([`arn:\${AWS::Partition}:sqs:eu-west-1:${DEFAULT_ACCOUNT}:rsinfra-orders-inbound`]);
  });
});
