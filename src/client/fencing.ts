/**
 * Write fencing for applications: before a write that must not diverge between regions (the
 * banking example: a withdrawal), ask whether the table is fenced in the region you write to,
 * and refuse or reroute the write while it is. A region is fenced for a table while one of the
 * table's fencing alarms fires there (config `tables[].monitoring.fence`) or an operator has set
 * a manual fence (`regionsync fence --region R --table T on`). See src/core/fence.ts.
 *
 * ```ts
 * const fence = new WriteFence({ appName: 'regionsync', clients: { 'us-east-1': ddbUs, 'eu-west-1': ddbEu } });
 * try {
 *   await fence.assertWritable('us-east-1', 'accounts');   // throws FencedError while fenced
 *   await ddbUs.send(new UpdateItemCommand(withdrawal));
 * } catch (e) {
 *   if (e instanceof FencedError) return reroute(e);       // or refuse: "try again later"
 *   throw e;
 * }
 * ```
 *
 * One consistent Query per table and region per `cacheMs` (default 5 s): fencing reacts within
 * the alarm's evaluation time plus that. If the fence table cannot be read, `state` throws
 * (a region whose DynamoDB cannot be reached cannot take the write either) unless
 * `onReadError: 'open'` says to treat it as not fenced.
 */
import { PutItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FENCE_KEY, fenceItem, fenceStateOf, fenceTableName, MANUAL_SOURCE, type FenceState } from '../core/fence.ts';

export type { FenceReason, FenceState } from '../core/fence.ts';

/** How a {@link WriteFence} reaches each region's fence table, and how long it trusts a read. */
export interface WriteFenceOptions {
  /** The config's `appName`: names the fence table (`<app>-fence`) in every region. */
  readonly appName: string;
  /** A DynamoDB client per region, or a function giving one. */
  readonly clients: Readonly<Record<string, DynamoDBClient>> | ((region: string) => DynamoDBClient);
  /** How long a state read is reused, in ms. @default 5000 */
  readonly cacheMs?: number;
  /** What `state` does when the fence table cannot be read. @default 'throw' */
  readonly onReadError?: 'throw' | 'open';
  /** Clock, epoch ms, for the cache and a manual fence's time (tests). @default Date.now */
  readonly now?: () => number;
}

/** Thrown by `assertWritable` while the table is fenced in the region. */
export class FencedError extends Error {
  constructor(
    public readonly region: string,
    public readonly table: string,
    public readonly state: FenceState,
  ) {
    super(`table ${table} is fenced in ${region}: ${state.reasons.map((r) => r.source + (r.reason ? ` (${r.reason})` : '')).join('; ')}`);
    this.name = 'FencedError';
  }
}

/** Reads (cached for `cacheMs`) and sets tables' write fences per region, for applications and `regionsync fence`. */
export class WriteFence {
  private readonly cache = new Map<string, { at: number; state: Promise<FenceState> }>();
  private readonly now: () => number;

  constructor(private readonly o: WriteFenceOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The table's fence in `region` (cached for `cacheMs`). */
  async state(region: string, table: string): Promise<FenceState> {
    const key = `${region}\0${table}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < (this.o.cacheMs ?? 5000)) return hit.state;
    const state = this.read(region, table);
    this.cache.set(key, { at: this.now(), state });
    try {
      return await state;
    } catch (e) {
      this.cache.delete(key);
      if (this.o.onReadError === 'open') return { table, fenced: false, reasons: [] };
      throw e;
    }
  }

  /** Whether `table` is fenced in `region` (see `state`). */
  async isFenced(region: string, table: string): Promise<boolean> {
    return (await this.state(region, table)).fenced;
  }

  /** Resolves when `table` may be written in `region`; throws FencedError while it is fenced. */
  async assertWritable(region: string, table: string): Promise<void> {
    const state = await this.state(region, table);
    if (state.fenced) throw new FencedError(region, table, state);
  }

  /** Of `regions`, those where `table` is not fenced, in the order given (for rerouting a write). */
  async writableRegions(table: string, regions: readonly string[]): Promise<string[]> {
    const states = await Promise.all(
      regions.map((r) =>
        this.state(r, table).then(
          (s) => !s.fenced,
          () => false,
        ),
      ),
    );
    return regions.filter((_, i) => states[i]);
  }

  /** Sets (`on`) or lifts the manual fence; what `regionsync fence` does. Alarm fences are untouched. */
  async setManual(region: string, table: string, on: boolean, reason?: string): Promise<void> {
    await this.client(region)
      .send(
        new PutItemCommand({
          TableName: fenceTableName(this.o.appName),
          Item: fenceItem(table, { source: MANUAL_SOURCE, state: on ? 'ALARM' : 'OK', at: this.now(), reason }),
        }),
      )
      .catch((e: unknown) => this.explain(e, region));
    this.cache.delete(`${region}\0${table}`);
  }

  /** Forgets cached states (e.g. after being told an alarm cleared). */
  invalidate(): void {
    this.cache.clear();
  }

  private async read(region: string, table: string): Promise<FenceState> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const query = new QueryCommand({
        TableName: fenceTableName(this.o.appName),
        KeyConditionExpression: '#t = :t',
        ExpressionAttributeNames: { '#t': FENCE_KEY.table },
        ExpressionAttributeValues: { ':t': { S: table } },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      });
      const res = await this.client(region)
        .send(query)
        .catch((e: unknown) => this.explain(e, region));
      items.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    return fenceStateOf(table, items);
  }

  /** A missing fence table is a configuration question, not a DynamoDB one: say which. */
  private explain(e: unknown, region: string): never {
    if ((e as { name?: string }).name === 'ResourceNotFoundException') {
      throw new Error(`no fence table ${fenceTableName(this.o.appName)} in ${region}: it is deployed in regions where a table has monitoring.fence`, {
        cause: e,
      });
    }
    throw e;
  }

  private client(region: string): DynamoDBClient {
    const c = typeof this.o.clients === 'function' ? this.o.clients(region) : this.o.clients[region];
    if (!c) throw new Error(`WriteFence: no DynamoDB client for region ${region}`);
    return c;
  }
}
