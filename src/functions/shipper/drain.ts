/**
 * The backlog drainer: delivers the change messages the shipper parked in this region's backlog
 * queue (because their target region failed) once the target takes them again. It runs in the
 * shipper function, fed by an SQS event source on the backlog queue, so it has the shipper's
 * role and cross-account admission, and needs no schedule: a message whose target is still
 * unreachable is hidden again with a backoff and retried, for as long as the queue keeps it
 * (14 days, against the stream's 24 hours).
 *
 * Order: the event source hands messages over roughly oldest first; none of it matters for
 * correctness, because every change carries its version and the applier keeps the newest
 * (a late, older change is a counted stale skip).
 */
import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BACKLOG_TARGET_ATTRIBUTE, METRICS, type FunctionSettings } from '../../core/contract.ts';

/** Longest a message waits before the next attempt at an unreachable target. */
const MAX_BACKOFF_SECONDS = 30;

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
