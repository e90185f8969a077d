/**
 * The backlog drainer: delivers the change messages the shipper parked in this region's backlog
 * queue (because their target region failed) once the target takes them again. It runs in the
 * shipper function, so it has the shipper's role and cross-account admission, invoked by a
 * schedule every minute (DRAIN_BACKLOG_EVENT): it receives what the queue holds, delivers it and
 * deletes what was delivered, until the queue is empty or the invocation's time runs low. A
 * message whose target is still unreachable is hidden again with a backoff and retried, for as
 * long as the queue keeps it (14 days, against the stream's 24 hours). Not an SQS event source:
 * Lambda would long-poll the nearly always empty queue all month (the idle cost).
 *
 * Order: the event source hands messages over roughly oldest first; none of it matters for
 * correctness, because every change carries its version and the applier keeps the newest
 * (a late, older change is a counted stale skip).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BACKLOG_TARGET_ATTRIBUTE, METRICS, type FunctionSettings } from '../../core/contract.ts';

/** Longest a message waits before the next attempt at an unreachable target. */
const MAX_BACKOFF_SECONDS = 30;
/** Receive loops a scheduled drain runs at once. */
const DRAIN_LOOPS = 4;
/** Time a drain leaves itself before its invocation's end: one more round of receive, send and delete. */
const DRAIN_RESERVE_MS = 15_000;

/** What one scheduled drain did. */
export interface DrainReport {
  readonly received: number;
  readonly delivered: number;
  /** Still waiting for their target (hidden with a backoff), or for a region no longer a target. */
  readonly kept: number;
}

/** What the drainer needs: an SQS client per region (targets, and this region for the backoff), a logger and metrics. */
export interface DrainerDeps {
  readonly sqsFor: (region: string) => SQSClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** Whether a Lambda event is an SQS event (the backlog) rather than a stream batch. */
export function isSqsEvent(event: unknown): event is SQSEvent {
  const first = (event as { Records?: { eventSource?: string }[] }).Records?.[0];
  return first?.eventSource === 'aws:sqs';
}

/** Delivers backlog messages to their target regions (see above); one it cannot deliver is reported failed and hidden with a backoff. */
export class BacklogDrainer {
  constructor(
    private readonly settings: FunctionSettings,
    private readonly deps: DrainerDeps,
  ) {}

  async handle(event: SQSEvent): Promise<SQSBatchResponse> {
    const byTarget = new Map<string, SQSRecord[]>();
    const failed: SQSRecord[] = [];
    for (const r of event.Records) {
      const target = r.messageAttributes?.[BACKLOG_TARGET_ATTRIBUTE]?.stringValue;
      if (!target || !this.settings.targets?.some((t) => t.region === target)) {
        // A target removed from the config: nothing to deliver to. Kept (and logged) rather than dropped.
        this.deps.logger.error('backlog message for a region that is not a target of this table', { messageId: r.messageId, target });
        failed.push(r);
        continue;
      }
      byTarget.set(target, [...(byTarget.get(target) ?? []), r]);
    }
    await Promise.all(
      [...byTarget].map(async ([region, records]) => {
        const target = this.settings.targets!.find((t) => t.region === region)!;
        try {
          // A batch of 10 backlog messages is at most 10 MiB of bodies: send them in groups within 1 MiB.
          for (const group of withinBytes(records, 1024 * 1024)) {
            const out = await this.deps
              .sqsFor(region)
              .send(new SendMessageBatchCommand({ QueueUrl: target.queueUrl, Entries: group.map((r, i) => ({ Id: String(i), MessageBody: r.body })) }));
            const bad = new Set((out.Failed ?? []).map((f) => Number(f.Id)));
            for (const [i, r] of group.entries()) if (bad.has(i)) failed.push(r);
            this.deps.metrics.addMetric(METRICS.names.messagesDrained, MetricUnit.Count, group.length - bad.size);
          }
        } catch (error) {
          this.deps.logger.warn('backlog target still unreachable; messages retry later', { target: region, messages: records.length, error: error as Error });
          failed.push(...records.filter((r) => !failed.includes(r)));
        }
      }),
    );
    await this.backOff(failed);
    return { batchItemFailures: failed.map((r) => ({ itemIdentifier: r.messageId })) };
  }

  /**
   * The schedule's drain: receives from the backlog queue (no wait: an empty queue costs one
   * receive per loop) and delivers, ten at a time in DRAIN_LOOPS loops, until it is empty, every
   * message of a round stayed (its target is still down: the next schedule retries), or less than
   * DRAIN_RESERVE_MS is left.
   */
  async drainQueue(remainingMs: () => number): Promise<DrainReport> {
    const queueUrl = this.settings.backlogQueueUrl;
    if (!queueUrl) return { received: 0, delivered: 0, kept: 0 };
    const sqs = this.deps.sqsFor(this.settings.region);
    const total = { received: 0, delivered: 0, kept: 0 };
    // Several receive loops at once: after a long outage the backlog can hold thousands of
    // messages, each a cross-region send; one loop would deliver a few dozen a second.
    const loop = async (onMessages?: () => void): Promise<void> => {
      while (remainingMs() > DRAIN_RESERVE_MS) {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
            MessageAttributeNames: [BACKLOG_TARGET_ATTRIBUTE],
          }),
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) return;
        onMessages?.();
        total.received += messages.length;
        const { batchItemFailures } = await this.handle({ Records: messages.map((m) => asRecord(m, this.settings.region)) });
        const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
        const done = messages.filter((m) => !failed.has(m.MessageId!));
        total.kept += failed.size;
        // Every message of the round stayed: its target is still down; the next schedule retries.
        if (done.length === 0) return;
        const del = await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
        );
        // A delete that failed leaves a delivered message to come back: delivered twice, which the applier absorbs.
        total.delivered += done.length - (del.Failed?.length ?? 0);
      }
    };
    // One loop first: an empty backlog (nearly always) costs a single receive; the others join
    // only once it has found messages.
    let others: Promise<void>[] = [];
    const first = loop(() => {
      if (others.length === 0) others = Array.from({ length: DRAIN_LOOPS - 1 }, () => loop());
    });
    const firstResult = await first.then(
      () => undefined,
      (e: unknown) => ({ error: e }),
    );
    // A loop that failed (SQS unreachable) fails the invocation, after the others finish: the next schedule retries.
    const failedLoop = (await Promise.allSettled(others)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstResult) throw firstResult.error;
    if (failedLoop) throw failedLoop.reason;
    if (total.received > 0) this.deps.logger.info('backlog drained', total);
    return total;
  }

  /** Hides failed messages for 2^receives seconds (capped), instead of the queue's visibility timeout. */
  private async backOff(records: readonly SQSRecord[]): Promise<void> {
    if (records.length === 0 || !this.settings.backlogQueueUrl) return;
    const entries = records.map((r, i) => ({
      Id: String(i),
      ReceiptHandle: r.receiptHandle,
      VisibilityTimeout: Math.min(MAX_BACKOFF_SECONDS, 2 ** Math.min(5, Number(r.attributes?.ApproximateReceiveCount ?? 1))),
    }));
    try {
      await this.deps.sqsFor(this.settings.region).send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.settings.backlogQueueUrl, Entries: entries }));
    } catch (error) {
      // Not fatal: the messages come back after the queue's visibility timeout instead.
      this.deps.logger.warn('could not set the backoff of backlog messages', { error: error as Error });
    }
  }
}

/** A received backlog message in the shape of an SQS event's record, as handle() takes it. */
function asRecord(m: Message, region: string): SQSRecord {
  const target = m.MessageAttributes?.[BACKLOG_TARGET_ATTRIBUTE]?.StringValue;
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1' } as SQSRecord['attributes'],
    messageAttributes: target ? { [BACKLOG_TARGET_ATTRIBUTE]: { stringValue: target, dataType: 'String' } as SQSRecord['messageAttributes'][string] } : {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: '',
    awsRegion: region,
  };
}

function withinBytes(records: readonly SQSRecord[], maxBytes: number): SQSRecord[][] {
  const groups: SQSRecord[][] = [];
  let bytes = 0;
  for (const r of records) {
    const size = Buffer.byteLength(r.body);
    if (groups.length === 0 || bytes + size > maxBytes) {
      groups.push([]);
      bytes = 0;
    }
    groups.at(-1)!.push(r);
    bytes += size;
  }
  return groups;
}
