/**
 * The shipper: turns a batch of stream records into change messages and sends them to the
 * inbound queue of every other region. Plain application writes are stamped with a version
 * first (one conditional UpdateItem each); writes made by regionsync itself are never
 * re-shipped, so replication cannot loop.
 */
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { groupIntoBatches, keyToString, packChanges, type Change } from '../core/change.ts';
import { toWire } from '../core/codec.ts';
import { mapWithConcurrency } from '../core/concurrency.ts';
import { META, METRICS, type FunctionSettings } from '../core/contract.ts';
import { changeFromImage, classifyRecord, type ShipperAction } from '../core/stream-record.ts';
import { HybridLogicalClock } from '../core/version.ts';
import { stampInput, tombstoneInput } from '../core/writes.ts';

/** SQS's hard limit for one message and for one SendMessageBatch call. */
const SQS_MAX_BYTES = 1024 * 1024;
/** Distinct keys stamped in parallel; records of one key are always handled in stream order. */
const KEY_CONCURRENCY = 16;

export interface ShipperDeps {
  readonly dynamodb: DynamoDBClient;
  /** An SQS client for a target region. */
  readonly sqsFor: (region: string) => SQSClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock?: HybridLogicalClock;
  readonly now?: () => number;
}

interface RecordOutcome {
  readonly change?: Change;
  readonly failed?: unknown;
}

export class Shipper {
  private readonly clock: HybridLogicalClock;
  private readonly now: () => number;

  constructor(
    private readonly settings: FunctionSettings,
    private readonly deps: ShipperDeps,
  ) {
    this.clock = deps.clock ?? new HybridLogicalClock(settings.region);
    this.now = deps.now ?? Date.now;
  }

  async handle(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
    const records = event.Records;
    const outcomes = await this.processRecords(records);

    const firstFailed = outcomes.findIndex((o) => o.failed !== undefined);
    const changes: { change: Change; index: number }[] = [];
    outcomes.forEach((o, index) => {
      if (o.change) changes.push({ change: o.change, index });
    });

    const sendFailedAt = await this.ship(changes);
    // Lambda checkpoints before the lowest reported sequence number and retries from there.
    // Everything after it is retried too, which is safe: stamping and applying are idempotent.
    const failedAt = [firstFailed, sendFailedAt].filter((i) => i >= 0).sort((a, b) => a - b)[0];
    if (failedAt === undefined) return { batchItemFailures: [] };
    return { batchItemFailures: [{ itemIdentifier: records[failedAt]!.dynamodb!.SequenceNumber! }] };
  }

  /** Handles records key by key, in stream order within a key, distinct keys in parallel. */
  private async processRecords(records: readonly DynamoDBRecord[]): Promise<RecordOutcome[]> {
    const outcomes: RecordOutcome[] = new Array(records.length).fill({});
    const byKey = new Map<string, number[]>();
    records.forEach((r, i) => {
      const k = JSON.stringify(r.dynamodb?.Keys ?? i);
      byKey.set(k, [...(byKey.get(k) ?? []), i]);
    });
    await mapWithConcurrency([...byKey.values()], KEY_CONCURRENCY, async (indexes) => {
      for (const i of indexes) {
        try {
          outcomes[i] = { change: await this.processRecord(records[i]!) };
        } catch (error) {
          this.deps.logger.error('failed to process stream record', { sequenceNumber: records[i]!.dynamodb?.SequenceNumber, error: error as Error });
          // Later records of the same key must wait for this one: stop this key here.
          for (const j of indexes.filter((j) => j >= i)) outcomes[j] = { failed: error };
          return;
        }
      }
    });
    return outcomes;
  }

  private async processRecord(record: DynamoDBRecord): Promise<Change | undefined> {
    const action = classifyRecord(record, { logicalTable: this.settings.logicalTable, region: this.settings.region, key: this.settings.key, now: this.now() });
    switch (action.kind) {
      case 'skip':
        return undefined;
      case 'ship':
        return action.change;
      case 'stamp':
        return this.stamp(action);
      case 'tombstone':
        return this.tombstone(action);
    }
  }

  private async stamp(action: Extract<ShipperAction, { kind: 'stamp' }>): Promise<Change | undefined> {
    const { settings } = this;
    const version = this.clock.next(action.floor);
    try {
      const out = await this.deps.dynamodb.send(
        new UpdateItemCommand(
          stampInput({ tableName: settings.tableName, key: action.key, keySchema: settings.key, version, expectedVersion: action.expectedVersion, ttlAttribute: settings.ttlAttribute }),
        ),
      );
      this.deps.metrics.addMetric(METRICS.names.writesStamped, MetricUnit.Count, 1);
      return changeFromImage(toWire(out.Attributes ?? {}), settings, action.writtenAt, settings.ttlAttribute);
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return this.afterLostStamp(e, action.writtenAt);
      throw e;
    }
  }

  private async tombstone(action: Extract<ShipperAction, { kind: 'tombstone' }>): Promise<Change | undefined> {
    const { settings } = this;
    const version = this.clock.next(action.floor);
    const expiresAt = Math.floor(this.now() / 1000) + settings.tombstoneTtlSeconds;
    const input = tombstoneInput({ tableName: settings.tableName, key: action.key, keySchema: settings.key, version, expiresAt, ttlAttribute: settings.ttlAttribute });
    try {
      await this.deps.dynamodb.send(new PutItemCommand(input));
      this.deps.metrics.addMetric(METRICS.names.writesStamped, MetricUnit.Count, 1);
      return changeFromImage(toWire(input.Item!), settings, action.writtenAt, settings.ttlAttribute);
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return this.afterLostStamp(e, action.writtenAt);
      throw e;
    }
  }

  /**
   * The stamp's condition failed: the item changed after the record. If the item now carries a
   * stamp of this region (our own, from an earlier attempt at this batch, or a later record's),
   * ship the item as it is — shipping the true current state with its version is always safe,
   * and it makes a retried batch lose nothing. If it carries a replicated change, the plain write
   * lost to it here, and every region keeps that change: nothing to ship.
   */
  private afterLostStamp(e: ConditionalCheckFailedException, writtenAt: number): Change | undefined {
    const current = e.Item ? toWire(e.Item) : undefined;
    if (current?.[META.writer]?.S === 'stamp' && current[META.origin]?.S === this.settings.region) {
      return changeFromImage(current, this.settings, writtenAt, this.settings.ttlAttribute);
    }
    this.deps.logger.info('plain write superseded before it was stamped', { key: current ? keyToString(current) : undefined });
    return undefined;
  }

  /** Sends the changes to every target; returns the index of the first record whose change could not be sent, or -1. */
  private async ship(changes: readonly { change: Change; index: number }[]): Promise<number> {
    if (changes.length === 0) return -1;
    const { bodies, oversized } = packChanges(
      changes.map((c) => c.change),
      this.settings.maxMessageBytes,
    );
    // A change larger than the packing target still fits SQS's 1 MiB alone.
    for (const c of oversized) bodies.push(packChanges([c], SQS_MAX_BYTES).bodies[0] ?? failTooLarge(c));
    const batches = groupIntoBatches(bodies, SQS_MAX_BYTES);
    const results = await Promise.allSettled(
      (this.settings.targets ?? []).map((target) =>
        mapWithConcurrency(batches, 4, async (batch) => {
          const out = await this.deps.sqsFor(target.region).send(
            new SendMessageBatchCommand({ QueueUrl: target.queueUrl, Entries: batch.map((body, i) => ({ Id: String(i), MessageBody: body })) }),
          );
          if (out.Failed && out.Failed.length > 0) throw new Error(`SendMessageBatch to ${target.region} failed for ${out.Failed.length} entries: ${out.Failed[0]?.Code} ${out.Failed[0]?.Message}`);
          this.deps.metrics.addMetric(METRICS.names.messagesSent, MetricUnit.Count, batch.length);
        }),
      ),
    );
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const f of failures) this.deps.logger.error('failed to send changes', { error: f.reason as Error });
    if (failures.length > 0) return changes[0]!.index;
    this.deps.metrics.addMetric(METRICS.names.changesShipped, MetricUnit.Count, changes.length);
    return -1;
  }
}

function failTooLarge(c: Change): never {
  throw new Error(`change for ${keyToString(c.key)} is larger than SQS's 1 MiB message limit`);
}
