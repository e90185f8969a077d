/**
 * Region isolation in the shipper (issue 5), on fakes: a target that fails gets its messages
 * parked in the source region's backlog queue and the batch succeeds; only when the backlog fails
 * as well does the batch fail. The drainer delivers parked messages and backs off while the
 * target is still down.
 */
import { describe, expect, it } from 'vitest';
import type { SQSEvent } from 'aws-lambda';
import { ChangeMessageVisibilityBatchCommand, type SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { Shipper } from '../../src/functions/shipper/shipper.ts';
import { BacklogDrainer } from '../../src/functions/shipper/drain.ts';
import { KEY, queueUrl, settingsFor, silentLogger, silentMetrics } from '../support/cluster.ts';
import { FakeSqs, FakeTable } from '../support/fakes.ts';

const REGIONS = ['us-west-1', 'eu-west-2', 'ap-south-2'];
const [US, EU, AP] = REGIONS as [string, string, string];
const BACKLOG = 'backlog-us-west-1';

function setup() {
  const table = new FakeTable(US, KEY);
  const sqs = new FakeSqs();
  const settings = { ...settingsFor(US, REGIONS), backlogQueueUrl: BACKLOG };
  const shipper = new Shipper(settings, { dynamodb: table.client, sqsFor: () => sqs.client, logger: silentLogger(), metrics: silentMetrics() });
  table.appPut({ pk: { S: 'a' }, sk: { N: '1' }, v: { S: 'x' } });
  return { table, sqs, settings, shipper };
}

describe('shipper with a failing target', () => {
  it("parks the failed target's messages in the backlog, still sends to the others, and acknowledges the batch", async () => {
    // Prepare
    const { table, sqs, shipper } = setup();
    sqs.failingQueues.add(queueUrl(AP));
    // Act
    const res = await shipper.handle({ Records: table.stream });
    // Assess
    expect(res.batchItemFailures).toEqual([]);
    expect(sqs.sent.map((m) => m.queueUrl).sort()).toEqual([BACKLOG, queueUrl(EU)].sort());
    expect(sqs.sent.find((m) => m.queueUrl === BACKLOG)!.body).toBe(sqs.sent.find((m) => m.queueUrl === queueUrl(EU))!.body);
  });

  it('fails the batch when the backlog cannot take the messages either', async () => {
    // Prepare
    const { table, sqs, shipper } = setup();
    sqs.failingQueues.add(queueUrl(AP));
    sqs.failingQueues.add(BACKLOG);
    // Act
    const res = await shipper.handle({ Records: table.stream });
    // Assess
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: table.stream[0]!.dynamodb!.SequenceNumber }]);
  });
});

describe('backlog drainer', () => {
  const event = (target: string, n: number): SQSEvent => ({
    Records: Array.from({ length: n }, (_, i) => ({
      messageId: `m${i}`,
      receiptHandle: `r${i}`,
      body: `{"schema":1,"changes":[${i}]}`,
      attributes: { ApproximateReceiveCount: '3' } as never,
      messageAttributes: { target: { stringValue: target, dataType: 'String' } } as never,
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn',
      awsRegion: US,
    })),
  });

  it('delivers parked messages to their target', async () => {
    // Prepare
    const sqs = new FakeSqs();
    const drainer = new BacklogDrainer(
      { ...settingsFor(US, REGIONS), backlogQueueUrl: BACKLOG },
      { sqsFor: () => sqs.client, logger: silentLogger(), metrics: silentMetrics() },
    );
    // Act
    const res = await drainer.handle(event(AP, 3));
    // Assess
    expect(res.batchItemFailures).toEqual([]);
    expect(sqs.sent.map((m) => m.queueUrl)).toEqual([queueUrl(AP), queueUrl(AP), queueUrl(AP)]);
  });

  it('keeps every message of a target that is still down, and hides them with a backoff', async () => {
    // Prepare
    const sqs = new FakeSqs();
    sqs.failingQueues.add(queueUrl(AP));
    const visibility: unknown[] = [];
    const client = {
      send: (c: unknown) => {
        if (c instanceof ChangeMessageVisibilityBatchCommand) return Promise.resolve(void visibility.push(...(c.input.Entries ?? [])));
        return (sqs.client as { send: (c: unknown) => Promise<unknown> }).send(c as SendMessageBatchCommand);
      },
    };
    const drainer = new BacklogDrainer(
      { ...settingsFor(US, REGIONS), backlogQueueUrl: BACKLOG },
      { sqsFor: () => client as never, logger: silentLogger(), metrics: silentMetrics() },
    );
    // Act
    const res = await drainer.handle(event(AP, 2));
    // Assess
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }, { itemIdentifier: 'm1' }]);
    expect(visibility).toEqual([
      { Id: '0', ReceiptHandle: 'r0', VisibilityTimeout: 8 },
      { Id: '1', ReceiptHandle: 'r1', VisibilityTimeout: 8 },
    ]);
  });
});
