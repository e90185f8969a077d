/**
 * The chaos soak's application workload on the last-writer-wins table, and its loss check.
 *
 * The workload is "an application that knows nothing of regionsync": plain @aws-sdk/client-dynamodb
 * calls, one of these patterns per operation (PATTERNS), and nothing else: a deleted item reads as
 * absent (its tombstone is kept apart, docs/deletes.md), so it needs no rule of regionsync's.
 *
 * Every write sets attribute `v` to a value unique to that write, so the value an item ends with
 * names the write that won. Each acknowledged write (each item of a transaction or batch) is
 * recorded with its region and acknowledgement window; a write whose call failed is kept apart
 * (it may or may not have happened); a ConditionalCheckFailed write is not acknowledged.
 */
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { sleep } from '../../src/core/concurrency.ts';

export const PATTERNS = ['put', 'update', 'delete', 'rmw', 'create', 'condUpdate', 'txn', 'batch', 'ttl', 'big'] as const;
export type Pattern = (typeof PATTERNS)[number];

/** Relative weights of the patterns (big items are rare: each is ~390 KB through moto and every queue). */
const WEIGHTS: Record<Pattern, number> = { put: 16, update: 14, delete: 8, rmw: 14, create: 8, condUpdate: 10, txn: 10, batch: 8, ttl: 10, big: 1.5 };

/** The table's TTL attribute (soak.config.ts): application TTL items and regionsync's tombstones share it. */
export const TTL_ATTRIBUTE = 'expiresAt';
/** Padding of a big item: 390 KB, under moto's ~405,000-byte item limit with room for regionsync's metadata. */
const BIG_PAD = 390 * 1024;

export interface Write {
  readonly key: string;
  /** The value of `v` it wrote; null: a delete. */
  readonly value: string | null;
  readonly region: string;
  readonly pattern: Pattern;
  /** When the write's call was sent and when it was acknowledged (ms since the epoch). */
  readonly startAt: number;
  readonly ackAt: number;
}

export interface WorkloadStats {
  /** Operations attempted, per pattern. */
  readonly ops: Record<Pattern, number>;
  /** Item writes acknowledged, per pattern (a transaction counts 2, a batch each of its items). */
  readonly acked: Record<Pattern, number>;
  /** Conditional writes refused (ConditionalCheckFailed, cancelled transactions): not acknowledged. */
  readonly refused: Record<Pattern, number>;
  /** Calls that failed otherwise (unexpected: the soak's own calls go to the emulator without faults). */
  readonly failed: Record<Pattern, number>;
  /** BatchWriteItem retries of unprocessed items. */
  unprocessedRetries: number;
}

const zero = () => Object.fromEntries(PATTERNS.map((p) => [p, 0])) as Record<Pattern, number>;

export class Workload {
  readonly writes = new Map<string, Write[]>();
  /** Writes whose call failed (not acknowledged; they may have happened). */
  readonly attempts = new Map<string, Write[]>();
  readonly stats: WorkloadStats = { ops: zero(), acked: zero(), refused: zero(), failed: zero(), unprocessedRetries: 0 };
  private seq = 0;

  constructor(
    private readonly db: (region: string) => DynamoDBClient,
    private readonly table: string,
    private readonly rand: () => number,
  ) {}

  pickPattern(): Pattern {
    const total = PATTERNS.reduce((s, p) => s + WEIGHTS[p], 0);
    let x = this.rand() * total;
    for (const p of PATTERNS) if ((x -= WEIGHTS[p]) < 0) return p;
    return 'put';
  }

  /**
   * One operation of `pattern` in `region` on `key`; `others` are further keys of the same key
   * space for transactions and batches. Never throws: failures are counted.
   */
  async run(pattern: Pattern, region: string, key: string, others: () => string): Promise<void> {
    this.stats.ops[pattern]++;
    const db = this.db(region);
    const value = () => `v${this.seq++}-${region}-${pattern}`;
    const one = async (k: string, v: string | null, call: () => Promise<unknown>): Promise<void> => {
      const startAt = Date.now();
      try {
        await call();
        this.record(this.writes, { key: k, value: v, region, pattern, startAt, ackAt: Date.now() });
        this.stats.acked[pattern]++;
      } catch (e) {
        if (e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException') {
          this.stats.refused[pattern]++;
          return;
        }
        this.failure(pattern, e, [{ key: k, value: v, region, pattern, startAt, ackAt: Date.now() }]);
      }
    };
    const item = (k: string, v: string, extra: Record<string, AttributeValue> = {}) => ({ pk: { S: k }, v: { S: v }, ...extra });
    const read = async (k: string) => {
      const got = (await db.send(new GetItemCommand({ TableName: this.table, Key: { pk: { S: k } } }))).Item;
      // No rule for applications any more: a deleted item is absent (its tombstone is kept apart, docs/deletes.md).
      return got;
    };
    try {
      switch (pattern) {
        case 'put':
        case 'ttl':
        case 'big': {
          const v = value();
          const extra: Record<string, AttributeValue> =
            pattern === 'ttl'
              ? { [TTL_ATTRIBUTE]: { N: String(Math.floor(Date.now() / 1000) + 3600 + Math.floor(this.rand() * 82_800)) } }
              : pattern === 'big'
                ? { pad: { S: 'x'.repeat(BIG_PAD - Math.floor(this.rand() * 4096)) } }
                : {};
          return await one(key, v, () => db.send(new PutItemCommand({ TableName: this.table, Item: item(key, v, extra) })));
        }
        case 'update': {
          const v = value();
          return await one(key, v, () =>
            db.send(
              new UpdateItemCommand({
                TableName: this.table,
                Key: { pk: { S: key } },
                UpdateExpression: 'SET v = :v',
                ExpressionAttributeValues: { ':v': { S: v } },
              }),
            ),
          );
        }
        case 'delete':
          return await one(key, null, () => db.send(new DeleteItemCommand({ TableName: this.table, Key: { pk: { S: key } } })));
        case 'rmw': {
          // Whole-item read-modify-write: every attribute read, _rs_* ones included, goes back.
          const current = await read(key);
          const v = value();
          const next = current ? { ...current, v: { S: v } } : item(key, v);
          return await one(key, v, () => db.send(new PutItemCommand({ TableName: this.table, Item: next })));
        }
        case 'create': {
          const v = value();
          return await one(key, v, () =>
            db.send(new PutItemCommand({ TableName: this.table, Item: item(key, v), ConditionExpression: 'attribute_not_exists(pk)' })),
          );
        }
        case 'condUpdate': {
          // Optimistic update on the value read before.
          const current = await read(key);
          const old = current?.v?.S;
          const v = value();
          return await one(key, v, () =>
            db.send(
              new UpdateItemCommand({
                TableName: this.table,
                Key: { pk: { S: key } },
                UpdateExpression: 'SET v = :v',
                ConditionExpression: old !== undefined ? 'v = :old' : 'attribute_not_exists(v)',
                ExpressionAttributeValues: { ':v': { S: v }, ...(old !== undefined ? { ':old': { S: old } } : {}) },
              }),
            ),
          );
        }
        case 'txn': {
          const k2 = distinct(key, others);
          const [v1, v2] = [value(), value()];
          const startAt = Date.now();
          try {
            await db.send(
              new TransactWriteItemsCommand({
                TransactItems: [
                  { Put: { TableName: this.table, Item: item(key, v1) } },
                  { Update: { TableName: this.table, Key: { pk: { S: k2 } }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { S: v2 } } } },
                ],
              }),
            );
          } catch (e) {
            if ((e as Error).name === 'TransactionCanceledException') {
              this.stats.refused.txn++;
              return;
            }
            return this.failure('txn', e, [
              { key, value: v1, region, pattern, startAt, ackAt: Date.now() },
              { key: k2, value: v2, region, pattern, startAt, ackAt: Date.now() },
            ]);
          }
          const ackAt = Date.now();
          this.record(this.writes, { key, value: v1, region, pattern, startAt, ackAt });
          this.record(this.writes, { key: k2, value: v2, region, pattern, startAt, ackAt });
          this.stats.acked.txn += 2;
          return;
        }
        case 'batch': {
          const keys = [key];
          const n = 2 + Math.floor(this.rand() * 4);
          for (let i = 0; i < 20 && keys.length < n; i++) {
            const k = others();
            if (!keys.includes(k)) keys.push(k);
          }
          const planned = keys.map((k) => ({ key: k, value: this.rand() < 0.75 ? value() : null }));
          const request = (w: { key: string; value: string | null }): WriteRequest =>
            w.value === null ? { DeleteRequest: { Key: { pk: { S: w.key } } } } : { PutRequest: { Item: item(w.key, w.value) } };
          let pending: WriteRequest[] = planned.map(request);
          const startAt = Date.now();
          // Unprocessed items are retried with exponential backoff, as the SDK documentation says.
          for (let attempt = 0; pending.length > 0; attempt++) {
            if (attempt > 0) {
              this.stats.unprocessedRetries++;
              await sleep(Math.min(2000, 50 * 2 ** attempt) * (0.5 + this.rand() / 2));
            }
            let unprocessed: WriteRequest[];
            try {
              const out = await db.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }));
              unprocessed = out.UnprocessedItems?.[this.table] ?? [];
            } catch (e) {
              const left = planned.filter((w) => pending.some((r) => sameRequest(r, request(w))));
              return this.failure(
                'batch',
                e,
                left.map((w) => ({ ...w, region, pattern, startAt, ackAt: Date.now() })),
              );
            }
            const ackAt = Date.now();
            for (const w of planned) {
              const r = request(w);
              if (pending.some((p) => sameRequest(p, r)) && !unprocessed.some((u) => sameRequest(u, r))) {
                this.record(this.writes, { ...w, region, pattern, startAt, ackAt });
                this.stats.acked.batch++;
              }
            }
            pending = unprocessed;
            if (attempt >= 8 && pending.length > 0) {
              return this.failure('batch', new Error(`${pending.length} items still unprocessed after ${attempt + 1} attempts`), []);
            }
          }
          return;
        }
      }
    } catch (e) {
      // A failed read of a read-modify-write or conditional update: nothing was written.
      this.failure(pattern, e, []);
    }
  }

  private record(into: Map<string, Write[]>, w: Write): void {
    const list = into.get(w.key);
    if (list) list.push(w);
    else into.set(w.key, [w]);
  }

  private failure(pattern: Pattern, e: unknown, attempted: Write[]): void {
    this.stats.failed[pattern]++;
    for (const w of attempted) this.record(this.attempts, w);
    console.error(`soak: ${pattern} failed (not acknowledged): ${(e as Error).name}: ${(e as Error).message}`);
  }
}

function distinct(key: string, others: () => string): string {
  for (let i = 0; i < 20; i++) {
    const k = others();
    if (k !== key) return k;
  }
  throw new Error(`no second key distinct from ${key}`);
}

function sameRequest(a: WriteRequest, b: WriteRequest): boolean {
  const ka = a.PutRequest?.Item?.pk?.S ?? a.DeleteRequest?.Key?.pk?.S;
  const kb = b.PutRequest?.Item?.pk?.S ?? b.DeleteRequest?.Key?.pk?.S;
  return ka === kb;
}

/** What an item read back holds, as the loss check sees it. */
export interface Final {
  readonly value: string | null;
  /** The TTL attribute of a live item (epoch seconds), if any. */
  readonly expiresAt?: number;
}

/** The value of a live item that has no `v`. */
export const NO_VALUE = '<live item without v>';

export function finalOf(item: Record<string, AttributeValue> | undefined): Final {
  if (!item || item._rs_del?.BOOL === true) return { value: null };
  const exp = item[TTL_ATTRIBUTE]?.N;
  // A live item without `v` was written by no application write (every one sets it): told apart from absence.
  return { value: item.v?.S ?? NO_VALUE, ...(exp !== undefined ? { expiresAt: Number(exp) } : {}) };
}

/** A later write beaten by an earlier one counts as lost when its call started more than this after the winner's acknowledgement. */
export const LOSS_TOLERANCE_MS = 1000;

/**
 * Why the final state of a key loses an acknowledged write (undefined: it does not). Pure.
 *   - the final value (or absence) must be that of an acknowledged write (or of a write whose call
 *     failed, which may have happened: `attempts`);
 *   - no acknowledged write may have started more than LOSS_TOLERANCE_MS after the winner's acknowledgement;
 *   - a key written from one region only must end with a last write (one no write started after);
 *   - a live item's TTL attribute must be one the application wrote (not a tombstone's expiry).
 */
export function lossOf(final: Final, writes: readonly Write[], attempts: readonly Write[], now: number): string | undefined {
  const winners = writes.filter((w) => w.value === final.value);
  if (winners.length === 0) {
    if (attempts.some((w) => w.value === final.value)) return undefined;
    return `holds ${JSON.stringify(final.value)}, which no acknowledged write wrote`;
  }
  // The most favourable winner: the one acknowledged last (several deletes share the value null).
  const winner = winners.reduce((a, b) => (b.ackAt > a.ackAt ? b : a));
  const beaten = writes.filter((w) => w.startAt > winner.ackAt + LOSS_TOLERANCE_MS);
  if (beaten.length > 0) {
    const b = beaten[beaten.length - 1]!;
    return `holds ${JSON.stringify(final.value)} (${winner.pattern}@${winner.region}, acknowledged at ${winner.ackAt}), beating ${beaten.length} later write(s), the last ${JSON.stringify(b.value)} (${b.pattern}@${b.region}, started ${b.startAt - winner.ackAt} ms after)`;
  }
  if (new Set(writes.map((w) => w.region)).size === 1 && !winners.some((w) => !writes.some((x) => x.startAt > w.ackAt))) {
    return `written from ${writes[0]!.region} only, holds ${JSON.stringify(final.value)}, not a last write`;
  }
  if (final.value !== null && final.expiresAt !== undefined && final.expiresAt > now / 1000 + 2 * 86_400) {
    return `live item carries TTL ${final.expiresAt} (${((final.expiresAt - now / 1000) / 86_400).toFixed(1)} days ahead), beyond any the application wrote (at most 1 day): a tombstone's expiry`;
  }
  return undefined;
}
