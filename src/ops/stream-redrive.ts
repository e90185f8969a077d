/**
 * `regionsync redrive --stream-failures`: replays what a region's stream-failures queue names
 * (src/core/stream-failures.ts), through the deployed shipper's own logic, once the cause is
 * fixed:
 *
 *  - a Lambda on-failure record (a stream batch the mapping gave up on): the records from its
 *    first to its last sequence number are read from the stream (GetShardIterator
 *    AT_SEQUENCE_NUMBER on its shard; the stream keeps them 24 h after they were written) and
 *    handled by the Shipper as an invocation would;
 *  - a parked record (the shipper could not stamp or fold it): the stream record the message
 *    carries (or, when it was too large to carry, the one read from the stream) is handled again.
 *
 * A message is deleted only when every record it names was handled (stamped and shipped, skipped
 * as an echo, or superseded); otherwise it stays, and the report says why. Handling a record twice
 * is harmless (stamps are conditional and reconcile, applying is idempotent), so a run that dies
 * midway loses nothing. A record parked again (still too large) leaves a new message in the queue;
 * without `max`, only the messages there when the run started are handled, so it is not looped on.
 */
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { ListFunctionsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { ENV, streamFailureQueueName, type FunctionSettings } from '../core/contract.ts';
import type { Resolver } from '../core/resolver.ts';
import { parseStreamFailureMessage, type StreamBatchInfo } from '../core/stream-failures.ts';
import { Shipper } from '../functions/shipper/shipper.ts';
import { toLambdaStreamRecord } from './lambda-stream-record.ts';
import { physicalTableName } from '../infra/config/schema.ts';
import { clientConfig, dynamodb, sqs as sqsOf } from './aws.ts';
import { queueDepth } from './queue-depth.ts';
import type { OpsTable } from './ship.ts';

/** What {@link redriveStreamFailures} replays: one source region's stream-failures queue, and how many messages. */
export interface StreamRedriveOptions {
  readonly ops: OpsTable;
  /** The source region whose stream-failures queue is redriven. */
  readonly region: string;
  /** Stop after this many messages. @default the queue's depth when the run starts */
  readonly max?: number;
  /** Seconds a message stays hidden while its records are replayed. @default 300 */
  readonly visibilityTimeoutSeconds?: number;
  /** Consecutive empty receives after which the queue counts as drained. @default 2 */
  readonly emptyReceives?: number;
}

/** The result of {@link redriveStreamFailures}: what was replayed, and the messages left with why. */
export interface StreamRedriveReport {
  readonly region: string;
  readonly queue: string;
  /** Lambda on-failure records whose batch was replayed (and deleted). */
  readonly batches: number;
  /** Parked records replayed (and deleted). */
  readonly parked: number;
  /** Stream records handled by the shipper. */
  readonly records: number;
  /** Records the shipper parked again (still refused): a new message is in the queue for each. */
  readonly parkedAgain: number;
  /** Messages left in the queue, each with why. */
  readonly failed: number;
  readonly problems: readonly { readonly messageId: string; readonly reason: string }[];
}

/**
 * Replays the messages of a region's stream-failures queue through a Shipper that runs with the deployed
 * shipper's settings, deleting each message once all its records were handled. Throws when no shipper
 * for the table is deployed in the region.
 */
export async function redriveStreamFailures(o: StreamRedriveOptions): Promise<StreamRedriveReport> {
  const { ops, region } = o;
  const sqs = sqsClient(ops, region);
  const queue = (
    await sqs.send(
      new GetQueueUrlCommand({
        QueueName: streamFailureQueueName(ops.appName, ops.table.name),
        ...(ops.accounts[region] ? { QueueOwnerAWSAccountId: ops.accounts[region] } : {}),
      }),
    )
  ).QueueUrl;
  if (!queue) throw new Error(`GetQueueUrl for ${streamFailureQueueName(ops.appName, ops.table.name)} in ${region} returned no URL`);
  const settings = await deployedShipperSettings(ops, region);
  let parkedAgain = 0;
  const clients = new Map<string, SQSClient>();
  const shipper = new Shipper(settings, {
    dynamodb: dynamodb(ops.target, region),
    sqsFor: (r) => {
      const c = clients.get(r) ?? sqsClient(ops, r);
      clients.set(r, c);
      // Count what the shipper parks again, by watching its sends to the stream-failures queue.
      return {
        send: (command: unknown, options?: unknown) => {
          if (command instanceof SendMessageCommand && command.input.QueueUrl === settings.streamFailureQueueUrl) parkedAgain++;
          return (c.send as (x: unknown, y?: unknown) => Promise<unknown>)(command, options);
        },
      } as unknown as SQSClient;
    },
    logger: quietLogger(),
    metrics: { addMetric: () => undefined, publishStoredMetrics: () => undefined } as never,
    ...(ops.table.resolver ? { resolver: await loadResolver(ops.table.resolver) } : {}),
  });
  const streams = new DynamoDBStreamsClient(clientConfig(ops.target, region));
  const max = o.max ?? (await queueDepth(sqs, queue));
  const problems: { messageId: string; reason: string }[] = [];
  let batches = 0;
  let parked = 0;
  let records = 0;
  let seen = 0;
  let empty = 0;
  const handled = new Set<string>();
  while (seen < max && empty < (o.emptyReceives ?? 2)) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue,
        MaxNumberOfMessages: Math.min(10, max - seen),
        VisibilityTimeout: o.visibilityTimeoutSeconds ?? 300,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = (out.Messages ?? []).filter((m) => !handled.has(m.MessageId!));
    if (messages.length === 0) {
      empty++;
      continue;
    }
    empty = 0;
    for (const m of messages) {
      handled.add(m.MessageId!);
      seen++;
      try {
        const message = parseStreamFailureMessage(m.Body ?? '');
        const event =
          message.kind === 'batch'
            ? await readBatch(streams, message.failure.DDBStreamBatchInfo, region)
            : [
                message.record.record ??
                  (await readOne(streams, message.record.streamArn ?? (await streamArnOf(streams, settings)), message.record.sequenceNumber, region)),
              ];
        const res = await shipper.handle({ Records: event });
        records += event.length;
        if (res.batchItemFailures.length > 0)
          throw new Error(`the shipper failed again from sequence number ${res.batchItemFailures[0]!.itemIdentifier} (see its error; the message stays)`);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: m.ReceiptHandle! }));
        if (message.kind === 'batch') batches++;
        else parked++;
      } catch (e) {
        problems.push({ messageId: m.MessageId ?? '?', reason: describe(m, e) });
      }
    }
  }
  streams.destroy();
  return { region, queue, batches, parked, records, parkedAgain, failed: problems.length, problems };
}

/** The settings the deployed shipper of this table runs with (its REGIONSYNC_SETTINGS): targets, queues, strategy. */
async function deployedShipperSettings(ops: OpsTable, region: string): Promise<FunctionSettings> {
  const lambda = new LambdaClient(clientConfig(ops.target, region));
  const tableName = physicalTableName(ops.table, region);
  try {
    let Marker: string | undefined;
    do {
      const page = await lambda.send(new ListFunctionsCommand({ Marker }));
      for (const fn of page.Functions ?? []) {
        const raw = fn.Environment?.Variables?.[ENV.settings];
        if (!raw || fn.Environment?.Variables?.[ENV.serviceName] !== 'regionsync-shipper') continue;
        const s = JSON.parse(raw) as FunctionSettings;
        if (s.tableName === tableName && s.logicalTable === ops.table.name && s.region === region) return s;
      }
      Marker = page.NextMarker;
    } while (Marker);
  } finally {
    lambda.destroy();
  }
  throw new Error(`no deployed regionsync shipper for table ${ops.table.name} (${tableName}) in ${region}: deploy the stack first`);
}

/** The records an on-failure record names: from its first to its last sequence number on its shard. */
async function readBatch(streams: DynamoDBStreamsClient, info: StreamBatchInfo, region: string): Promise<DynamoDBRecord[]> {
  const end = BigInt(info.endSequenceNumber);
  const out: _Record[] = [];
  let iterator = await iteratorAt(streams, info.streamArn, info.shardId, info.startSequenceNumber);
  for (let empty = 0; iterator && empty < 3; ) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    iterator = page.NextShardIterator;
    const got = page.Records ?? [];
    if (got.length === 0) empty++;
    for (const r of got) {
      if (BigInt(r.dynamodb?.SequenceNumber ?? '0') > end) return finish();
      out.push(r);
    }
    if (out.length > 0 && BigInt(out[out.length - 1]!.dynamodb!.SequenceNumber!) === end) return finish();
  }
  return finish();
  function finish(): DynamoDBRecord[] {
    if (out.length === 0 || out[0]!.dynamodb?.SequenceNumber !== info.startSequenceNumber) {
      throw new Error(
        `records ${info.startSequenceNumber}..${info.endSequenceNumber} of shard ${info.shardId} are no longer in the stream (it keeps records 24 h): they cannot be replayed; use regionsync repair/backfill for the keys`,
      );
    }
    return out.map((r) => toLambdaStreamRecord(r, region, info.streamArn) as unknown as DynamoDBRecord);
  }
}

/** One record by sequence number (a parked record too large to carry its stream record): tried on every shard. */
async function readOne(streams: DynamoDBStreamsClient, streamArn: string, sequenceNumber: string, region: string): Promise<DynamoDBRecord> {
  const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription?.Shards ?? [];
  for (const shard of shards) {
    const iterator = await iteratorAt(streams, streamArn, shard.ShardId!, sequenceNumber).catch(() => undefined);
    if (!iterator) continue;
    const first = (await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1 }))).Records?.[0];
    if (first?.dynamodb?.SequenceNumber === sequenceNumber) return toLambdaStreamRecord(first, region, streamArn) as unknown as DynamoDBRecord;
  }
  throw new Error(`record ${sequenceNumber} is no longer in the stream ${streamArn} (it keeps records 24 h) and the parked message did not carry it`);
}

async function iteratorAt(streams: DynamoDBStreamsClient, streamArn: string, shardId: string, sequenceNumber: string): Promise<string | undefined> {
  return (
    await streams.send(
      new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: sequenceNumber }),
    )
  ).ShardIterator;
}

async function streamArnOf(_streams: DynamoDBStreamsClient, settings: FunctionSettings): Promise<string> {
  throw new Error(`the parked message names no stream ARN for table ${settings.tableName}`);
}

async function loadResolver(r: { readonly file: string; readonly exportName: string }): Promise<Resolver> {
  const mod = (await import(r.file)) as Record<string, unknown>;
  const fn = mod[r.exportName];
  if (typeof fn !== 'function') throw new Error(`resolver ${r.file}#${r.exportName} is not a function`);
  return fn as Resolver;
}

function sqsClient(ops: OpsTable, region: string): SQSClient {
  return sqsOf(ops.target, region);
}

function describe(m: Message, e: unknown): string {
  const attr = m.MessageAttributes?.reason?.StringValue;
  return `${(e as Error).message ?? String(e)}${attr ? ` (parked because: ${attr})` : ''}`;
}

/** The Shipper logs through Powertools; here its warnings become part of the report, not stderr noise. */
function quietLogger(): never {
  const noop = () => undefined;
  return { debug: noop, info: noop, warn: noop, error: noop } as never;
}
