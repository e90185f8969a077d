/**
 * Emulates a Lambda event source mapping on a DynamoDB stream: reads every shard (a child
 * only after its parent is finished), batches records, invokes the function with the event
 * Lambda would send, and checkpoints per shard. Delivery is at least once and in order per
 * shard; a record is skipped only when MaximumRetryAttempts or MaximumRecordAgeInSeconds is
 * exhausted, and every such record is logged as an error. The mapping's FilterCriteria apply
 * before batching: a record no filter matches is dropped without an invocation (event-filter.ts).
 */
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
  type DynamoDBStreamsClient,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import { randomUUID } from 'node:crypto';
import { toLambdaStreamRecord } from '../../src/ops/lambda-stream-record.ts';
import { streamBatchFailureRecord } from '../../src/core/stream-failures.ts';
import type { CheckpointStore } from './checkpoints.ts';
import { compileFilterCriteria } from './event-filter.ts';
import type { EventSourceMappingInfo } from './discovery.ts';
import { errorMessage } from '../../src/core/errors.ts';
import { backoffMs, batchItemFailures, countWithinPayload, describeFailure, type Invoker, type MappingStats, type RuntimeLogger } from './poller-common.ts';
import { sleep } from '../../src/core/concurrency.ts';

export interface StreamPollerOptions {
  readonly mapping: EventSourceMappingInfo;
  readonly functionName: string;
  readonly client: DynamoDBStreamsClient;
  readonly invoke: Invoker;
  readonly checkpoints: CheckpointStore;
  readonly stats: MappingStats;
  readonly log: RuntimeLogger;
  /** Pause between GetRecords calls on an idle shard (Lambda polls about 4 times a second). */
  readonly idlePollMs?: number;
  /** How often to look for new shards. */
  readonly shardRefreshMs?: number;
  /** First retry delay after a failed invocation; doubles up to 5 s. */
  readonly retryBaseMs?: number;
  /**
   * Sends Lambda's on-failure record to the mapping's DestinationConfig.OnFailure destination (an
   * SQS queue ARN). Rejects when it cannot: the poller then keeps retrying the send, as Lambda does
   * not move past a batch whose on-failure record it could not deliver. @default none: only logged
   */
  readonly sendOnFailure?: (destinationArn: string, body: string) => Promise<void>;
  /** The function's ARN, for the on-failure record's requestContext. */
  readonly functionArn?: string;
}

export class StreamPoller {
  private readonly abort = new AbortController();
  private readonly shards = new Map<string, Shard>();
  private readonly loops = new Map<string, Promise<void>>();
  private readonly ended = new Set<string>();
  private initialShards?: ReadonlySet<string>;
  private supervisor?: Promise<void>;
  private wake?: () => void;
  private readonly streamArn: string;
  private readonly region: string;
  private readonly prefix: string;
  /** The mapping's FilterCriteria; undefined: every record is delivered. */
  private readonly delivers?: (record: unknown) => boolean;
  /** FilterCriteria this runtime cannot apply: the mapping does not start (the others do). */
  private readonly filterError?: string;

  constructor(private readonly o: StreamPollerOptions) {
    try {
      this.delivers = compileFilterCriteria(o.mapping.filterCriteria);
    } catch (err) {
      this.filterError = errorMessage(err);
    }
    this.streamArn = o.mapping.eventSourceArn;
    this.region = this.streamArn.split(':')[3] ?? o.mapping.region;
    const table = this.streamArn.split(':').slice(5).join(':').split('/')[1] ?? this.streamArn;
    this.prefix = `[${o.mapping.region}/${o.functionName}] stream mapping ${o.mapping.uuid} (table ${table})`;
  }

  /** Finds the shards and gets their first iterators; never rejects (errors go to the log and stats). */
  async start(): Promise<void> {
    if (this.filterError) return this.fail(`not started: its FilterCriteria cannot be applied: ${this.filterError}`);
    const firstIterators: Promise<void>[] = [];
    try {
      await this.refreshShards();
      if (this.stopping) return;
      this.initialShards = new Set(this.shards.keys());
      firstIterators.push(...this.launchReadyShards());
      this.o.stats.state = 'running';
    } catch (err) {
      this.fail(`cannot describe the stream (will keep trying): ${errorMessage(err)}`);
    }
    this.supervisor = this.supervise();
    await Promise.all(firstIterators);
  }

  /** Stops reading; lets the invocation in flight finish; writes the checkpoints. */
  async stop(): Promise<void> {
    this.o.stats.state = 'stopping';
    this.abort.abort();
    this.wake?.();
    await this.supervisor;
    await Promise.allSettled([...this.loops.values()]);
    await this.o.checkpoints.flush().catch((err) => this.o.log('error', `${this.prefix}: cannot write checkpoints: ${errorMessage(err)}`));
    this.o.stats.state = 'stopped';
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  private async supervise(): Promise<void> {
    while (!this.stopping) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        void sleep(this.o.shardRefreshMs ?? 10_000, this.abort.signal).then(resolve);
      });
      if (this.stopping) return;
      try {
        await this.refreshShards();
        this.initialShards ??= new Set(this.shards.keys());
        this.launchReadyShards();
        if (this.o.stats.state === 'failed' || this.o.stats.state === 'starting') this.o.stats.state = 'running';
      } catch (err) {
        this.fail(`cannot describe the stream: ${errorMessage(err)}`);
      }
    }
  }

  private async refreshShards(): Promise<void> {
    let ExclusiveStartShardId: string | undefined;
    do {
      const res = await this.o.client.send(new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId }));
      const shards = res.StreamDescription?.Shards ?? [];
      for (const s of shards) if (s.ShardId) this.shards.set(s.ShardId, s);
      ExclusiveStartShardId = res.StreamDescription?.LastEvaluatedShardId;
    } while (ExclusiveStartShardId);
  }

  /** Starts a loop for each shard whose parent is done (or gone); returns their first-iterator promises. */
  private launchReadyShards(): Promise<void>[] {
    const started: Promise<void>[] = [];
    for (const [id, shard] of this.shards) {
      if (this.loops.has(id) || this.ended.has(id)) continue;
      if (this.o.checkpoints.get(id)?.ended) {
        this.ended.add(id);
        continue;
      }
      const parent = shard.ParentShardId;
      if (parent && this.shards.has(parent) && !this.ended.has(parent) && !this.o.checkpoints.get(parent)?.ended) continue;
      let iteratorReady!: () => void;
      started.push(new Promise<void>((resolve) => (iteratorReady = resolve)));
      const loop = this.runShard(id, iteratorReady).catch((err) => {
        iteratorReady();
        this.fail(`shard ${id} stopped: ${errorMessage(err)}`);
      });
      this.loops.set(id, loop);
      void loop.finally(() => {
        // A loop that ended early on error is started again by the next refresh.
        if (!this.ended.has(id)) this.loops.delete(id);
      });
    }
    return started;
  }

  private async runShard(shardId: string, iteratorReady: () => void): Promise<void> {
    const { batchSize } = this.o.mapping;
    const windowMs = this.o.mapping.maximumBatchingWindowSeconds * 1000;
    const idleMs = this.o.idlePollMs ?? 250;
    let lastRead = this.o.checkpoints.get(shardId)?.sequenceNumber;
    let iterator: string | undefined;
    try {
      iterator = await this.retrying(`get an iterator for shard ${shardId}`, () => this.initialIterator(shardId));
    } finally {
      iteratorReady();
    }
    let pending: _Record[] = [];
    let windowStart: number | undefined;
    let errors = 0;
    while (!this.stopping) {
      let got = 0;
      if (iterator && pending.length < batchSize) {
        try {
          const res = await this.o.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(1000, batchSize - pending.length) }));
          errors = 0;
          const read = res.Records ?? [];
          got = read.length;
          const records = this.delivers ? read.filter((r) => this.delivers!(toLambdaStreamRecord(r, this.region, this.streamArn))) : read;
          this.o.stats.filtered += got - records.length;
          if (got) {
            pending.push(...records);
            lastRead = read[got - 1]?.dynamodb?.SequenceNumber ?? lastRead;
            // Nothing pending before these: the checkpoint may pass records the filter dropped.
            if (!pending.length && lastRead) this.o.checkpoints.advance(shardId, lastRead);
          }
          iterator = res.NextShardIterator ?? undefined; // none: the shard is closed and read to its end
        } catch (err) {
          errors++;
          const name = (err as { name?: string }).name;
          if (name === 'TrimmedDataAccessException') {
            this.o.log(
              'error',
              `${this.prefix}: shard ${shardId} was trimmed past sequence number ${lastRead}: records were lost; reading on from TRIM_HORIZON`,
            );
            iterator = await this.retrying('get an iterator', () => this.iterator(shardId, 'TRIM_HORIZON'));
            continue;
          }
          if (name !== 'ExpiredIteratorException' && errors % 10 === 1) {
            this.o.log('warn', `${this.prefix}: GetRecords on shard ${shardId} failed (will retry): ${errorMessage(err)}`);
          }
          await sleep(backoffMs(errors, 250, 5_000), this.abort.signal);
          if (name === 'ExpiredIteratorException' || errors >= 3) {
            // A fresh iterator from the last record read; the records already read stay pending.
            iterator = await this.retrying('get an iterator', () =>
              lastRead ? this.iterator(shardId, 'AFTER_SEQUENCE_NUMBER', lastRead) : this.initialIterator(shardId),
            );
          }
          continue;
        }
      }
      if (!pending.length) {
        if (!iterator) {
          this.ended.add(shardId);
          this.o.checkpoints.markEnded(shardId);
          this.wake?.(); // its children may start now
          return;
        }
        await sleep(idleMs, this.abort.signal);
        continue;
      }
      windowStart ??= Date.now();
      const waited = Date.now() - windowStart;
      if (pending.length < batchSize && iterator && waited < windowMs) {
        if (!got) await sleep(Math.min(idleMs, windowMs - waited), this.abort.signal);
        continue;
      }
      const count = countWithinPayload(pending, batchSize, (r) => Buffer.byteLength(JSON.stringify(toLambdaStreamRecord(r, this.region, this.streamArn))));
      const batch = pending.slice(0, count);
      const finished = await this.deliver(shardId, batch);
      pending = pending.slice(finished);
      windowStart = undefined;
      // Stopping mid-batch: the rest is read again from the checkpoint next time.
      if (finished < batch.length) return;
    }
  }

  private async initialIterator(shardId: string): Promise<string | undefined> {
    const checkpoint = this.o.checkpoints.get(shardId)?.sequenceNumber;
    if (checkpoint) {
      try {
        return await this.iterator(shardId, 'AFTER_SEQUENCE_NUMBER', checkpoint);
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name !== 'TrimmedDataAccessException' && name !== 'ValidationException') throw err;
        this.o.log(
          'error',
          `${this.prefix}: checkpoint ${checkpoint} of shard ${shardId} is no longer in the stream (${errorMessage(err)}); reading from TRIM_HORIZON`,
        );
        return this.iterator(shardId, 'TRIM_HORIZON');
      }
    }
    const position = this.o.mapping.startingPosition ?? 'TRIM_HORIZON';
    if (position === 'AT_TIMESTAMP')
      this.o.log('warn', `${this.prefix}: StartingPosition AT_TIMESTAMP is not supported for DynamoDB streams; using TRIM_HORIZON`);
    // As in Lambda, LATEST applies to the shards open when the mapping starts; later (child)
    // shards are read from their start so nothing written after the start is missed.
    const type: ShardIteratorType = position === 'LATEST' && this.initialShards?.has(shardId) ? 'LATEST' : 'TRIM_HORIZON';
    return this.iterator(shardId, type);
  }

  private async iterator(shardId: string, type: ShardIteratorType, sequenceNumber?: string): Promise<string | undefined> {
    const res = await this.o.client.send(
      new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: type, SequenceNumber: sequenceNumber }),
    );
    return res.ShardIterator;
  }

  /** Retries `fn` with backoff until it succeeds or the poller stops (then undefined). */
  private async retrying<T>(what: string, fn: () => Promise<T | undefined>): Promise<T | undefined> {
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt % 10 === 1) this.o.log('warn', `${this.prefix}: cannot ${what} (will retry): ${errorMessage(err)}`);
        this.o.stats.lastError = errorMessage(err);
        await sleep(backoffMs(attempt, 250, 5_000), this.abort.signal);
      }
    }
    return undefined;
  }

  /**
   * Invokes the function with `batch` until every record is finished with: processed, or given
   * up on after the retry/age limits. Returns how many records from the front are finished
   * (fewer than all only when stopping). Checkpoints as it goes.
   */
  private async deliver(shardId: string, batch: readonly _Record[]): Promise<number> {
    const m = this.o.mapping;
    const stats = this.o.stats;
    let finished = 0;
    const finish = (count: number): void => {
      if (count <= 0) return;
      finished += count;
      const seq = batch[finished - 1]?.dynamodb?.SequenceNumber;
      if (seq) this.o.checkpoints.advance(shardId, seq);
    };
    // Segments of the batch still to do, in order; bisecting splits the head segment.
    const segments: Array<{ records: readonly _Record[]; attempts: number }> = [{ records: batch, attempts: 0 }];
    while (segments.length) {
      if (this.stopping) return finished;
      const segment = segments[0]!;
      if (m.maximumRecordAgeSeconds >= 0) {
        const cutoff = Date.now() - m.maximumRecordAgeSeconds * 1000;
        let expired = 0;
        while (expired < segment.records.length && creationMs(segment.records[expired]!) < cutoff) expired++;
        if (expired) {
          await this.discard(shardId, segment.records.slice(0, expired), `older than MaximumRecordAgeInSeconds (${m.maximumRecordAgeSeconds})`, {
            condition: 'RecordAgeExceeded',
            invokeCount: segment.attempts,
          });
          // Stopped before the on-failure record was taken: not checkpointed, read again next time.
          if (this.stopping) return finished;
          finish(expired);
          segment.records = segment.records.slice(expired);
          if (!segment.records.length) {
            segments.shift();
            continue;
          }
        }
      }

      const records = segment.records;
      const outcome = await this.o.invoke({ Records: records.map((r) => toLambdaStreamRecord(r, this.region, this.streamArn)) });
      stats.invocations++;
      stats.records += records.length;
      stats.lastInvocationAt = Date.now();

      let retryFrom = 0;
      let reason: string;
      if (outcome.ok) {
        const failed = m.reportBatchItemFailures ? batchItemFailures(outcome.result, new Set(records.map((r) => r.dynamodb?.SequenceNumber ?? ''))) : [];
        if (failed !== 'all' && failed.length === 0) {
          stats.succeeded += records.length;
          finish(records.length);
          segments.shift();
          continue;
        }
        stats.partialFailures++;
        if (failed === 'all') {
          reason = 'the response had an invalid batchItemFailures entry, so the whole batch failed';
        } else {
          // Lambda retries from the lowest failed sequence number: everything before it is done.
          const lowest = failed.reduce((a, b) => (BigInt(a) <= BigInt(b) ? a : b));
          retryFrom = records.findIndex((r) => r.dynamodb?.SequenceNumber === lowest);
          reason = `batchItemFailures from sequence number ${lowest}`;
        }
      } else {
        stats.failures++;
        reason = describeFailure(outcome);
      }
      stats.lastError = reason;
      if (retryFrom > 0) {
        stats.succeeded += retryFrom;
        finish(retryFrom);
        segment.records = records.slice(retryFrom);
      }
      const left = segment.records;
      if (!outcome.ok && m.bisectBatchOnFunctionError && left.length > 1) {
        // Splitting does not use up a retry: bisecting exists to corner the one bad record,
        // which needs the halves to get down to size 1 before the retries run out.
        const half = Math.ceil(left.length / 2);
        segments.splice(0, 1, { records: left.slice(0, half), attempts: segment.attempts }, { records: left.slice(half), attempts: segment.attempts });
        this.o.log('warn', `${this.prefix}: invocation failed; retrying ${left.length} record(s) as two halves: ${reason}`);
        await sleep(this.o.retryBaseMs ?? 200, this.abort.signal);
        continue;
      }
      segment.attempts++;
      if (m.maximumRetryAttempts >= 0 && segment.attempts > m.maximumRetryAttempts) {
        await this.discard(shardId, left, `MaximumRetryAttempts (${m.maximumRetryAttempts}) exhausted; last error: ${reason}`, {
          condition: 'RetryAttemptsExhausted',
          invokeCount: segment.attempts,
          ...(outcome.ok ? {} : { functionError: 'Unhandled' }),
        });
        if (this.stopping) return finished;
        finish(left.length);
        segments.shift();
        continue;
      }
      this.o.log('warn', `${this.prefix}: invocation failed (retry ${segment.attempts}, ${left.length} record(s)): ${reason}`);
      await sleep(backoffMs(segment.attempts, this.o.retryBaseMs ?? 200, 5_000), this.abort.signal);
    }
    return finished;
  }

  /**
   * Gives up on `records` as Lambda does: with an on-failure destination, first sends it the
   * invocation record naming them (src/core/stream-failures.ts; retried until it is taken, or
   * the poller stops), then moves on.
   */
  private async discard(
    shardId: string,
    records: readonly _Record[],
    why: string,
    failure: { condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded'; invokeCount: number; functionError?: string },
  ): Promise<void> {
    this.o.stats.discarded += records.length;
    const seqs = records.map((r) => r.dynamodb?.SequenceNumber).join(', ');
    const destination = this.o.mapping.onFailureDestination;
    this.o.log(
      'error',
      `${this.prefix}: SKIPPING ${records.length} record(s) (${why}); sequence numbers: ${seqs}${destination ? `; on-failure record to ${destination}` : ''}`,
    );
    if (!destination || !this.o.sendOnFailure || records.length === 0) return;
    const first = records[0]!;
    const last = records[records.length - 1]!;
    const body = JSON.stringify(
      streamBatchFailureRecord({
        functionArn: this.o.functionArn ?? this.o.mapping.functionArn,
        condition: failure.condition,
        // Lambda counts invocations, the first one included.
        invokeCount: failure.invokeCount,
        ...(failure.functionError ? { functionError: failure.functionError } : {}),
        shardId,
        streamArn: this.streamArn,
        first: { sequenceNumber: first.dynamodb?.SequenceNumber ?? '', createdMs: creationMs(first) },
        last: { sequenceNumber: last.dynamodb?.SequenceNumber ?? '', createdMs: creationMs(last) },
        batchSize: records.length,
        requestId: randomUUID(),
        now: Date.now(),
      }),
    );
    await this.retrying(`send the on-failure record to ${destination}`, async () => {
      await this.o.sendOnFailure!(destination, body);
      return true;
    });
  }

  private fail(message: string): void {
    if (this.o.stats.state === 'starting') this.o.stats.state = 'failed';
    this.o.stats.lastError = message;
    this.o.log('error', `${this.prefix}: ${message}`);
  }
}

function creationMs(record: _Record): number {
  return record.dynamodb?.ApproximateCreationDateTime?.getTime() ?? Date.now();
}
