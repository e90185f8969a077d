/**
 * Parallel segmented scans with read capacity bounded by a token bucket, for verify and backfill.
 * Capacity is counted as the larger of what DynamoDB reports (ReturnConsumedCapacity) and what the
 * page's bytes cost (4 KB units, half for eventually consistent reads): emulators under-report,
 * and the larger of the two never exceeds the budget on AWS.
 */
import { BatchGetItemCommand, ScanCommand, type DynamoDBClient, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { itemSize } from './digest.ts';
import type { Item } from './compare.ts';
import { sleep } from '../core/concurrency.ts';

/** Read capacity a scan or batch read used, counted both ways (see above), with the items and bytes read. */
export interface CapacityCount {
  /** Sum of ConsumedCapacity.CapacityUnits DynamoDB returned. */
  reported: number;
  /** Sum of 4 KB units of the bytes read (x0.5 for eventually consistent reads). */
  estimated: number;
  items: number;
  bytes: number;
}

/** A zero {@link CapacityCount} to count into. */
export const emptyCapacity = (): CapacityCount => ({ reported: 0, estimated: 0, items: 0, bytes: 0 });

/** Token bucket on read capacity units per second; tokens may go negative (a page is charged after it is read). */
export class CapacityLimiter {
  private tokens: number;
  private last: number;

  constructor(
    readonly unitsPerSecond: number | undefined,
    private readonly now: () => number = Date.now,
    private readonly wait: (ms: number) => Promise<void> = sleep,
  ) {
    if (unitsPerSecond !== undefined && !(unitsPerSecond > 0)) throw new RangeError(`--max-rcu must be a positive number, got ${unitsPerSecond}`);
    this.tokens = unitsPerSecond ?? 0;
    this.last = now();
  }

  /** Waits until there is capacity left. */
  async ready(): Promise<void> {
    if (this.unitsPerSecond === undefined) return;
    for (;;) {
      this.refill();
      if (this.tokens > 0) return;
      await this.wait(Math.ceil((-this.tokens / this.unitsPerSecond) * 1000) + 1);
    }
  }

  consume(units: number): void {
    if (this.unitsPerSecond === undefined) return;
    this.refill();
    this.tokens -= units;
  }

  private refill(): void {
    const t = this.now();
    // At most one second's worth is kept: a pause never turns into a burst.
    this.tokens = Math.min(this.unitsPerSecond!, this.tokens + ((t - this.last) / 1000) * this.unitsPerSecond!);
    this.last = t;
  }
}

/** Read capacity units of a page of `bytes`: 4 KB units, rounded up, half for eventually consistent reads. */
export function pageUnits(bytes: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(bytes / 4096));
  return consistent ? units : units / 2;
}

/** What {@link parallelScan} reads, how, and where each page goes. */
export interface ScanOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly segments: number;
  readonly limiter: CapacityLimiter;
  readonly capacity: CapacityCount;
  /** Strongly consistent reads (twice the read capacity). @default false: eventually consistent */
  readonly consistent?: boolean;
  /** Items per page (smaller pages keep a low --max-rcu smooth). @default 1000, or 4 per unit of --max-rcu */
  readonly pageSize?: number;
  /** Where each segment starts: a saved LastEvaluatedKey, or null for a finished segment. @default every segment from its start */
  readonly startKeys?: readonly (Item | null | undefined)[];
  /** Stops each segment before its next page. @default none: every segment is read to its end */
  readonly signal?: AbortSignal;
  /** Called with each page, in order within a segment; the scan waits for it (checkpoint there). */
  readonly onPage: (segment: number, items: Item[], lastEvaluatedKey: Item | undefined) => Promise<void> | void;
}

/**
 * Scans a table in `segments` parallel segments, page by page within the limiter's budget, counting
 * capacity and handing each page to `onPage`; resolves when every segment is done or stopped.
 */
export async function parallelScan(o: ScanOptions): Promise<void> {
  if (!Number.isInteger(o.segments) || o.segments < 1 || o.segments > 1_000_000) throw new RangeError(`segments must be 1..1000000, got ${o.segments}`);
  const consistent = o.consistent ?? false;
  const limit = o.pageSize ?? (o.limiter.unitsPerSecond ? Math.max(1, Math.min(1000, Math.round(o.limiter.unitsPerSecond * 4))) : 1000);
  await Promise.all(
    Array.from({ length: o.segments }, async (_, segment) => {
      const saved = o.startKeys?.[segment];
      if (saved === null) return;
      let start: Item | undefined = saved;
      if (o.signal?.aborted) return;
      do {
        await o.limiter.ready();
        const out: ScanCommandOutput = await o.client.send(
          new ScanCommand({
            TableName: o.tableName,
            ...(o.segments > 1 ? { Segment: segment, TotalSegments: o.segments } : {}),
            ConsistentRead: consistent,
            ExclusiveStartKey: start,
            Limit: limit,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        const items = out.Items ?? [];
        charge(o, items, out.ConsumedCapacity?.CapacityUnits, consistent);
        start = out.LastEvaluatedKey;
        await o.onPage(segment, items, start);
      } while (start && !o.signal?.aborted);
    }),
  );
}

/** Reads items by key (100 per request), consistently; unprocessed keys are retried. */
export async function batchGet(
  o: { client: DynamoDBClient; tableName: string; limiter: CapacityLimiter; capacity: CapacityCount },
  keys: readonly Item[],
): Promise<Item[]> {
  const found: Item[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Item[] | undefined = keys.slice(i, i + 100);
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(2000, 50 * 2 ** attempt));
      await o.limiter.ready();
      const out = await o.client.send(
        new BatchGetItemCommand({ RequestItems: { [o.tableName]: { Keys: pending, ConsistentRead: true } }, ReturnConsumedCapacity: 'TOTAL' }),
      );
      const items = out.Responses?.[o.tableName] ?? [];
      found.push(...items);
      const reported = (out.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
      // A get is charged per item, each rounded up to 4 KB.
      const sizes = items.map(itemSize);
      const estimated = sizes.reduce((n, b) => n + pageUnits(b, true), 0) + (pending.length - items.length);
      account(
        o.capacity,
        o.limiter,
        items.length,
        sizes.reduce((a, b) => a + b, 0),
        reported,
        estimated,
      );
      pending = out.UnprocessedKeys?.[o.tableName]?.Keys as Item[] | undefined;
    }
  }
  return found;
}

function charge(o: Pick<ScanOptions, 'capacity' | 'limiter'>, items: readonly Item[], reported: number | undefined, consistent: boolean): void {
  const bytes = items.reduce((n, it) => n + itemSize(it), 0);
  account(o.capacity, o.limiter, items.length, bytes, reported ?? 0, pageUnits(bytes, consistent));
}

function account(capacity: CapacityCount, limiter: CapacityLimiter, items: number, bytes: number, reported: number, estimated: number): void {
  capacity.reported += reported;
  capacity.estimated += estimated;
  capacity.items += items;
  capacity.bytes += bytes;
  limiter.consume(Math.max(reported, estimated));
}
