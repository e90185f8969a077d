/**
 * Least privilege: what each function's execution role may do, exactly, and no wildcards anywhere.
 *
 * Each function's grants are checked in both directions: every `required` grant is present
 * (or the function cannot work), and nothing outside `allowed` is (`allowed` = `required` plus
 * harmless metadata reads on the same resources, so tightening a grant never fails a test).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  inboundQueueArn,
  logicalId,
  propertiesOf,
  ref,
  regionOf,
  REGIONS,
  replicatedTable,
  synthesizeFixture,
  TABLE_REGIONS,
  type SynthesizedRegion,
} from '../support/infra-fixture.ts';
import { allowedOf, allStatements, grantsOf, on, policiesOfFunction, type SourcedStatement } from '../support/infra-iam.ts';

const PLACEMENTS = Object.entries(TABLE_REGIONS).flatMap(([table, regions]) => regions.map((region) => ({ region, table })));
const LOG_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
/** The only AWS-managed policy a role may carry (CloudWatch Logs); see the nag test for why it should go. */
const BASIC_EXECUTION_ROLE = 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';

let synth: Map<string, SynthesizedRegion>;

beforeAll(() => {
  synth = synthesizeFixture();
});

function ids(region: string, table: string) {
  const rt = replicatedTable(regionOf(synth, region), table);
  return {
    table: logicalId(rt.table),
    shipper: logicalId(rt.shipper),
    applier: logicalId(rt.applier),
    inbound: logicalId(rt.inboundQueue),
    dlq: logicalId(rt.deadLetterQueue),
    backlog: logicalId(rt.backlogQueue),
    streamFailures: logicalId(rt.streamFailureQueue),
    tombstones: logicalId(regionOf(synth, region).stack.tombstones!.table),
  };
}

/** Item access to the region's tombstone table (lww): reads and writes of this table's rows only (see the condition test). */
const TOMBSTONE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];

/** Log writes, if a role has them itself rather than through the managed policy, must target the function's own log group. */
function ownLogGrants(region: string, functionId: string): string[] {
  const logGroup = propertiesOf(regionOf(synth, region).template, functionId).LoggingConfig?.LogGroup as { Ref: string } | undefined;
  expect(logGroup?.Ref, `${functionId} logs to a log group of its own`).toBeTypeOf('string');
  return on(ref(logGroup!.Ref, 'Arn'), ...LOG_ACTIONS);
}

/** `actual` holds every `required` grant and nothing outside `allowed`. */
function expectExactly(actual: string[], required: string[], allowed: string[]) {
  expect({ missing: required.filter((g) => !actual.includes(g)), excess: actual.filter((g) => !allowed.includes(g)) }).toEqual({ missing: [], excess: [] });
}

describe('shipper role', () => {
  function expectedShipper(region: string, table: string) {
    const i = ids(region, table);
    const targets = TABLE_REGIONS[table]!.filter((r) => r !== region).map((r) => inboundQueueArn(table, r));
    const required = [
      // dynamodb:ListStreams has no resource-level permissions: AWS requires Resource "*" for it.
      ...on('*', 'dynamodb:ListStreams'),
      ...on(ref(i.table, 'StreamArn'), 'dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'),
      // Stamps (UpdateItem), put-backs (PutItem), removals (a mark, then DeleteItem; src/functions/shared/remove-item.ts),
      // and the read after an application's delete (test/infra/iam-observed.test.ts derives these from the calls made).
      ...on(ref(i.table, 'Arn'), 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem'),
      ...on(ref(i.tombstones, 'Arn'), ...TOMBSTONE_ACTIONS),
      ...targets.flatMap((arn) => on(arn, 'sqs:SendMessage')),
      // Region isolation: parks a failed target's changes in its own backlog queue, and drains it.
      ...on(ref(i.backlog, 'Arn'), 'sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'),
      // The stream mapping's on-failure destination (Lambda sends with the function's role) and
      // where the shipper parks records it can never stamp: its own region's stream-failures queue.
      ...on(ref(i.streamFailures, 'Arn'), 'sqs:SendMessage'),
    ];
    const metadata = [...on(ref(i.backlog, 'Arn'), 'sqs:GetQueueUrl'), ...on(ref(i.streamFailures, 'Arn'), 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl')];
    return {
      required,
      allowed: [...required, ...metadata, ...ownLogGrants(region, i.shipper)],
      targets,
      backlog: ref(i.backlog, 'Arn'),
      streamFailures: ref(i.streamFailures, 'Arn'),
    };
  }

  it.each(PLACEMENTS)("$table in $region: exactly stream read, item writes on its table, and sends to the other regions' queues", ({ region, table }) => {
    // Prepare
    const { required, allowed } = expectedShipper(region, table);

    // Act
    const actual = allowedOf(regionOf(synth, region).template, ids(region, table).shipper);

    // Assess
    expectExactly(actual, required, allowed);
  });

  it.each(PLACEMENTS)("$table in $region: sqs:SendMessage only to the other regions' inbound queues of this table", ({ region, table }) => {
    // Prepare
    const { targets, backlog, streamFailures } = expectedShipper(region, table);
    const ownQueue = inboundQueueArn(table, region);
    const otherTables = Object.keys(TABLE_REGIONS).filter((t) => t !== table);

    // Act
    const sendsTo = grantsOf(policiesOfFunction(regionOf(synth, region).template, ids(region, table).shipper).statements)
      .filter((g) => g.effect === 'Allow' && g.action === 'sqs:SendMessage')
      .map((g) => g.resource);

    // Assess
    expect(sendsTo.filter((r) => r !== backlog && r !== streamFailures).sort()).toEqual([...targets].sort());
    expect(sendsTo).not.toContain(ownQueue);
    expect(sendsTo.filter((arn) => otherTables.some((t) => arn.includes(`-${t}-`)))).toEqual([]);
  });
});

describe('applier role', () => {
  it.each(
    PLACEMENTS,
  )('$table in $region: exactly item writes on its table, its rows of the tombstone table, PutItem on the conflict log, consume its inbound queue, send to its DLQ', ({
    region,
    table,
  }) => {
    // Prepare
    const i = ids(region, table);
    const conflictLog = regionOf(synth, region).stack.conflictLog;
    expect(conflictLog, 'every fixture table keeps a conflict log (the default)').toBeDefined();
    const required = [
      // Changes (PutItem), and deletes' removals (a mark, then DeleteItem).
      ...on(ref(i.table, 'Arn'), 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'),
      ...on(ref(i.tombstones, 'Arn'), ...TOMBSTONE_ACTIONS),
      ...on(ref(logicalId(conflictLog!.table), 'Arn'), 'dynamodb:PutItem'),
      ...on(ref(i.inbound, 'Arn'), 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'),
      ...on(ref(i.dlq, 'Arn'), 'sqs:SendMessage'),
    ];
    const allowed = [
      ...required,
      ...on(ref(i.inbound, 'Arn'), 'sqs:GetQueueUrl'),
      ...on(ref(i.dlq, 'Arn'), 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'),
      ...ownLogGrants(region, i.applier),
    ];

    // Act
    const actual = allowedOf(regionOf(synth, region).template, i.applier);

    // Assess
    expectExactly(actual, required, allowed);
  });
});

describe('every role and policy', () => {
  it.each(PLACEMENTS)('$table in $region: roles are assumable by Lambda only and carry no AWS-managed policy beyond basic execution', ({ region, table }) => {
    // Prepare
    const { template } = regionOf(synth, region);

    for (const fn of [ids(region, table).shipper, ids(region, table).applier]) {
      // Act
      const { roleId, managedPolicyArns, statements } = policiesOfFunction(template, fn);
      const trust = propertiesOf(template, roleId).AssumeRolePolicyDocument.Statement;

      // Assess
      expect(trust).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }]);
      expect(managedPolicyArns.filter((arn) => arn !== BASIC_EXECUTION_ROLE)).toEqual([]);
      // The one conditional statement: the tombstone table, confined to this table's rows.
      const tombstoneArn = ref(ids(region, table).tombstones, 'Arn');
      expect(
        statements.filter(
          (s) => s.statement.Effect !== 'Allow' || (s.statement.Condition !== undefined && grantsOf([s]).some((g) => g.resource !== tombstoneArn)),
        ),
      ).toEqual([]);
    }
  });

  it.each(PLACEMENTS)('$table in $region: the tombstone table only for rows of its own table (dynamodb:LeadingKeys), never unconditionally', ({
    region,
    table,
  }) => {
    // Prepare
    const { template } = regionOf(synth, region);
    const tombstoneArn = ref(ids(region, table).tombstones, 'Arn');

    for (const fn of [ids(region, table).shipper, ids(region, table).applier]) {
      // Act
      const onTombstones = policiesOfFunction(template, fn).statements.filter((s) => grantsOf([s]).some((g) => g.resource === tombstoneArn));

      // Assess
      expect(onTombstones.length).toBe(1);
      expect(onTombstones[0]!.statement.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${table}#*`] } });
      expect([onTombstones[0]!.statement.Action].flat().sort()).toEqual([...TOMBSTONE_ACTIONS].sort());
    }
  });

  it.each(REGIONS)('%s: no Allow statement uses a wildcard action', (region) => {
    // Prepare
    const statements = allStatements(regionOf(synth, region).template);

    // Act
    const wildcards = statements
      .filter((s) => s.statement.Effect === 'Allow')
      .flatMap((s) =>
        [s.statement.Action ?? []]
          .flat()
          .filter((a) => a.includes('*'))
          .map((a) => `${s.source}: ${a}`),
      );

    // Assess
    expect(statements.length).toBeGreaterThan(0);
    expect(wildcards).toEqual([]);
  });

  it.each(REGIONS)('%s: Deny statements are only the TLS-only guards on queues (sqs:*) and the alarm topic (sns:Publish)', (region) => {
    // Prepare
    const statements = allStatements(regionOf(synth, region).template);

    // Act
    const denies = statements.filter((s) => s.statement.Effect === 'Deny');

    // Assess
    expect(denies.length).toBeGreaterThan(0);
    for (const { statement } of denies) {
      expect(['sqs:*', 'sns:Publish']).toContain(statement.Action);
      expect(statement).toMatchObject({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    }
  });

  it.each(REGIONS)('%s: Resource "*" only for dynamodb:ListStreams on shipper roles (AWS requires it there)', (region) => {
    // Prepare
    const { template, stack } = regionOf(synth, region);
    const shipperPolicies = new Set(
      [...stack.tables.keys()].flatMap((t) => policiesOfFunction(template, ids(region, t).shipper).statements.map((s) => s.source)),
    );
    const allowStatements: SourcedStatement[] = allStatements(template).filter((s) => s.statement.Effect === 'Allow' && s.statement.Principal === undefined);

    // Act
    const star = grantsOf(allowStatements).filter((g) => g.resource === '*' || g.resource.endsWith(':*'));
    const unexpected = star
      .filter((g) => !(g.action === 'dynamodb:ListStreams' && shipperPolicies.has(g.source)))
      .map((g) => `${g.source}: ${g.action} on ${g.resource}`);

    // Assess
    expect(star.length).toBe(stack.tables.size);
    expect(unexpected).toEqual([]);
  });
});
