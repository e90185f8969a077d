/**
 * The metrics AWS publishes by itself, published by the local runtime into the emulator's
 * CloudWatch in AWS's place, with AWS's names and dimensions (src/core/metrics.ts AWS_METRICS):
 *
 * - AWS/Lambda Invocations, Errors, Duration per function, for every invocation through a mapping;
 * - AWS/Lambda IteratorAge for stream mappings: age of the batch's last record when the batch is
 *   sent to the function, from the event's ApproximateCreationDateTime (whole seconds, as Lambda
 *   sends it; AWS computes it from the exact time): measured from the middle of that second, ±0.5 s;
 * - AWS/SQS ApproximateNumberOfMessagesVisible / NotVisible of each mapped queue and its
 *   dead-letter queue, sampled every `queueIntervalMs`;
 * - AWS/SQS ApproximateAgeOfOldestMessage of each mapped queue: AWS samples the oldest message in
 *   the queue; locally it is the oldest message of each batch received (SentTimestamp), and 0
 *   when a sample finds the queue empty. A message that waits without being received (no
 *   poller) is not seen until it is.
 *
 * Plus EMF extraction (emf-publisher.ts) for what the functions print. `LocalMetrics` is what
 * runtime.ts wires in.
 */
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { AWS_METRICS } from '../../src/core/metrics.ts';
import type { Credentials } from './clients.ts';
import type { EventSourceMappingInfo } from './discovery.ts';
import { errorMessage } from '../../src/core/errors.ts';
import { EmfPublisher } from './emf-publisher.ts';
import type { LogHandler } from './function-host.ts';
import type { Invoker, RuntimeLogger } from './poller-common.ts';
import { sleep } from '../../src/core/concurrency.ts';
import { queueCounts } from '../../src/ops/queue-depth.ts';

export interface LocalMetricsOptions {
  readonly endpoint: string;
  readonly credentials?: Credentials;
  readonly log: RuntimeLogger;
  /** Queue depth sampling period. @default 5000 */
  readonly queueIntervalMs?: number;
  /** EMF and service data point flush period. @default 1000 */
  readonly flushIntervalMs?: number;
}

interface WatchedQueue {
  readonly region: string;
  readonly client: SQSClient;
  readonly name: string;
  url?: string;
  dlq?: { readonly name: string; url?: string };
}

export class LocalMetrics {
  readonly publisher: EmfPublisher;
  private readonly queues: WatchedQueue[] = [];
  private readonly abort = new AbortController();
  private sampler?: Promise<void>;

  constructor(private readonly o: LocalMetricsOptions) {
    this.publisher = new EmfPublisher({ endpoint: o.endpoint, credentials: o.credentials, flushIntervalMs: o.flushIntervalMs, log: o.log });
  }

  /** A log handler that feeds EMF lines to the emulator's CloudWatch, then calls `next`. */
  tapLog(next?: LogHandler): LogHandler {
    return (functionName, line, meta) => {
      if (meta.stream === 'stdout') this.publisher.acceptLine(meta.region, line);
      next?.(functionName, line, meta);
    };
  }

  /** Wraps a mapping's invoker to publish what the Lambda service would for each invocation. */
  instrument(region: string, functionName: string, mapping: EventSourceMappingInfo, invoke: Invoker): Invoker {
    const L = AWS_METRICS.lambda;
    const fn = { [L.dimension]: functionName };
    return async (event) => {
      // biome-ignore lint/suspicious/noExplicitAny: event records of any source, read defensively
      const records = ((event as { Records?: unknown[] })?.Records ?? []) as Record<string, any>[];
      const sentAt = Date.now();
      if (mapping.source === 'dynamodb' && records.length > 0) {
        const created = Number(records[records.length - 1]?.dynamodb?.ApproximateCreationDateTime);
        // The event's creation time is whole seconds (rounded down): its middle is the best estimate.
        if (Number.isFinite(created))
          this.publisher.put(region, {
            namespace: L.namespace,
            name: L.iteratorAge,
            dimensions: fn,
            values: [Math.max(0, sentAt - (created * 1000 + 500))],
            unit: 'Milliseconds',
          });
      }
      if (mapping.source === 'sqs' && records.length > 0) {
        const oldest = Math.min(...records.map((r) => Number(r.attributes?.SentTimestamp)).filter(Number.isFinite));
        const queue = mapping.eventSourceArn.split(':')[5];
        if (Number.isFinite(oldest) && queue) {
          this.publisher.put(mapping.eventSourceArn.split(':')[3] ?? region, {
            namespace: AWS_METRICS.sqs.namespace,
            name: AWS_METRICS.sqs.oldestAge,
            dimensions: { [AWS_METRICS.sqs.dimension]: queue },
            values: [Math.max(0, Math.round((sentAt - oldest) / 1000))],
            unit: 'Seconds',
          });
        }
      }
      const outcome = await invoke(event);
      this.publisher.put(region, { namespace: L.namespace, name: L.invocations, dimensions: fn, values: [1], unit: 'Count' });
      this.publisher.put(region, { namespace: L.namespace, name: L.errors, dimensions: fn, values: [outcome.ok ? 0 : 1], unit: 'Count' });
      this.publisher.put(region, { namespace: L.namespace, name: L.duration, dimensions: fn, values: [outcome.durationMs], unit: 'Milliseconds' });
      return outcome;
    };
  }

  /** Samples the depth of an SQS mapping's queue and of its dead-letter queue. */
  watchQueue(region: string, client: SQSClient, queueArn: string): void {
    const name = queueArn.split(':')[5];
    if (!name || this.queues.some((q) => q.region === region && q.name === name)) return;
    this.queues.push({ region, client, name });
    this.sampler ??= this.sampleLoop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.sampler;
    await this.publisher.stop();
  }

  private async sampleLoop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      await Promise.all(this.queues.map((q) => this.sample(q)));
      await sleep(this.o.queueIntervalMs ?? 5000, this.abort.signal);
    }
  }

  private async sample(q: WatchedQueue): Promise<void> {
    const S = AWS_METRICS.sqs;
    try {
      q.url ??= (await q.client.send(new GetQueueUrlCommand({ QueueName: q.name }))).QueueUrl;
      const attrs =
        (
          await q.client.send(
            new GetQueueAttributesCommand({
              QueueUrl: q.url,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'RedrivePolicy'],
            }),
          )
        ).Attributes ?? {};
      const visible = Number(attrs.ApproximateNumberOfMessages ?? 0);
      const inFlight = Number(attrs.ApproximateNumberOfMessagesNotVisible ?? 0);
      const dims = { [S.dimension]: q.name };
      this.publisher.put(q.region, { namespace: S.namespace, name: S.visible, dimensions: dims, values: [visible], unit: 'Count' });
      this.publisher.put(q.region, { namespace: S.namespace, name: S.inFlight, dimensions: dims, values: [inFlight], unit: 'Count' });
      if (visible + inFlight === 0) this.publisher.put(q.region, { namespace: S.namespace, name: S.oldestAge, dimensions: dims, values: [0], unit: 'Seconds' });
      if (!q.dlq && attrs.RedrivePolicy) {
        const target = String((JSON.parse(attrs.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn ?? '').split(':')[5];
        if (target) q.dlq = { name: target };
      }
      if (q.dlq) {
        q.dlq.url ??= (await q.client.send(new GetQueueUrlCommand({ QueueName: q.dlq.name }))).QueueUrl;
        const d = await queueCounts(q.client, q.dlq.url!);
        const dlqDims = { [S.dimension]: q.dlq.name };
        this.publisher.put(q.region, {
          namespace: S.namespace,
          name: S.visible,
          dimensions: dlqDims,
          values: [d.visible],
          unit: 'Count',
        });
        this.publisher.put(q.region, {
          namespace: S.namespace,
          name: S.inFlight,
          dimensions: dlqDims,
          values: [d.inFlight],
          unit: 'Count',
        });
      }
    } catch (err) {
      // A queue deleted or not yet there: the next sample tries again.
      q.url = undefined;
      this.o.log('debug', `cannot sample queue ${q.name} in ${q.region}: ${errorMessage(err)}`);
    }
  }
}
