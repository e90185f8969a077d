/**
 * `regionsync replay`: ships again the changes a region made in a time range, from its table's
 * stream (records are kept 24 hours). For when a target lost changes it had acknowledged (a
 * restored table, messages purged from a queue) and a full backfill is more than needed.
 *
 * Only records whose new image carries a version made in that region are shipped: they are
 * exactly what the shipper shipped (a plain write's own record has no version yet; the record of
 * its stamp carries it). Per key, only the newest version in the range is sent: the newer
 * version wins (or, under merge strategies, already contains the older ones). Applying a change
 * twice is a no-op, so a replay never harms a target that has them.
 *
 * DynamoDB Streams allows two readers per shard at a time; the shipper is one, replay the other.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type Shard } from '@aws-sdk/client-dynamodb-streams';
import type { Change } from '../core/change.ts';
import { META } from '../core/contract.ts';
import { compareVersions, decodeVersion } from '../core/version.ts';
import { clientConfig, dynamodb } from './aws.ts';
import type { Item } from './compare.ts';
import { keyString } from './digest.ts';
import { progressFor, type ProgressSink } from './progress.ts';
import { ChangeSender, changeOf, keyAttributesOf, type OpsTable } from './ship.ts';
import { physicalTableName } from '../infra/config/schema.ts';

/** What {@link replayStream} ships again: one region's changes in a time range, to which regions. */
export interface ReplayOptions {
  readonly ops: OpsTable;
  /** The region whose changes are shipped again (its stream is read). */
  readonly region: string;
  /** Epoch ms: records created at or after this time. */
  readonly since: number;
  /** Epoch ms: records created at or before this time. @default now */
  readonly until?: number;
  /** Regions to ship to. @default every other region of the table */
  readonly to?: readonly string[];
  /** Only report what would be shipped. @default false: ship */
  readonly dryRun?: boolean;
  /** Where the progress line goes; false for none. @default none (the CLI passes process.stderr) */
  readonly progress?: ProgressSink | false;
  /** Consecutive empty reads after which an open shard counts as read to its end. @default 3 */
  readonly emptyReadsAtEnd?: number;
}

/** The result of {@link replayStream}: what was read, what was in range, and what was (or would be) shipped. */
export interface ReplayReport {
  readonly table: string;
  readonly region: string;
  readonly since: string;
  readonly until: string;
  readonly to: readonly string[];
  readonly dryRun: boolean;
  /** Stream records read. */
  readonly records: number;
  /** Records created inside the range. */
  readonly inRange: number;
  /** Keys whose newest version in the range was shipped (or would be). */
  readonly keys: number;
  readonly changesSent: number;
  readonly messagesSent: number;
  /** Records in range not shipped: no version yet (their stamp's record follows) or made in another region. */
  readonly skipped: { readonly unversioned: number; readonly otherOrigin: number; readonly noImage: number };
}

/**
 * Reads `region`'s stream (every shard, parents first) and ships to `to`, per key, the newest version
 * made in `region` between `since` and `until`. Throws when a region is not the table's, the range is
 * reversed, or the table has no stream.
 */
export async function replayStream(o: ReplayOptions): Promise<ReplayReport> {
  const { table } = o.ops;
  if (!table.regions.includes(o.region))
    throw new Error(`--region: table ${table.name} does not replicate in ${o.region} (its regions: ${table.regions.join(', ')})`);
  const until = o.until ?? Date.now();
  if (!(o.since <= until)) throw new Error(`--since (${new Date(o.since).toISOString()}) is after --until (${new Date(until).toISOString()})`);
  const to = o.to ?? table.regions.filter((r) => r !== o.region);
  for (const r of to) {
    if (r === o.region || !table.regions.includes(r))
      throw new Error(`--to: ${r} is not another region of table ${table.name} (${table.regions.filter((x) => x !== o.region).join(', ')})`);
  }
  const streamArn = (await dynamodb(o.ops.target, o.region).send(new DescribeTableCommand({ TableName: physicalTableName(table, o.region) }))).Table
    ?.LatestStreamArn;
  if (!streamArn) throw new Error(`table ${table.name} in ${o.region} has no stream`);
  const streams = new DynamoDBStreamsClient(clientConfig(o.ops.target, o.region));
  const keyAttrs = keyAttributesOf(table);
  const newest = new Map<string, Item>();
  const skipped = { unversioned: 0, otherOrigin: 0, noImage: 0 };
  let records = 0;
  let inRange = 0;
  const progress = progressFor(o.progress, `replay ${table.name} ${o.region} stream`);

  for (const shard of await listShards(streams, streamArn)) {
    let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' })))
      .ShardIterator;
    let empty = 0;
    while (iterator) {
      const out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      iterator = out.NextShardIterator;
      const batch = out.Records ?? [];
      records += batch.length;
      progress?.add(batch.length, `${inRange} in range`);
      if (batch.length === 0) {
        // An open shard never ends: caught up once reads come back empty a few times.
        if (++empty >= (o.emptyReadsAtEnd ?? 3)) break;
        continue;
      }
      empty = 0;
      let past = false;
      for (const record of batch) {
        const created = record.dynamodb?.ApproximateCreationDateTime?.getTime();
        if (created === undefined) continue;
        // Stream times are whole seconds: a range is widened to the seconds it touches.
        if (created < Math.floor(o.since / 1000) * 1000) continue;
        if (created > until) {
          past = true;
          break;
        }
        inRange++;
        const image = record.dynamodb?.NewImage as Item | undefined;
        if (!image) {
          skipped.noImage++;
          continue;
        }
        const version = decodeVersion(image[META.version]?.S);
        if (!version) {
          skipped.unversioned++;
          continue;
        }
        if (version.region !== o.region) {
          skipped.otherOrigin++;
          continue;
        }
        const key = keyString(image, keyAttrs);
        const seen = decodeVersion(newest.get(key)?.[META.version]?.S);
        if (!seen || compareVersions(version, seen) > 0) newest.set(key, image);
      }
      if (past) break;
    }
  }
  const sender = new ChangeSender(o.ops);
  const now = Date.now();
  const changes: Change[] = [...newest.values()].map((image) => changeOf(o.ops, image, now));
  if (!o.dryRun) for (const r of to) await sender.send(r, changes);
  progress?.finish(`${inRange} records in range, ${changes.length} keys ${o.dryRun ? 'would be ' : ''}shipped to ${to.join(', ')}`);
  return {
    table: table.name,
    region: o.region,
    since: new Date(o.since).toISOString(),
    until: new Date(until).toISOString(),
    to,
    dryRun: o.dryRun ?? false,
    records,
    inRange,
    keys: changes.length,
    changesSent: sender.changes,
    messagesSent: sender.messages,
    skipped,
  };
}

async function listShards(client: DynamoDBStreamsClient, streamArn: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let start: string | undefined;
  do {
    const out = await client.send(new DescribeStreamCommand({ StreamArn: streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) }));
    shards.push(...(out.StreamDescription?.Shards ?? []));
    start = out.StreamDescription?.LastEvaluatedShardId;
  } while (start);
  // Parents before children, so a key's records are read in order across a shard split.
  const ids = new Set(shards.map((s) => s.ShardId));
  const ordered: Shard[] = [];
  const placed = new Set<string>();
  const place = (s: Shard) => {
    if (placed.has(s.ShardId!)) return;
    const parent = s.ParentShardId && ids.has(s.ParentShardId) ? shards.find((x) => x.ShardId === s.ParentShardId) : undefined;
    if (parent) place(parent);
    placed.add(s.ShardId!);
    ordered.push(s);
  };
  shards.forEach(place);
  return ordered;
}

/**
 * A time for --since/--until: ISO 8601 (`2026-05-01T10:00:00Z`), epoch milliseconds, or a
 * duration before `now` (`90s`, `15m`, `2h`, `1d`).
 */
export function parseTime(s: string, now = Date.now()): number {
  const ago = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(s.trim());
  if (ago) return now - Number(ago[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d{10,}$/.test(s.trim())) return Number(s.trim());
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`not a time: "${s}" (use ISO 8601, epoch ms, or a duration ago like 15m, 2h, 1d)`);
  return t;
}
