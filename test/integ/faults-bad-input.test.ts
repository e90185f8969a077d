/**
 * Bad input on moto, through the real deploy and the local runtime: malformed, unknown-schema,
 * oversized and wrong-table messages go to the dead-letter queue with the reason attached and
 * never hold up the valid messages around them; an item at DynamoDB's 400 KB limit replicates
 * (packed alone, accepted by SQS and DynamoDB); `regionsync redrive` moves dead letters back.
 */
import { GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage, packChanges, type Change } from '../../src/core/change.ts';
import { deadLetterQueueName, inboundQueueName, META } from '../../src/core/contract.ts';
import { encodeVersion, HybridLogicalClock, regionOfVersion } from '../../src/core/version.ts';
import { PACKED_MESSAGE_BYTES } from '../../src/infra/constructs/replicated-table.ts';
import { dynamodb, sqs as sqsOf } from '../../src/ops/aws.ts';
import type { Running } from '../../dev/cli/up.ts';
import { changeOf, opsTable, type OpsTable } from '../../src/ops/ship.ts';
import { eventually } from '../support/eventually.ts';
import { peekAll } from '../support/queues.ts';
import { queueDepth } from '../../src/ops/queue-depth.ts';
import { runCli } from '../support/cli.ts';
import { SHARED_APP, SHARED_CONFIG, sharedDeployment, startSharedRuntime } from '../support/shared-deployment.ts';

// Its own table of the shared deployment (fixtures/shared.config.ts); only its functions run here.
const CONFIG = SHARED_CONFIG;
const TABLE = 'fbad_items';
const APP = SHARED_APP;
const [SRC, DST] = ['eu-west-1', 'ap-southeast-2'] as const;

let endpoint: string;
let running: Running;
let ops: OpsTable;
const clock = new HybridLogicalClock(SRC);

const db = (region: string) => dynamodb({ endpoint }, region);
const sqs = (region: string) => sqsOf({ endpoint }, region);
const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: id }, sk: { N: '1' } });
const get = async (region: string, id: string) => (await db(region).send(new GetItemCommand({ TableName: TABLE, Key: key(id), ConsistentRead: true }))).Item;
const queueUrl = async (region: string, name: string) => (await sqs(region).send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;

/** A change as SRC's shipper would make it, for an item with the given attributes. */
function changeFor(id: string, attrs: Record<string, AttributeValue>): Change {
  const item = { ...key(id), ...attrs, [META.version]: { S: encodeVersion(clock.next()) }, [META.writer]: { S: 'stamp' } };
  return changeOf(ops, item as never, Date.now());
}

const depth = (url: string, region: string): Promise<number> => queueDepth(sqs(region), url);
const cli = runCli;

beforeAll(async () => {
  const shared = await sharedDeployment();
  endpoint = shared.endpoint;
  ops = opsTable(shared.config, TABLE, { endpoint });
  running = await startSharedRuntime({ endpoint, config: shared.config, tables: [TABLE], publishMetrics: false, logger: () => undefined });
});

afterAll(async () => {
  await running?.stop();
});

describe('bad input', () => {
  it('malformed, unknown-schema, oversized and wrong-table messages are dead-lettered with their reason; valid ones around them apply', async () => {
    // Prepare
    const inbound = await queueUrl(DST, inboundQueueName(APP, TABLE));
    const dlq = await queueUrl(DST, deadLetterQueueName(APP, TABLE));
    const wrongTable = { ...changeFor('wrong-table', { v: { S: 'x' } }), table: 'someone_else' };
    const bodies = [
      encodeMessage([changeFor('before', { v: { S: 'ok' } })]),
      '{"schema":1,"changes":[',
      JSON.stringify({ schema: 99, changes: [changeFor('future', { v: { S: 'x' } })] }),
      // 420 KB of attribute: over DynamoDB's item limit, under SQS's message limit.
      encodeMessage([changeFor('too-big', { blob: { S: 'x'.repeat(420 * 1024) } })]),
      encodeMessage([wrongTable, changeFor('beside-bad', { v: { S: 'ok' } })]),
      encodeMessage([changeFor('after', { v: { S: 'ok' } })]),
    ];
    // Act
    for (const body of bodies) await sqs(DST).send(new SendMessageCommand({ QueueUrl: inbound, MessageBody: body }));
    // Assess: the valid changes applied, none held up by the bad ones.
    for (const id of ['before', 'beside-bad', 'after'])
      expect(
        (
          await eventually(
            () => get(DST, id),
            (i) => i !== undefined,
          )
        )?.v,
      ).toEqual({ S: 'ok' });
    for (const id of ['future', 'too-big', 'wrong-table']) expect(await get(DST, id)).toBeUndefined();
    await eventually(
      () => depth(dlq, DST),
      (n) => n >= 4,
    );
    const dead = await peekAll(sqs(DST), dlq);
    const reasons = dead.map((m) => m.MessageAttributes?.reason?.StringValue ?? '').sort();
    expect(reasons).toHaveLength(4);
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/not JSON/),
        expect.stringMatching(/unknown message schema 99/),
        // Caught by the applier's own size check, or by DynamoDB's rejection if it got that far.
        expect.stringMatching(/item limit|rejected by DynamoDB: .*size/i),
        expect.stringMatching(/table "someone_else"/),
      ]),
    );
    for (const m of dead) expect(m.MessageAttributes?.table?.StringValue).toBe(TABLE);
    // The wrong-table message's valid neighbour is not in the dead letter: only the bad change is.
    const wrong = dead.find((m) => /someone_else/.test(m.MessageAttributes!.reason!.StringValue!))!;
    expect(wrong.Body).not.toContain('beside-bad');
    expect(await depth(inbound, DST)).toBe(0);
  });

  it('an item at the 400 KB limit replicates: packed alone into one message that SQS and DynamoDB accept', async () => {
    // Prepare: an item at the limit once stamped: DynamoDB documents 400 KB (names and values
    // count); moto rejects above 405,000 bytes. regionsync's metadata needs about 200 of them.
    const blob = 'y'.repeat(399_000);
    const big = changeFor('probe', { blob: { S: blob } });
    const small = changeFor('small', { v: { S: 'ok' } });
    const { bodies, oversized } = packChanges([small, big, small], PACKED_MESSAGE_BYTES);
    // Assess (packing): the large change is not packed with others: it travels alone, under SQS's 1 MiB.
    expect(oversized).toEqual([big]);
    expect(bodies.every((b) => !b.includes(blob))).toBe(true);
    expect(Buffer.byteLength(encodeMessage([big]))).toBeLessThan(1024 * 1024);
    // Act: through the real pipeline.
    await db(SRC).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('big'), blob: { S: blob } } }));
    await db(SRC).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('next-to-big'), v: { S: 'ok' } } }));
    // Assess
    const copy = await eventually(
      () => get(DST, 'big'),
      (i) => i !== undefined,
      30_000,
    );
    expect(copy?.blob?.S?.length).toBe(blob.length);
    expect(regionOfVersion(copy?.[META.version]?.S)).toBe(SRC);
    expect(
      (
        await eventually(
          () => get(DST, 'next-to-big'),
          (i) => i !== undefined,
        )
      )?.v,
    ).toEqual({ S: 'ok' });
  });

  it('regionsync redrive --json moves the dead-letter queue back to the inbound queue and reports what moved', async () => {
    // Prepare: a valid change parked in the DLQ (as after maxReceiveCount during a throttle), plus what test 1 left.
    const dlq = await queueUrl(DST, deadLetterQueueName(APP, TABLE));
    await sqs(DST).send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: encodeMessage([changeFor('redriven', { v: { S: 'back' } })]),
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'throttled' } },
      }),
    );
    const before = await depth(dlq, DST);
    // Act
    const out = await cli(['redrive', '--region', DST, '--table', TABLE, '--config', CONFIG, '--endpoint', endpoint, '--json']);
    // Assess
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as { moved: number; changes: number; byReason: Record<string, number>; region: string };
    expect(report.region).toBe(DST);
    expect(report.moved).toBe(before);
    expect(report.byReason.throttled).toBe(1);
    expect(
      (
        await eventually(
          () => get(DST, 'redriven'),
          (i) => i !== undefined,
        )
      )?.v,
    ).toEqual({ S: 'back' });
    // The bad messages come back to the DLQ (still bad), the valid one does not.
    expect(
      await eventually(
        () => depth(dlq, DST),
        (n) => n === before - 1,
      ),
    ).toBe(before - 1);
  });

  it('regionsync redrive rejects a region the table does not replicate in', async () => {
    // Act
    const out = await cli(['redrive', '--region', 'us-west-2', '--table', TABLE, '--config', CONFIG, '--endpoint', endpoint]);
    // Assess
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/--region us-west-2 is not a region of table fbad_items/);
  });
});
