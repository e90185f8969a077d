/**
 * Records the shipper can never stamp or fold: DynamoDB refuses the write as invalid
 * (`ValidationException`), almost always because the item has no room left under the 400 KB
 * limit for regionsync's metadata. Retrying cannot help, and a stream mapping that retries the
 * record blocks every later record of its shard until the record expires (24 h). So:
 *
 *  - last-writer-wins, a plain write: try a compact stamp, the version, origin and writer only
 *    and content hash (about 90 bytes with a 14-character region name), without the version vector (about 55 more
 *    per region in the item's history) and with the vector removed if the item had one. The
 *    vector only tells concurrent changes from ordered ones (conflict counts and records); last-
 *    writer-wins converges on versions alone, so the change replicates and converges the same.
 *  - otherwise (no room even for that, a merging strategy's fold, any other invalid write): park
 *    the record in this region's stream-failures queue with the key, sequence number, item size
 *    and what failed (src/core/stream-failures.ts), count it (METRICS.names.recordsParked, the
 *    `streamFailures` alarm watches the queue), and let the batch go on. `regionsync redrive
 *    --stream-failures` runs it through the shipper again once the item is fixed.
 *
 * Sizes (README, "Item size headroom"): an item replicates with the full stamp when it is at least
 * ~130 bytes (2 regions; ~55 more per further region) under DynamoDB's 409,600-byte limit, with
 * the compact stamp (version, origin, writer and content hash) down to ~90 bytes under it (last-writer-wins only); closer than that it is
 * parked and does not replicate until it is shrunk and redriven. Merging strategies keep a version
 * per attribute (and CRDT state), so they need more headroom, growing with the attributes.
 */
import { ConditionalCheckFailedException, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBRecord } from 'aws-lambda';
import { keyToString, type AttributeMap, type Change } from '../../core/change.ts';
import { toWire } from '../../core/codec.ts';
import { METRICS, type FunctionSettings } from '../../core/contract.ts';
import { RegionSyncError, UnstampableRecordError } from '../../core/errors.ts';
import { DYNAMODB_MAX_ITEM_BYTES, itemSizeBytes } from '../../core/item-size.ts';
import { changeFromImage, type ShipperAction } from '../../core/stream-record.ts';
import { stampInput } from '../../core/writes.ts';
import { encodeParkedRecord, PARKED_KIND, STREAM_FAILURE_ATTRIBUTES } from '../../core/stream-failures.ts';

type WriteAction = Extract<ShipperAction, { kind: 'stamp' | 'tombstone' }>;

/** What {@link UnstampableRecords} needs: the table's client, an SQS client per region, a logger, metrics and a clock. */
export interface UnstampableDeps {
  readonly dynamodb: DynamoDBClient;
  readonly sqsFor: (region: string) => SQSClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now: () => number;
}

/**
 * Whether DynamoDB refused a write for what it is (never for load or a condition): the same write
 * fails the same way every time. Only ValidationException: a throttle, a 5xx or a failed
 * condition are retried as before (within the stream mapping's bounds).
 */
export function isPermanentWriteError(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'ValidationException';
}

/** Deals with the records DynamoDB refuses to stamp or fold (see above): a compact stamp where one fits, else parked. */
export class UnstampableRecords {
  constructor(
    private readonly settings: FunctionSettings,
    private readonly deps: UnstampableDeps,
  ) {}

  /**
   * Called with the error the stamp or fold of `record` ended with. Rethrows anything that may
   * succeed on a retry; otherwise returns the change of a compact stamp, or parks the record and
   * returns undefined (nothing to ship).
   */
  async recover(record: DynamoDBRecord, action: WriteAction, error: unknown): Promise<Change | undefined> {
    if (!isPermanentWriteError(error)) throw error;
    // No queue (a stack deployed before it existed): fail the batch as before; the mapping's bounds end it.
    if (!this.settings.streamFailureQueueUrl) throw error;
    const lww = (this.settings.strategy?.strategy ?? 'lww') === 'lww';
    let last = error;
    if (lww && action.kind === 'stamp') {
      try {
        return await this.compactStamp(action);
      } catch (e) {
        if (!isPermanentWriteError(e)) throw e;
        last = e;
      }
    }
    await this.park(record, action, lww ? 'stamp' : 'fold', last);
    return undefined;
  }

  private async compactStamp(action: Extract<WriteAction, { kind: 'stamp' }>): Promise<Change> {
    const { settings } = this;
    // The shipper's own stamp without the version vector (same version, same condition).
    const input = stampInput({
      tableName: settings.tableName,
      key: action.key,
      keySchema: settings.key,
      version: action.version,
      expectedVersion: action.expectedVersion,
      image: action.image,
      ttlAttribute: settings.ttlAttribute,
    });
    try {
      const out = await this.deps.dynamodb.send(new UpdateItemCommand(input));
      this.deps.metrics.addMetric(METRICS.names.writesStamped, MetricUnit.Count, 1);
      this.deps.logger.warn('item too large for the full stamp: replicated with a compact stamp (no version vector)', {
        key: keyToString(action.key),
        sequenceNumber: action.sequenceNumber,
      });
      return changeFromImage(toWire(out.Attributes ?? {}), settings, action.writtenAt, settings.ttlAttribute);
    } catch (e) {
      // The item changed since the record (a replicated change, a later write): the normal path
      // (stamp, reconcile) decides again on the retried batch.
      if (e instanceof ConditionalCheckFailedException) {
        throw new RegionSyncError(`item ${keyToString(action.key)} changed while a compact stamp was tried; the batch will be retried`, {
          sequenceNumber: action.sequenceNumber,
        });
      }
      throw e;
    }
  }

  private async park(record: DynamoDBRecord, action: WriteAction, failed: 'stamp' | 'fold', error: unknown): Promise<void> {
    const { settings } = this;
    const newImage = record.dynamodb?.NewImage as AttributeMap | undefined;
    const itemBytes = newImage ? itemSizeBytes(newImage) : undefined;
    const cause = error as { name?: string; message?: string };
    const sizeRefusal = /size/i.test(cause.message ?? '');
    const problem = new UnstampableRecordError(
      `record ${action.sequenceNumber.replace(/^0+/, '')} of item ${keyToString(action.key)} ` +
        (sizeRefusal
          ? `is too large for regionsync's metadata (${itemBytes ?? '?'} bytes written, DynamoDB's limit ${DYNAMODB_MAX_ITEM_BYTES}): the ${failed} was refused`
          : `cannot be replicated: DynamoDB refused the ${failed}`) +
        `: ${cause.name ?? 'Error'}: ${cause.message ?? String(error)}`,
      { key: action.key, sequenceNumber: action.sequenceNumber, itemBytes, failed },
    );
    const body = encodeParkedRecord(
      {
        table: settings.logicalTable,
        region: settings.region,
        key: action.key,
        sequenceNumber: record.dynamodb?.SequenceNumber ?? action.sequenceNumber,
        ...(record.eventName ? { eventName: record.eventName } : {}),
        ...(record.eventSourceARN ? { streamArn: record.eventSourceARN } : {}),
        ...(itemBytes !== undefined ? { itemBytes } : {}),
        failed,
        reason: `${cause.name ?? 'Error'}: ${cause.message ?? String(error)}`,
        parkedAt: new Date(this.deps.now()).toISOString(),
      },
      record,
    );
    // SQS message attributes are limited to 256 KB with the body; the reason is short.
    await this.deps.sqsFor(settings.region).send(
      new SendMessageCommand({
        QueueUrl: settings.streamFailureQueueUrl,
        MessageBody: body,
        MessageAttributes: {
          [STREAM_FAILURE_ATTRIBUTES.kind]: { DataType: 'String', StringValue: PARKED_KIND },
          [STREAM_FAILURE_ATTRIBUTES.reason]: { DataType: 'String', StringValue: problem.message.slice(0, 1000) },
          [STREAM_FAILURE_ATTRIBUTES.table]: { DataType: 'String', StringValue: settings.logicalTable },
        },
      }),
    );
    this.deps.metrics.addMetric(METRICS.names.recordsParked, MetricUnit.Count, 1);
    this.deps.logger.error('stream record parked in the stream-failures queue; it does not replicate until redriven', {
      error: problem,
      ...problem.context,
      key: keyToString(action.key),
    });
  }
}
