/**
 * Emulates a Lambda event source mapping on an SQS queue: long-polls the queue, invokes the
 * function with the event Lambda would send, and deletes what succeeded. A thrown error
 * deletes nothing; with ReportBatchItemFailures the failed messages are left to come back
 * after the visibility timeout (and to the queue's DLQ per its redrive policy).
 */
import {
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { EventSourceMappingInfo } from './discovery.ts';
import { errorMessage } from '../../src/core/errors.ts';
import { backoffMs, batchItemFailures, countWithinPayload, describeFailure, type Invoker, type MappingStats, type RuntimeLogger } from './poller-common.ts';
import { sleep } from '../../src/core/concurrency.ts';

/** Pause after an empty short poll: about what a long poll that returns on arrival costs in AWS. */
const IDLE_POLL_MS = 50;
/**
 * Longest pause between empty polls of a queue that stays empty (the pause doubles from
 * IDLE_POLL_MS up to this; a message resets it). Most queues are idle most of the time (backlogs
 * nearly always): at a fixed 50 ms, the empty receives of a few tables' mappings, 20 a second
 * each, kept the emulator busier than the replication itself.
 */
export const DEFAULT_IDLE_POLL_MAX_MS = 400;

export interface SqsPollerOptions {
  readonly mapping: EventSourceMappingInfo;
  readonly functionName: string;
  /** A client for the queue's region. */
  readonly client: SQSClient;
  readonly invoke: Invoker;
  readonly stats: MappingStats;
  readonly log: RuntimeLogger;
  /** Concurrent receive loops (default 2, at most ScalingConfig.MaximumConcurrency). */
  readonly pollers?: number;
  /** Long-poll wait; short so that stop() is quick (moto may wait up to a second longer). */
  readonly waitTimeSeconds?: number;
  /** Longest pause between empty polls (see DEFAULT_IDLE_POLL_MAX_MS). @default DEFAULT_IDLE_POLL_MAX_MS */
  readonly idlePollMaxMs?: number;
}

/** A message as Lambda puts it in an SQS event. */
export interface LambdaSqsRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: Record<string, string>;
  readonly messageAttributes: Record<string, LambdaMessageAttribute>;
  readonly md5OfMessageAttributes?: string;
  readonly md5OfBody: string;
  readonly eventSource: 'aws:sqs';
  readonly eventSourceARN: string;
  readonly awsRegion: string;
}

export interface LambdaMessageAttribute {
  readonly stringValue?: string;
  readonly binaryValue?: string;
  readonly stringListValues: string[];
  readonly binaryListValues: string[];
  readonly dataType: string;
}

export class SqsPoller {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private queueUrl?: string;
  private readonly queueArn: string;
  private readonly region: string;
  private readonly prefix: string;

  constructor(private readonly o: SqsPollerOptions) {
    this.queueArn = o.mapping.eventSourceArn;
    this.region = this.queueArn.split(':')[3] ?? o.mapping.region;
    this.prefix = `[${o.mapping.region}/${o.functionName}] queue mapping ${o.mapping.uuid} (queue ${this.queueArn.split(':')[5]})`;
  }

  /** Resolves the queue URL and starts the receive loops; never rejects. */
  async start(): Promise<void> {
    try {
      this.queueUrl = await this.resolveQueueUrl();
      this.o.stats.state = 'running';
    } catch (err) {
      this.fail(`cannot resolve the queue URL (will keep trying): ${errorMessage(err)}`);
    }
    if (this.stopping) return;
    const cap = this.o.mapping.maximumConcurrency ?? Number.POSITIVE_INFINITY;
    // One receive loop per mapping by default: with many tables and regions, idle short polls are
    // what loads the emulator; raise `sqsPollers` for throughput tests.
    const count = Math.max(1, Math.min(this.o.pollers ?? 1, cap));
    this.loops = Array.from({ length: count }, () => this.run());
  }

  /** Stops receiving; lets the invocations in flight finish and delete their messages. */
  async stop(): Promise<void> {
    this.o.stats.state = 'stopping';
    this.abort.abort();
    await Promise.allSettled(this.loops);
    this.o.stats.state = 'stopped';
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  private async resolveQueueUrl(): Promise<string> {
    // arn:aws:sqs:REGION:ACCOUNT:NAME
    const [, , , , account, name] = this.queueArn.split(':');
    const res = await this.o.client.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }));
    if (!res.QueueUrl) throw new Error(`GetQueueUrl returned no URL for ${this.queueArn}`);
    return res.QueueUrl;
  }

  private async run(): Promise<void> {
    let errors = 0;
    let idlePause = IDLE_POLL_MS;
    while (!this.stopping) {
      try {
        this.queueUrl ??= await this.resolveQueueUrl();
        if (this.o.stats.state === 'failed' || this.o.stats.state === 'starting') this.o.stats.state = 'running';
        const messages = await this.receiveBatch(this.queueUrl);
        errors = 0;
        // Short polls with a pause when idle: moto answers long polls in whole-second steps, which
        // would add up to 2 s per hop; AWS answers a long poll as soon as a message arrives.
        if (messages.length > 0) idlePause = IDLE_POLL_MS;
        else if ((this.o.waitTimeSeconds ?? 0) === 0) {
          await sleep(idlePause, this.abort.signal);
          idlePause = Math.min(idlePause * 2, Math.max(IDLE_POLL_MS, this.o.idlePollMaxMs ?? DEFAULT_IDLE_POLL_MAX_MS));
        }
        // Received while stopping: still invoke, or the messages would hide for a visibility timeout.
        const records = messages.map((m) => toLambdaSqsRecord(m, this.queueArn, this.region));
        for (let i = 0; i < records.length; ) {
          const n = countWithinPayload(records.slice(i), records.length, (r) => Buffer.byteLength(JSON.stringify(r)));
          await this.process(this.queueUrl, messages.slice(i, i + n), records.slice(i, i + n));
          i += n;
        }
      } catch (err) {
        errors++;
        this.o.stats.lastError = errorMessage(err);
        if (errors % 10 === 1) this.o.log('warn', `${this.prefix}: polling failed (will retry): ${errorMessage(err)}`);
        await sleep(backoffMs(errors, 250, 5_000), this.abort.signal);
      }
    }
  }

  /** Up to BatchSize messages: several receives when BatchSize > 10, within the batching window. */
  private async receiveBatch(queueUrl: string): Promise<Message[]> {
    const { batchSize, maximumBatchingWindowSeconds } = this.o.mapping;
    const windowEnd = Date.now() + maximumBatchingWindowSeconds * 1000;
    const out: Message[] = [];
    do {
      const res = await this.o.client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, batchSize - out.length),
          WaitTimeSeconds: this.o.waitTimeSeconds ?? 0,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      const got = res.Messages ?? [];
      out.push(...got);
      if (!got.length && (!out.length || Date.now() >= windowEnd)) break;
    } while (out.length < batchSize && Date.now() < windowEnd && !this.stopping);
    return out;
  }

  private async process(queueUrl: string, messages: Message[], records: LambdaSqsRecord[]): Promise<void> {
    const stats = this.o.stats;
    const outcome = await this.o.invoke({ Records: records });
    stats.invocations++;
    stats.records += messages.length;
    stats.lastInvocationAt = Date.now();
    if (!outcome.ok) {
      stats.failures++;
      stats.lastError = describeFailure(outcome);
      this.o.log('warn', `${this.prefix}: invocation failed; ${messages.length} message(s) return after the visibility timeout: ${stats.lastError}`);
      return;
    }
    let failed = new Set<string>();
    if (this.o.mapping.reportBatchItemFailures) {
      const ids = batchItemFailures(outcome.result, new Set(messages.map((m) => m.MessageId ?? '')));
      if (ids === 'all') {
        stats.partialFailures++;
        stats.lastError = 'invalid batchItemFailures entry: the whole batch failed';
        this.o.log('warn', `${this.prefix}: ${stats.lastError}`);
        return;
      }
      failed = new Set(ids);
      if (failed.size) {
        stats.partialFailures++;
        stats.lastError = `${failed.size} of ${messages.length} message(s) reported as failed`;
      }
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
    stats.succeeded += done.length;
    await this.delete(queueUrl, done);
  }

  private async delete(queueUrl: string, messages: Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      try {
        const res = await this.o.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        for (const f of res.Failed ?? []) {
          this.o.log(
            'warn',
            `${this.prefix}: cannot delete message ${chunk[Number(f.Id)]?.MessageId}: ${f.Code} ${f.Message ?? ''}; it will be delivered again`,
          );
        }
      } catch (err) {
        this.o.log('warn', `${this.prefix}: DeleteMessageBatch failed; ${chunk.length} message(s) will be delivered again: ${errorMessage(err)}`);
      }
    }
  }

  private fail(message: string): void {
    if (this.o.stats.state === 'starting') this.o.stats.state = 'failed';
    this.o.stats.lastError = message;
    this.o.log('error', `${this.prefix}: ${message}`);
  }
}

export function toLambdaSqsRecord(m: Message, queueArn: string, region: string): LambdaSqsRecord {
  const messageAttributes: Record<string, LambdaMessageAttribute> = {};
  for (const [name, a] of Object.entries(m.MessageAttributes ?? {})) messageAttributes[name] = toLambdaAttribute(a);
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: { ...(m.Attributes ?? {}) } as Record<string, string>,
    messageAttributes,
    ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function toLambdaAttribute(a: MessageAttributeValue): LambdaMessageAttribute {
  const base64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
  return {
    ...(a.StringValue !== undefined ? { stringValue: a.StringValue } : {}),
    ...(a.BinaryValue !== undefined ? { binaryValue: base64(a.BinaryValue) } : {}),
    stringListValues: a.StringListValues ?? [],
    binaryListValues: (a.BinaryListValues ?? []).map(base64),
    dataType: a.DataType ?? 'String',
  };
}
