/**
 * The bench's workload and its observer.
 *
 * The writer offers a fixed rate of ~1 KB items (open loop: writes are scheduled by the clock,
 * not by the previous answer) in the source region, each carrying the client's send time
 * (`bench_t0`). Two write paths: `plain` (a PutItem as any application writes it; the shipper
 * stamps it) and `helper` (RegionSyncClient.put from src/client: a consistent read, then a
 * conditional PutItem carrying the version; the shipper ships it without a write).
 *
 * The observer reads each target table's stream directly from the emulator: the applier's
 * write of an item is a stream record whose creation time (milliseconds on moto, the same clock
 * as the writer) is the moment the item became visible in that region. Per item and target:
 * lag = applied − sent. No polling of tables, no sampling: every item is seen.
 */
import { Agent } from 'node:http';
import { DescribeTableCommand, DynamoDBClient, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { META } from '../../src/core/contract.ts';
import { isReplicationWriter } from '../../src/core/echo-filter.ts';
import { RegionSyncClient } from '../../src/client/client.ts';
import { itemSize } from './item-size.ts';
import { sleep } from '../../src/core/concurrency.ts';

export type WritePath = 'plain' | 'helper';

export const T0 = 'bench_t0';
const PAYLOAD = 'payload';

export interface Endpoint {
  readonly endpoint: string;
  readonly accessKeyId: string;
}

function clientConfig(e: Endpoint, region: string) {
  return {
    region,
    endpoint: e.endpoint,
    credentials: { accessKeyId: e.accessKeyId, secretAccessKey: 'bench' },
    maxAttempts: 3,
    // Enough sockets for the offered load: the writer must not be the bottleneck.
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 128 }) },
  };
}

export interface WriteRecord {
  readonly id: string;
  /** Client time just before the write was sent. */
  readonly t0: number;
  /** Client time the write was acknowledged; undefined if it failed. */
  ackAt?: number;
  error?: string;
}

export interface StepWrites {
  readonly writes: WriteRecord[];
  readonly startedAt: number;
  readonly endedAt: number;
  /** Writes acknowledged per second over the step. */
  readonly achievedPerSec: number;
  /** Application bytes per item (DynamoDB item size without regionsync metadata). */
  readonly itemBytes: number;
}

export interface WriterOptions {
  readonly target: Endpoint;
  readonly region: string;
  readonly tableName: string;
  readonly partitionKey: string;
  readonly path: WritePath;
  readonly ratePerSec: number;
  readonly seconds: number;
  /** Application bytes per item (key, timestamp and payload), as DynamoDB counts them. */
  readonly itemBytes: number;
  readonly idPrefix: string;
  /** Writes in flight at most; beyond it the writer falls behind the offered rate (and says so). */
  readonly maxInFlight?: number;
}

/** Writes `ratePerSec × seconds` items on schedule; resolves when every write has answered. */
export async function writeLoad(o: WriterOptions): Promise<StepWrites> {
  const client = new DynamoDBClient(clientConfig(o.target, o.region));
  const helper =
    o.path === 'helper' ? new RegionSyncClient({ dynamodb: client, region: o.region, table: { name: o.tableName, partitionKey: o.partitionKey } }) : undefined;
  const total = Math.max(1, Math.round(o.ratePerSec * o.seconds));
  const maxInFlight = o.maxInFlight ?? 256;
  const writes: WriteRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  const startedAt = Date.now();
  for (let i = 0; i < total; i++) {
    const due = startedAt + (i * 1000) / o.ratePerSec;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    const id = `${o.idPrefix}-${i}`;
    const rec: WriteRecord = { id, t0: Date.now() };
    writes.push(rec);
    const item = makeItem(o.partitionKey, id, rec.t0, o.itemBytes);
    const write = helper ? helper.put(unmarshall(item)) : client.send(new PutItemCommand({ TableName: o.tableName, Item: item }));
    const p = write
      .then(
        () => void (rec.ackAt = Date.now()),
        (e: unknown) => void (rec.error = (e as Error).message),
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  const endedAt = Date.now();
  client.destroy();
  const acked = writes.filter((w) => w.ackAt !== undefined).length;
  return { writes, startedAt, endedAt, achievedPerSec: acked / ((endedAt - startedAt) / 1000), itemBytes: o.itemBytes };
}

/** An item of exactly `bytes` application bytes (DynamoDB's size rules), for any bytes ≥ ~40. */
export function makeItem(partitionKey: string, id: string, t0: number, bytes: number): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = { [partitionKey]: { S: id }, [T0]: { N: String(t0) }, [PAYLOAD]: { S: '' } };
  const fill = Math.max(0, bytes - itemSize(item));
  // Printable, varied, not compressible to nothing: what a real item's text looks like to SQS and JSON.
  let s = '';
  for (let k = 0; s.length < fill; k++) s += `${id}:${k.toString(36)};`;
  item[PAYLOAD] = { S: s.slice(0, fill) };
  return item;
}

/** One write's key in {@link Applied.at}: its item and its time, so that an update of an item counts apart from its creation. */
export function writeKey(w: { readonly id: string; readonly t0: number }): string {
  return `${w.id}@${w.t0}`;
}

export interface Applied {
  /** Write ({@link writeKey}) → emulator time (ms) the applier's write of it landed in this region. */
  readonly at: Map<string, number>;
  /** A sample of replicated items as stored, to measure regionsync's metadata. */
  readonly sample: Record<string, AttributeValue>[];
}

/** Follows the target tables' streams from now on; `applied.get(region)` fills as changes land. */
export class ApplyObserver {
  readonly applied = new Map<string, Applied>();
  private readonly stopping = new AbortController();
  private loops: Promise<void>[] = [];
  errors = 0;
  lastError?: string;

  constructor(
    private readonly target: Endpoint,
    private readonly regions: readonly string[],
    private readonly tableName: string,
    private readonly partitionKey: string,
  ) {
    for (const r of regions) this.applied.set(r, { at: new Map(), sample: [] });
  }

  /** Resolves once every region's stream is being read from its current end. */
  async start(): Promise<void> {
    const started = await Promise.all(this.regions.map((r) => this.open(r)));
    this.loops = started.map((s) => this.follow(s.region, s.client, s.iterators));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled(this.loops);
  }

  private async open(region: string) {
    const cfg = clientConfig(this.target, region);
    const table = await new DynamoDBClient(cfg).send(new DescribeTableCommand({ TableName: this.tableName }));
    const streamArn = table.Table?.LatestStreamArn;
    if (!streamArn) throw new Error(`bench: table ${this.tableName} in ${region} has no stream`);
    const client = new DynamoDBStreamsClient(cfg);
    const shards = (await client.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription?.Shards ?? [];
    const iterators = await Promise.all(
      shards.map(
        async (s) => (await client.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: s.ShardId!, ShardIteratorType: 'LATEST' }))).ShardIterator,
      ),
    );
    return { region, client, iterators: iterators.filter((x): x is string => !!x) };
  }

  private async follow(region: string, client: DynamoDBStreamsClient, iterators: string[]): Promise<void> {
    const applied = this.applied.get(region)!;
    let its = iterators;
    while (!this.stopping.signal.aborted && its.length > 0) {
      let full = false;
      const next: string[] = [];
      for (const it of its) {
        try {
          const res = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1000 }));
          for (const r of res.Records ?? []) {
            const img = r.dynamodb?.NewImage;
            if (!img || !isReplicationWriter(img[META.writer]?.S) || !img[T0]) continue;
            const id = img[this.partitionKey]?.S;
            const t0 = img[T0]?.N;
            const at = r.dynamodb?.ApproximateCreationDateTime?.getTime();
            const key = id && t0 ? writeKey({ id, t0: Number(t0) }) : undefined;
            if (key && at && !applied.at.has(key)) {
              applied.at.set(key, at);
              if (applied.sample.length < 20) applied.sample.push(img as Record<string, AttributeValue>);
            }
          }
          full ||= (res.Records?.length ?? 0) >= 1000;
          if (res.NextShardIterator) next.push(res.NextShardIterator);
        } catch (e) {
          this.errors++;
          this.lastError = (e as Error).message;
          next.push(it);
        }
      }
      its = next;
      if (!full) await sleep(100);
    }
  }
}
