/**
 * What a table's stream-failures queue (`<app>-<table>-stream-failures`, in the source region)
 * holds, and how to read it back. Two kinds of message, both for `regionsync redrive
 * --stream-failures` (src/ops/stream-redrive.ts):
 *
 *  - `batch`: Lambda's on-failure record for a stream batch it gave up on (MaximumRetryAttempts
 *    or MaximumRecordAgeInSeconds exhausted). It names the records (shard, first and last
 *    sequence number) but does not contain them: they must be read from the stream before it
 *    drops them (24 h after they were written). Format as documented in "Retaining discarded
 *    records for a DynamoDB event source in Lambda" (lambda/latest/dg/services-dynamodb-errors.html):
 *    `requestContext`, `responseContext`, `version`, `timestamp`, `DDBStreamBatchInfo`. The local
 *    runtime (dev/local/stream-poller.ts) sends the same record.
 *  - `parked`: one record the shipper could never stamp or fold (DynamoDB refused the write as
 *    invalid, e.g. over 400 KB), parked by the shipper itself with the reason so the batch goes
 *    on. It carries the stream record when it fits in one message, so it can be redriven after
 *    the stream has dropped it.
 *
 * Pure: no AWS calls.
 */
import type { DynamoDBRecord } from 'aws-lambda';
import type { AttributeMap } from './change.ts';

/** SQS's limit for one message; a parked record leaves its stream record out above this. */
const SQS_MAX_BYTES = 1024 * 1024;
/** Room kept for the parked record's own fields. */
const PARKED_ENVELOPE_BYTES = 16 * 1024;

/** Message attributes of a parked record (Lambda's on-failure records have none). */
export const STREAM_FAILURE_ATTRIBUTES = { kind: 'kind', reason: 'reason', table: 'table' } as const;
/** The `kind` message attribute of a record the shipper parked itself. */
export const PARKED_KIND = 'parked-record';

/** Lambda's on-failure invocation record for a DynamoDB stream batch. */
export interface StreamBatchFailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    /** `RetryAttemptsExhausted`, `RecordAgeExceeded`, ... */
    readonly condition: string;
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: { readonly statusCode: number; readonly executedVersion: string; readonly functionError?: string };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly DDBStreamBatchInfo: StreamBatchInfo;
}

/** The records of a discarded batch: where they are in the stream (they are not in the message). */
export interface StreamBatchInfo {
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  /** ISO 8601, whole seconds (stream creation times are). */
  readonly approximateArrivalOfFirstRecord: string;
  readonly approximateArrivalOfLastRecord: string;
  readonly batchSize: number;
  readonly streamArn: string;
}

/** What the shipper could not stamp or fold, and why. */
export interface ParkedRecord {
  readonly schema: 1;
  readonly table: string;
  readonly region: string;
  readonly key: AttributeMap;
  readonly sequenceNumber: string;
  /**
   * The stream record's event name (`INSERT`, `MODIFY`, `REMOVE`).
   * @default none (the record had none)
   */
  readonly eventName?: string;
  /**
   * The stream the record came from: where redrive reads it when the message does not carry it.
   * @default none (only a message that carries `record` can be redriven)
   */
  readonly streamArn?: string;
  /**
   * The item as the application wrote it (item-size.ts), when the record has a new image.
   * @default none (the record has no new image)
   */
  readonly itemBytes?: number;
  /** The write that DynamoDB refused: the stamp (last-writer-wins), or the fold of a merging strategy. */
  readonly failed: 'stamp' | 'fold';
  /** The error, with its name (e.g. `ValidationException: Item size has exceeded the maximum allowed size`). */
  readonly reason: string;
  readonly parkedAt: string;
  /**
   * The stream record itself, unless it is too large for one message (then only the stream has it, for 24 h).
   * @default none (redrive reads the record from `streamArn`)
   */
  readonly record?: DynamoDBRecord;
}

/** A stream-failures message as read back: Lambda's on-failure record of a batch, or a record the shipper parked. */
export type StreamFailureMessage =
  | { readonly kind: 'batch'; readonly failure: StreamBatchFailureRecord }
  | { readonly kind: 'parked'; readonly record: ParkedRecord };

/** The body of a parked record's message: with its stream record when that fits SQS's limit. */
export function encodeParkedRecord(parked: Omit<ParkedRecord, 'record' | 'schema'>, record: DynamoDBRecord): string {
  const withRecord = JSON.stringify({ schema: 1, ...parked, record });
  if (Buffer.byteLength(withRecord) <= SQS_MAX_BYTES - PARKED_ENVELOPE_BYTES) return withRecord;
  return JSON.stringify({ schema: 1, ...parked });
}

/** Reads a stream-failures message; throws naming what is wrong with it. */
export function parseStreamFailureMessage(body: string): StreamFailureMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw new Error(`stream-failures message is not JSON: ${(e as Error).message}`);
  }
  const o = parsed as Record<string, unknown> | null;
  if (o && typeof o === 'object' && o.DDBStreamBatchInfo && typeof o.DDBStreamBatchInfo === 'object') {
    const info = o.DDBStreamBatchInfo as Partial<StreamBatchInfo>;
    for (const f of ['shardId', 'startSequenceNumber', 'endSequenceNumber', 'streamArn'] as const) {
      if (typeof info[f] !== 'string' || !info[f]) throw new Error(`on-failure record has no DDBStreamBatchInfo.${f}`);
    }
    return { kind: 'batch', failure: o as unknown as StreamBatchFailureRecord };
  }
  if (o && typeof o === 'object' && o.schema === 1 && typeof o.sequenceNumber === 'string' && o.key && typeof o.key === 'object') {
    return { kind: 'parked', record: o as unknown as ParkedRecord };
  }
  throw new Error('stream-failures message is neither a Lambda on-failure record (DDBStreamBatchInfo) nor a parked record');
}

/** The on-failure record Lambda sends for a stream batch it discarded (what the local runtime sends too). */
export function streamBatchFailureRecord(args: {
  readonly functionArn: string;
  readonly condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
  readonly invokeCount: number;
  readonly functionError?: string;
  readonly shardId: string;
  readonly streamArn: string;
  readonly first: { readonly sequenceNumber: string; readonly createdMs: number };
  readonly last: { readonly sequenceNumber: string; readonly createdMs: number };
  readonly batchSize: number;
  readonly requestId: string;
  readonly now: number;
}): StreamBatchFailureRecord {
  // Stream arrival times are whole seconds: "2019-11-14T00:13:19Z" in AWS's example.
  const seconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  return {
    requestContext: { requestId: args.requestId, functionArn: args.functionArn, condition: args.condition, approximateInvokeCount: args.invokeCount },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', ...(args.functionError ? { functionError: args.functionError } : {}) },
    version: '1.0',
    timestamp: new Date(args.now).toISOString(),
    DDBStreamBatchInfo: {
      shardId: args.shardId,
      startSequenceNumber: args.first.sequenceNumber,
      endSequenceNumber: args.last.sequenceNumber,
      approximateArrivalOfFirstRecord: seconds(args.first.createdMs),
      approximateArrivalOfLastRecord: seconds(args.last.createdMs),
      batchSize: args.batchSize,
      streamArn: args.streamArn,
    },
  };
}
