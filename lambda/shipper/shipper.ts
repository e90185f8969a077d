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
import { groupIntoBatches, keyToString, packChanges, stripMeta, type AttributeMap, type Change } from '../core/change.ts';
import { toWire } from '../core/codec.ts';
import { mapWithConcurrency } from '../core/concurrency.ts';
import { METRICS, type FunctionSettings } from '../core/contract.ts';
import { changeFromImage, classifyRecord, reconcile, type ShipperAction } from '../core/stream-record.ts';
import { HybridLogicalClock, type Version } from '../core/version.ts';
import { stampedPutInput, stampInput, tombstoneInput } from '../core/writes.ts';

/** SQS's hard limit for one message and for one SendMessageBatch call. */
const SQS_MAX_BYTES = 1024 * 1024;
/** Conditional writes one record may take to settle; more means the item is hot, and the batch retries. */
const MAX_RECONCILE_ATTEMPTS = 5;
type StampAction = Extract<ShipperAction, { kind: 'stamp' }>;
type TombstoneAction = Extract<ShipperAction, { kind: 'tombstone' }>;
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
      case 'tombstone':
        return this.stampOrTombstone(action);
    }
  }

  /**
   * Gives a plain write (or delete) its version and returns the change to ship. The first write is
   * conditional on the item still being as the record left it; if it is not, `reconcile` decides
   * from the item as it now is, until the local state carries a version of this region above
   * everything the record's history shows, or a newer change from elsewhere has replaced it.
   */
  private async stampOrTombstone(action: StampAction | TombstoneAction): Promise<Change | undefined> {
    const { settings } = this;
    let write = action.kind === 'stamp' ? this.stampWrite(action.floor, action.expectedVersion, action.key) : this.tombstoneWrite(action.key, action.floor, undefined);
    for (let attempt = 0; attempt < MAX_RECONCILE_ATTEMPTS; attempt++) {
      try {
        const image = await write();
        this.deps.metrics.addMetric(METRICS.names.writesStamped, MetricUnit.Count, 1);
        return changeFromImage(image, settings, action.writtenAt, settings.ttlAttribute);
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        const current = e.Item ? toWire(e.Item) : undefined;
        const next = reconcile(current, action.floor, settings.region);
        switch (next.kind) {
          case 'none':
            this.deps.logger.debug('plain write superseded before it was stamped', { key: keyToString(action.key) });
            return undefined;
          case 'ship':
            return changeFromImage(next.current, settings, action.writtenAt, settings.ttlAttribute);
          case 'restamp':
            write = next.tombstone ? this.tombstoneWrite(action.key, next.floor, next.expectedVersion) : this.stampWrite(next.floor, next.expectedVersion, action.key);
            break;
          case 'restore':
            write =
              action.kind === 'stamp'
                ? this.putWrite(stripMeta(action.image), next.floor, next.expectedVersion)
                : this.tombstoneWrite(action.key, next.floor, next.expectedVersion);
            break;
        }
      }
    }
    throw new Error(`item ${keyToString(action.key)} kept changing while being stamped; the batch will be retried`);
  }

  /** UpdateItem that adds this region's version to the item as it is; returns the item written. */
  private stampWrite(floor: Version | undefined, expectedVersion: string | undefined, key: AttributeMap): () => Promise<AttributeMap> {
    const { settings } = this;
    return async () => {
      const input = stampInput({ tableName: settings.tableName, key, keySchema: settings.key, version: this.clock.next(floor), expectedVersion, ttlAttribute: settings.ttlAttribute });
      const out = await this.deps.dynamodb.send(new UpdateItemCommand(input));
      return toWire(out.Attributes ?? {});
    };
  }

  private tombstoneWrite(key: AttributeMap, floor: Version | undefined, expectedVersion: string | undefined): () => Promise<AttributeMap> {
    const { settings } = this;
    return async () => {
      const expiresAt = Math.floor(this.now() / 1000) + settings.tombstoneTtlSeconds;
      const input = tombstoneInput({ tableName: settings.tableName, key, keySchema: settings.key, version: this.clock.next(floor), expiresAt, ttlAttribute: settings.ttlAttribute, expectedVersion });
      await this.deps.dynamodb.send(new PutItemCommand(input));
      return toWire(input.Item!);
    };
  }

  private putWrite(item: AttributeMap, floor: Version | undefined, expectedVersion: string): () => Promise<AttributeMap> {
    const { settings } = this;
    return async () => {
      const input = stampedPutInput({ tableName: settings.tableName, item, keySchema: settings.key, version: this.clock.next(floor), expectedVersion });
      await this.deps.dynamodb.send(new PutItemCommand(input));
      return toWire(input.Item!);
    };
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
