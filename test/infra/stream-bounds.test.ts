/**
 * "No shard is ever blocked by one record", in the templates (moto checks neither IAM nor
 * alarms, so these are the proof): the shipper's stream mapping has bounded retries, a maximum
 * record age, bisecting, partial batch responses, and an on-failure destination, an SQS queue
 * that is encrypted, TLS-only and keeps messages 14 days; the shipper may send to that queue (and
 * no other new one); an alarm fires on any message in it; the shipper knows its URL to park records.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFailureQueueName } from '../../src/core/contract.ts';
import { alarmName } from '../../src/core/metrics.ts';
import { STREAM_MAX_RECORD_AGE, STREAM_RETRY_ATTEMPTS } from '../../src/infra/constructs/replicated-table.ts';
import {
  APP_NAME,
  flatten,
  logicalId,
  propertiesOf,
  ref,
  regionOf,
  replicatedTable,
  resources,
  settingsOf,
  synthesizeFixture,
  TABLE_REGIONS,
  type SynthesizedRegion,
} from '../support/infra-fixture.ts';
import { grantsOf, policiesOfFunction } from '../support/infra-iam.ts';

const PLACEMENTS = Object.entries(TABLE_REGIONS).flatMap(([table, regions]) => regions.map((region) => ({ region, table })));

let synth: Map<string, SynthesizedRegion>;
beforeAll(() => {
  synth = synthesizeFixture();
});

function parts(region: string, table: string) {
  const r = regionOf(synth, region);
  const rt = replicatedTable(r, table);
  const shipper = logicalId(rt.shipper);
  const queue = logicalId(rt.streamFailureQueue);
  const mappings = Object.values(resources(r.template)).filter(
    (x) => x.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(x.Properties?.FunctionName) === JSON.stringify({ Ref: shipper }),
  );
  const stream = mappings.find((m) => m.Properties?.StartingPosition)!.Properties!;
  return { r, rt, shipper, queue, stream };
}

describe('shipper stream mapping bounds', () => {
  it.each(PLACEMENTS)('$table in $region: bounded retries and record age, bisect, partial batch responses, on-failure to its stream-failures queue', ({
    region,
    table,
  }) => {
    // Act
    const { stream, queue } = parts(region, table);
    // Assess
    expect(stream.MaximumRetryAttempts).toBe(STREAM_RETRY_ATTEMPTS);
    expect(stream.MaximumRetryAttempts).toBeGreaterThanOrEqual(0);
    expect(stream.MaximumRecordAgeInSeconds).toBe(STREAM_MAX_RECORD_AGE.toSeconds());
    // Left for a redrive before the stream drops the records (24 h).
    expect(stream.MaximumRecordAgeInSeconds).toBeLessThan(86_400);
    expect(stream.BisectBatchOnFunctionError).toBe(true);
    expect(stream.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(flatten(stream.DestinationConfig.OnFailure.Destination)).toBe(ref(queue, 'Arn'));
  });

  it.each(PLACEMENTS)('$table in $region: the stream-failures queue is encrypted, TLS-only, 14-day retention, named for the table', ({ region, table }) => {
    // Prepare
    const { r, queue } = parts(region, table);
    // Act
    const props = propertiesOf(r.template, queue);
    const policies = Object.values(resources(r.template)).filter(
      (x) => x.Type === 'AWS::SQS::QueuePolicy' && JSON.stringify(x.Properties!.Queues) === JSON.stringify([{ Ref: queue }]),
    );
    // Assess
    expect(props.QueueName).toBe(streamFailureQueueName(APP_NAME, table));
    expect(props.SqsManagedSseEnabled).toBe(true);
    expect(props.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    const statements = policies.flatMap(
      (p) => p.Properties!.PolicyDocument.Statement as { Effect: string; Condition?: Record<string, Record<string, string>> }[],
    );
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it.each(PLACEMENTS)('$table in $region: the shipper may SendMessage to that queue (Lambda sends the on-failure record with its role), and knows its URL', ({
    region,
    table,
  }) => {
    // Prepare
    const { r, shipper, queue } = parts(region, table);
    // Act
    const grants = grantsOf(policiesOfFunction(r.template, shipper).statements).filter((g) => g.effect === 'Allow' && g.resource === ref(queue, 'Arn'));
    const settings = settingsOf(r.template, shipper);
    // Assess: send, and metadata reads only; never receive or delete (only redrive reads it).
    expect(grants.map((g) => g.action).sort()).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
    expect(settings.streamFailureQueueUrl).toBe(ref(queue));
  });

  it.each(PLACEMENTS)('$table in $region: an alarm fires on any message in the stream-failures queue', ({ region, table }) => {
    // Prepare
    const { r } = parts(region, table);
    // Act
    const alarm = Object.values(resources(r.template)).find(
      (x) => x.Type === 'AWS::CloudWatch::Alarm' && x.Properties?.AlarmName === alarmName(APP_NAME, table, 'streamFailures'),
    )?.Properties;
    // Assess
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: streamFailureQueueName(APP_NAME, table) }],
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(alarm!.AlarmActions).toHaveLength(1);
  });
});
