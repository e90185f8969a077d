/**
 * Event-source-mapping semantics of the local pollers, against in-memory fakes of the
 * DynamoDB Streams and SQS APIs (moto cannot close shards or age records on demand).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { _Record, DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import type { EventSourceMappingConfiguration } from '@aws-sdk/client-lambda';
import { CheckpointStore } from '../../dev/local/checkpoints.ts';
import { resolveIntrinsic, toMappingInfo } from '../../dev/local/discovery.ts';
import type { InvokeOutcome } from '../../dev/local/function-host.ts';
import { batchItemFailures, newStats, type MappingStats } from '../../dev/local/poller-common.ts';
import { SqsPoller, toLambdaSqsRecord } from '../../dev/local/sqs-poller.ts';
import { StreamPoller } from '../../dev/local/stream-poller.ts';
import { sleep } from '../../src/core/concurrency.ts';

const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/T/stream/2024-01-01T00:00:00.000';
const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:work';
let stateDir: string;
let files = 0;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'regionsync-pollers-'));
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function record(seq: number, ageSeconds = 0): _Record {
  return {
    eventID: `e${seq}`,
    eventName: 'INSERT',
    dynamodb: {
      ApproximateCreationDateTime: new Date(Date.now() - ageSeconds * 1000),
      Keys: { pk: { S: `k${seq}` } },
      NewImage: { pk: { S: `k${seq}` }, b: { B: new Uint8Array([seq % 256]) } },
      SequenceNumber: String(seq),
      SizeBytes: 10,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

interface FakeShard {
  id: string;
  parent?: string;
  records: _Record[];
  closed?: boolean;
}

/** Just enough of DynamoDB Streams: iterators are "shardId|position". */
class FakeStreams {
  constructor(public shards: FakeShard[]) {}
  async send(command: { constructor: { name: string }; input: any }): Promise<any> {
    const input = command.input;
    switch (command.constructor.name) {
      case 'DescribeStreamCommand':
        return { StreamDescription: { Shards: this.shards.map((s) => ({ ShardId: s.id, ParentShardId: s.parent })) } };
      case 'GetShardIteratorCommand': {
        const shard = this.shard(input.ShardId);
        const seqs = shard.records.map((r) => BigInt(r.dynamodb!.SequenceNumber!));
        const pos =
          input.ShardIteratorType === 'TRIM_HORIZON'
            ? 0
            : input.ShardIteratorType === 'LATEST'
              ? shard.records.length
              : seqs.filter((s) => s <= BigInt(input.SequenceNumber)).length;
        return { ShardIterator: `${shard.id}|${pos}` };
      }
      case 'GetRecordsCommand': {
        const [id, p] = String(input.ShardIterator).split('|');
        const shard = this.shard(id!);
        const pos = Number(p);
        const records = shard.records.slice(pos, pos + (input.Limit ?? 1000));
        const next = pos + records.length;
        return { Records: records, NextShardIterator: shard.closed && next >= shard.records.length ? undefined : `${id}|${next}` };
      }
      default:
        throw new Error(`unexpected ${command.constructor.name}`);
    }
  }
  private shard(id: string): FakeShard {
    const s = this.shards.find((x) => x.id === id);
    if (!s) throw new Error(`no shard ${id}`);
    return s;
  }
}

type Reply = { result?: unknown; error?: string };

function mapping(overrides: Partial<EventSourceMappingConfiguration>, arn = STREAM_ARN) {
  return toMappingInfo(
    { UUID: 'uuid-1', EventSourceArn: arn, FunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:f', State: 'Enabled', ...overrides },
    'eu-west-1',
  );
}

function outcome(reply: Reply): InvokeOutcome {
  return reply.error
    ? { ok: false, error: { errorType: 'Error', errorMessage: reply.error }, requestId: 'r', durationMs: 1, timedOut: false }
    : { ok: true, result: reply.result ?? null, requestId: 'r', durationMs: 1 };
}

async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Runs a stream poller until `done`; returns the sequence numbers of every invocation. */
async function runStream(opts: {
  shards: FakeShard[];
  mapping?: Partial<EventSourceMappingConfiguration>;
  reply?: (seqs: string[], call: number) => Reply;
  done: (calls: string[][]) => boolean;
  checkpointFile?: string;
}): Promise<{ calls: string[][]; stats: MappingStats; logs: string[]; checkpoints: CheckpointStore; events: any[] }> {
  const calls: string[][] = [];
  const events: any[] = [];
  const logs: string[] = [];
  const stats = newStats({ uuid: 'uuid-1', region: 'eu-west-1', functionName: 'f', eventSourceArn: STREAM_ARN, source: 'dynamodb' });
  const file = opts.checkpointFile ?? join(stateDir, `cp-${files++}.json`);
  const checkpoints = await CheckpointStore.open(file, STREAM_ARN, 'f');
  const poller = new StreamPoller({
    mapping: mapping({ StartingPosition: 'TRIM_HORIZON', BatchSize: 10, ...opts.mapping }),
    functionName: 'f',
    client: new FakeStreams(opts.shards) as unknown as DynamoDBStreamsClient,
    invoke: async (event: any) => {
      events.push(event);
      const seqs = event.Records.map((r: any) => r.dynamodb.SequenceNumber as string);
      calls.push(seqs);
      return outcome(opts.reply?.(seqs, calls.length) ?? {});
    },
    checkpoints,
    stats,
    log: (level, message) => logs.push(`${level}: ${message}`),
    idlePollMs: 5,
    retryBaseMs: 1,
    shardRefreshMs: 20,
  });
  await poller.start();
  try {
    await until('the expected invocations', () => opts.done(calls));
  } finally {
    await poller.stop();
  }
  return { calls, stats, logs, checkpoints, events };
}

const seqRange = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('StreamPoller', () => {
  it('batches by BatchSize and checkpoints the last record', async () => {
    const { calls, checkpoints, stats, events } = await runStream({
      shards: [
        {
          id: 's1',
          records: seqRange(1, 25)
            .map(Number)
            .map((n) => record(n)),
        },
      ],
      done: (c) => c.flat().length >= 25,
    });
    expect(calls.map((c) => c.length)).toEqual([10, 10, 5]);
    expect(checkpoints.get('s1')?.sequenceNumber).toBe('25');
    expect(stats).toMatchObject({ invocations: 3, records: 25, succeeded: 25, failures: 0 });
    const first = events[0].Records[0];
    expect(first).toMatchObject({ eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: 'eu-west-1', eventSourceARN: STREAM_ARN });
    expect(first.dynamodb.NewImage.b).toEqual({ B: Buffer.from([1]).toString('base64') });
  });

  it('cuts batches to fit the 6 MB invocation payload', async () => {
    const big = 'x'.repeat(1.5 * 1024 * 1024);
    const records = seqRange(1, 10).map((n) => {
      const r = record(Number(n));
      r.dynamodb!.NewImage!.big = { S: big };
      return r;
    });
    const { calls } = await runStream({ shards: [{ id: 's1', records }], done: (c) => c.flat().length >= 10 });
    expect(calls.map((c) => c.length)).toEqual([3, 3, 3, 1]);
  });

  it('retries from the lowest reported batch item failure', async () => {
    const { calls, checkpoints, stats } = await runStream({
      shards: [{ id: 's1', records: [101, 102, 103, 104, 105].map((n) => record(n)) }],
      mapping: { FunctionResponseTypes: ['ReportBatchItemFailures'] },
      reply: (_, call) => (call === 1 ? { result: { batchItemFailures: [{ itemIdentifier: '105' }, { itemIdentifier: '103' }] } } : {}),
      done: (c) => c.length >= 2,
    });
    expect(calls).toEqual([seqRange(101, 105), seqRange(103, 105)]);
    expect(checkpoints.get('s1')?.sequenceNumber).toBe('105');
    expect(stats).toMatchObject({ invocations: 2, partialFailures: 1, succeeded: 5, discarded: 0 });
  });

  it('retries the whole batch when a batch item failure is not in the batch', async () => {
    const { calls } = await runStream({
      shards: [{ id: 's1', records: [1, 2].map((n) => record(n)) }],
      mapping: { FunctionResponseTypes: ['ReportBatchItemFailures'] },
      reply: (_, call) => (call === 1 ? { result: { batchItemFailures: [{ itemIdentifier: '' }] } } : {}),
      done: (c) => c.length >= 2,
    });
    expect(calls).toEqual([
      ['1', '2'],
      ['1', '2'],
    ]);
  });

  it('ignores batchItemFailures when the mapping does not report them', async () => {
    const { calls } = await runStream({
      shards: [{ id: 's1', records: [1, 2, 3].map((n) => record(n)) }],
      reply: () => ({ result: { batchItemFailures: [{ itemIdentifier: '2' }] } }),
      done: (c) => c.length >= 1,
    });
    await sleep(50);
    expect(calls).toEqual([['1', '2', '3']]);
  });

  it('retries a failed batch until it succeeds when retries are unlimited', async () => {
    const { calls, stats } = await runStream({
      shards: [{ id: 's1', records: [1, 2].map((n) => record(n)) }],
      reply: (_, call) => (call <= 2 ? { error: 'boom' } : {}),
      done: (c) => c.length >= 3,
    });
    expect(calls).toEqual([
      ['1', '2'],
      ['1', '2'],
      ['1', '2'],
    ]);
    expect(stats).toMatchObject({ failures: 2, discarded: 0, succeeded: 2 });
  });

  it('bisects down to the bad record and skips only it once retries run out, loudly', async () => {
    const { calls, stats, logs, checkpoints } = await runStream({
      shards: [{ id: 's1', records: [1, 2, 3, 4].map((n) => record(n)) }],
      mapping: { BisectBatchOnFunctionError: true, MaximumRetryAttempts: 1 },
      reply: (seqs) => (seqs.includes('3') ? { error: 'poison' } : {}),
      done: (c) => c.some((x) => x.includes('4') && !x.includes('3')),
    });
    expect(calls).toEqual([['1', '2', '3', '4'], ['1', '2'], ['3', '4'], ['3'], ['3'], ['4']]);
    expect(stats.discarded).toBe(1);
    expect(logs.some((l) => l.startsWith('error:') && l.includes('SKIPPING 1 record(s)') && l.includes('sequence numbers: 3'))).toBe(true);
    expect(checkpoints.get('s1')?.sequenceNumber).toBe('4');
  });

  it('skips records older than MaximumRecordAgeInSeconds, loudly', async () => {
    const { calls, stats, logs } = await runStream({
      shards: [{ id: 's1', records: [record(1, 120), record(2, 90), record(3, 0)] }],
      mapping: { MaximumRecordAgeInSeconds: 60 },
      done: (c) => c.length >= 1,
    });
    expect(calls).toEqual([['3']]);
    expect(stats.discarded).toBe(2);
    expect(logs.some((l) => l.includes('SKIPPING 2 record(s)') && l.includes('MaximumRecordAgeInSeconds'))).toBe(true);
  });

  it('reads a parent shard to its end before its child', async () => {
    const { calls, checkpoints } = await runStream({
      shards: [
        { id: 'child', parent: 'parent', records: [record(20), record(21)] },
        { id: 'parent', records: [record(10), record(11)], closed: true },
      ],
      done: (c) => c.flat().includes('21'),
    });
    expect(calls.flat()).toEqual(['10', '11', '20', '21']);
    expect(checkpoints.get('parent')?.ended).toBe(true);
  });

  it('resumes after its checkpoint when restarted', async () => {
    const file = join(stateDir, 'resume.json');
    const shard: FakeShard = { id: 's1', records: [record(1), record(2)] };
    await runStream({ shards: [shard], checkpointFile: file, done: (c) => c.flat().includes('2') });
    shard.records.push(record(3));
    const second = await runStream({ shards: [shard], checkpointFile: file, done: (c) => c.flat().includes('3') });
    expect(second.calls).toEqual([['3']]);
  });

  it('starts LATEST mappings at the end of the open shards', async () => {
    const shard: FakeShard = { id: 's1', records: [record(1), record(2)] };
    const calls: string[][] = [];
    const stats = newStats({ uuid: 'u', region: 'eu-west-1', functionName: 'f', eventSourceArn: STREAM_ARN, source: 'dynamodb' });
    const poller = new StreamPoller({
      mapping: mapping({ StartingPosition: 'LATEST' }),
      functionName: 'f',
      client: new FakeStreams([shard]) as unknown as DynamoDBStreamsClient,
      invoke: async (event: any) => {
        calls.push(event.Records.map((r: any) => r.dynamodb.SequenceNumber));
        return outcome({});
      },
      checkpoints: await CheckpointStore.open(join(stateDir, 'latest.json'), STREAM_ARN, 'f'),
      stats,
      log: () => undefined,
      idlePollMs: 5,
    });
    await poller.start();
    shard.records.push(record(3));
    await until('record 3', () => calls.flat().includes('3'));
    await poller.stop();
    expect(calls).toEqual([['3']]);
  });
});

/** Just enough of SQS: receive marks messages in flight; delete removes them. */
class FakeSqs {
  visible: Message[] = [];
  deleted: string[] = [];
  receives = 0;
  constructor(count: number) {
    this.visible = Array.from({ length: count }, (_, i) => ({
      MessageId: `m${i + 1}`,
      ReceiptHandle: `h${i + 1}`,
      Body: `body ${i + 1}`,
      MD5OfBody: 'md5',
      Attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000' },
    }));
  }
  async send(command: { constructor: { name: string }; input: any }): Promise<any> {
    const input = command.input;
    switch (command.constructor.name) {
      case 'GetQueueUrlCommand':
        expect(input).toEqual({ QueueName: 'work', QueueOwnerAWSAccountId: '123456789012' });
        return { QueueUrl: 'http://localhost/123456789012/work' };
      case 'ReceiveMessageCommand': {
        this.receives++;
        const messages = this.visible.splice(0, input.MaxNumberOfMessages);
        if (!messages.length) await sleep(20);
        return { Messages: messages };
      }
      case 'DeleteMessageBatchCommand':
        this.deleted.push(...input.Entries.map((e: { ReceiptHandle: string }) => e.ReceiptHandle));
        return { Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id })), Failed: [] };
      default:
        throw new Error(`unexpected ${command.constructor.name}`);
    }
  }
}

async function runSqs(opts: { count: number; mapping?: Partial<EventSourceMappingConfiguration>; reply: (ids: string[]) => Reply; invocations: number }) {
  const sqs = new FakeSqs(opts.count);
  const calls: string[][] = [];
  const stats = newStats({ uuid: 'uuid-1', region: 'eu-west-1', functionName: 'f', eventSourceArn: QUEUE_ARN, source: 'sqs' });
  const poller = new SqsPoller({
    mapping: mapping({ BatchSize: 10, ...opts.mapping }, QUEUE_ARN),
    functionName: 'f',
    client: sqs as unknown as SQSClient,
    invoke: async (event: any) => {
      const ids = event.Records.map((r: any) => r.messageId as string);
      calls.push(ids);
      return outcome(opts.reply(ids));
    },
    stats,
    log: () => undefined,
    pollers: 1,
  });
  await poller.start();
  await until('invocations', () => calls.length >= opts.invocations);
  await poller.stop();
  return { sqs, calls, stats };
}

describe('SqsPoller', () => {
  it('deletes the messages of a successful batch', async () => {
    const { sqs, calls } = await runSqs({ count: 3, reply: () => ({}), invocations: 1 });
    expect(calls).toEqual([['m1', 'm2', 'm3']]);
    expect(sqs.deleted).toEqual(['h1', 'h2', 'h3']);
  });

  it('deletes nothing when the invocation fails', async () => {
    const { sqs, stats } = await runSqs({ count: 2, reply: () => ({ error: 'boom' }), invocations: 1 });
    expect(sqs.deleted).toEqual([]);
    expect(stats.failures).toBe(1);
  });

  it('keeps only the reported failures', async () => {
    const { sqs, stats } = await runSqs({
      count: 3,
      mapping: { FunctionResponseTypes: ['ReportBatchItemFailures'] },
      reply: () => ({ result: { batchItemFailures: [{ itemIdentifier: 'm2' }] } }),
      invocations: 1,
    });
    expect(sqs.deleted).toEqual(['h1', 'h3']);
    expect(stats).toMatchObject({ partialFailures: 1, succeeded: 2 });
  });

  it('keeps the whole batch when a reported failure is not in it', async () => {
    const { sqs } = await runSqs({
      count: 2,
      mapping: { FunctionResponseTypes: ['ReportBatchItemFailures'] },
      reply: () => ({ result: { batchItemFailures: [{ itemIdentifier: 'nope' }] } }),
      invocations: 1,
    });
    expect(sqs.deleted).toEqual([]);
  });

  it('fills batches larger than 10 from several receives within the batching window', async () => {
    const { calls, sqs } = await runSqs({ count: 25, mapping: { BatchSize: 20, MaximumBatchingWindowInSeconds: 1 }, reply: () => ({}), invocations: 2 });
    expect(calls.map((c) => c.length)).toEqual([20, 5]);
    expect(sqs.deleted).toHaveLength(25);
  });
});

describe('event and response shapes', () => {
  it('builds SQS records as Lambda does', () => {
    const record = toLambdaSqsRecord(
      {
        MessageId: 'id',
        ReceiptHandle: 'rh',
        Body: 'hi',
        MD5OfBody: 'm',
        MD5OfMessageAttributes: 'ma',
        Attributes: { ApproximateReceiveCount: '1' },
        MessageAttributes: {
          s: { DataType: 'String', StringValue: 'v' },
          n: { DataType: 'Number.int', StringValue: '5' },
          b: { DataType: 'Binary', BinaryValue: new Uint8Array([255]) },
        },
      },
      QUEUE_ARN,
      'eu-west-1',
    );
    expect(record).toEqual({
      messageId: 'id',
      receiptHandle: 'rh',
      body: 'hi',
      attributes: { ApproximateReceiveCount: '1' },
      messageAttributes: {
        s: { stringValue: 'v', stringListValues: [], binaryListValues: [], dataType: 'String' },
        n: { stringValue: '5', stringListValues: [], binaryListValues: [], dataType: 'Number.int' },
        b: { binaryValue: '/w==', stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
      md5OfMessageAttributes: 'ma',
      md5OfBody: 'm',
      eventSource: 'aws:sqs',
      eventSourceARN: QUEUE_ARN,
      awsRegion: 'eu-west-1',
    });
  });

  it('reads batchItemFailures responses', () => {
    const valid = new Set(['a', 'b']);
    expect(batchItemFailures(null, valid)).toEqual([]);
    expect(batchItemFailures({}, valid)).toEqual([]);
    expect(batchItemFailures({ batchItemFailures: [] }, valid)).toEqual([]);
    expect(batchItemFailures({ batchItemFailures: [{ itemIdentifier: 'b' }] }, valid)).toEqual(['b']);
    expect(batchItemFailures({ batchItemFailures: [{ itemIdentifier: 'c' }] }, valid)).toBe('all');
    expect(batchItemFailures({ batchItemFailures: [{}] }, valid)).toBe('all');
    expect(batchItemFailures({ batchItemFailures: 'x' }, valid)).toBe('all');
  });

  it('resolves the CDK asset bucket of a template', () => {
    const ctx = { accountId: '111122223333', region: 'eu-west-1', stackName: 'S', resources: {} };
    expect(resolveIntrinsic({ 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' }, ctx)).toBe('cdk-hnb659fds-assets-111122223333-eu-west-1');
    expect(resolveIntrinsic({ 'Fn::Join': ['-', ['a', { Ref: 'AWS::Region' }]] }, ctx)).toBe('a-eu-west-1');
    expect(resolveIntrinsic({ 'Fn::Sub': ['${X}-${AWS::Partition}', { X: 'x' }] }, ctx)).toBe('x-aws');
    expect(resolveIntrinsic({ Ref: 'SomeParameter' }, ctx)).toBeUndefined();
    expect(resolveIntrinsic('plain', ctx)).toBe('plain');
  });
});
