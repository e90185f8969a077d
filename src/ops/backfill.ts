/**
 * `regionsync backfill`: copies a table's items into a new (or lagging) region through the
 * normal apply path, while live writes continue.
 *
 * A parallel segmented scan of a source region, bounded by read capacity, sends each item as a
 * change to the target region's inbound queue; the target's applier writes it with its
 * conditional write, so a live write that reached the target first (its version is newer) is
 * never overwritten, and an item changed during the backfill simply arrives twice, the newer
 * version winning. What cannot be sent as it is:
 *   - an item never stamped (written before regionsync, or a plain write whose stamp is still in
 *     flight): touched at the source with the shipper's conditional stamp (ship.ts) and sent to
 *     every other region, as the shipper would have sent it. Only under last-writer-wins: the
 *     other strategies fold a plain write in from its stream record's delta, which a touch cannot
 *     do without counting it twice if the record is still on its way; such items are counted
 *     (`skippedUnstamped`) and left to the shipper;
 *   - a version made in a region no longer in the table: touched and sent the same way;
 *   - a version made in the target itself: its applier takes only other regions' changes; the
 *     target made it, so it has it or a newer one (verify finds it if not).
 * Expired tombstones are skipped (DynamoDB is about to purge them). Under last writer wins the
 * tombstones live in the region's tombstone table, which is read after the table.
 *
 * Progress is saved after every page (LastEvaluatedKey per segment) in
 * `.regionsync/backfill/<table>-<region>.json`; an interrupted run resumes from there. A page
 * sent but not yet saved is sent again on resume: applying a change twice is a no-op.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeJsonFile } from './json-file.ts';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { Change } from '../core/change.ts';
import { fromWire, toWire } from '../core/codec.ts';
import { META, tombstoneTableName } from '../core/contract.ts';
import { tombstonesOfTable } from '../core/tombstones.ts';
import { decodeVersion } from '../core/version.ts';
import { mapWithConcurrency } from '../core/concurrency.ts';
import { dynamodb } from './aws.ts';
import type { Item } from './compare.ts';
import { isExpiredTombstone } from './digest.ts';
import { progressFor, type ProgressSink } from './progress.ts';
import { CapacityLimiter, emptyCapacity, parallelScan, type CapacityCount } from './scan.ts';
import { ChangeSender, changeOf, deliverable, Toucher, type OpsTable } from './ship.ts';
import { physicalTableName } from '../infra/config/schema.ts';

/** Touches of never-stamped items in flight at once, per page. */
const TOUCH_CONCURRENCY = 8;

/** What {@link backfill} copies: the table, the region to fill, where from, and how fast. */
export interface BackfillOptions {
  readonly ops: OpsTable;
  /** The region to fill. */
  readonly to: string;
  /** The region to read. @default the table's first other region */
  readonly from?: string;
  /** @default 4 */
  readonly segments?: number;
  /** Read capacity units per second on the source table. @default unlimited */
  readonly maxRcu?: number;
  /** Items per scan page. @default 1000 (fewer with --max-rcu) */
  readonly pageSize?: number;
  /** Where progress is saved. @default .regionsync/backfill */
  readonly stateDir?: string;
  /** Discard saved progress and start over. @default false: a saved run is resumed */
  readonly restart?: boolean;
  /** Stops after the pages in flight; progress is saved and a later run resumes. @default none: runs to the end */
  readonly signal?: AbortSignal;
  /** Where the progress bar goes; false for none. @default none (the CLI passes process.stderr) */
  readonly progress?: ProgressSink | false;
  /** Called after each page is sent and saved. @default none */
  readonly onPage?: (counts: Readonly<BackfillCounts>) => void;
  /**
   * Send only what was made in the source region (and items never stamped, stamped there first):
   * an item whose version another region made came from that region, whose own backfill sends it.
   * For backfilling every region from every other (adoption, src/ops/adopt.ts), where it halves the writes.
   * @default false: every item the target lacks is sent, whoever made it
   */
  readonly ownVersionsOnly?: boolean;
}

/** What a backfill has done, item by item; saved with its progress, so a resumed run keeps counting. */
export interface BackfillCounts {
  /** Items (and tombstones) read at the source. */
  scanned: number;
  /** Sent to the target as they were. */
  sent: number;
  /** Given a new version at the source and sent to every other region. */
  touched: number;
  /** Versions made in the target region itself. */
  skippedOwn: number;
  /** Tombstones past their TTL. */
  skippedExpired: number;
  /** Items that changed while being touched (a live write got in; the pipeline ships that write). */
  changedMeanwhile: number;
  /** Items without a version in a table whose strategy is not lww: only the shipper can fold them in. */
  skippedUnstamped: number;
  /** Queue messages sent, to every region (changes are packed many to a message). */
  messages: number;
  /** With `ownVersionsOnly`: versions made in a region other than the source, left to that region's backfill. @default 0 (absent) */
  skippedOthers?: number;
}

interface SavedState {
  readonly table: string;
  readonly from: string;
  readonly to: string;
  readonly segments: number;
  readonly startedAt: string;
  updatedAt: string;
  complete: boolean;
  /** Per segment: where to continue (wire JSON of LastEvaluatedKey), "done", or absent (not started). */
  cursors: (Record<string, unknown> | 'done' | null)[];
  /** Last writer wins: where the scan of the tombstone table (after the table's) continues. */
  tombstoneCursor?: Record<string, unknown> | 'done' | null;
  counts: BackfillCounts;
}

/** The result of {@link backfill}: its counts, whether it completed, and the read capacity it used. */
export interface BackfillReport extends BackfillCounts {
  readonly table: string;
  readonly from: string;
  readonly to: string;
  readonly complete: boolean;
  readonly resumed: boolean;
  /** Nothing to do: a saved run was already complete. */
  readonly alreadyComplete: boolean;
  readonly stateFile: string;
  readonly readCapacity: CapacityCount;
  readonly seconds: number;
}

/**
 * Where a backfill of `table` into region `to` saves its progress: `<stateDir>/<table>-<to>.json`, the
 * table name made safe for a file name.
 */
export function backfillStateFile(stateDir: string, table: string, to: string): string {
  return resolve(stateDir, `${table.replace(/[^A-Za-z0-9._-]+/g, '_')}-${to}.json`);
}

/**
 * Copies a table's items from one region into another through the target's inbound queue and applier
 * (see above), resuming a saved run unless `restart`. Throws when a region is not the table's, or
 * `from` and `to` are the same.
 */
export async function backfill(o: BackfillOptions): Promise<BackfillReport> {
  const started = Date.now();
  const { table } = o.ops;
  if (!table.regions.includes(o.to))
    throw new Error(
      `--to: table ${table.name} does not replicate in ${o.to} (its regions: ${table.regions.join(', ')}); add the region to the config and deploy first`,
    );
  const from = o.from ?? table.regions.find((r) => r !== o.to)!;
  if (!table.regions.includes(from)) throw new Error(`--from: table ${table.name} does not replicate in ${from} (its regions: ${table.regions.join(', ')})`);
  if (from === o.to) throw new Error(`--from and --to are both ${from}`);
  const segments = o.segments ?? 4;
  const file = backfillStateFile(o.stateDir ?? join('.regionsync', 'backfill'), table.name, o.to);

  let state = o.restart ? undefined : await loadState(file);
  const resumed = state !== undefined;
  if (state && (state.from !== from || state.segments !== segments || state.table !== table.name)) {
    throw new Error(
      `${file} holds a backfill of ${state.table} from ${state.from} with ${state.segments} segments; ` +
        `resume it with --from ${state.from} --segments ${state.segments}, or start over with --restart`,
    );
  }
  const capacity = emptyCapacity();
  const report = (s: SavedState, alreadyComplete = false): BackfillReport => ({
    ...s.counts,
    table: table.name,
    from,
    to: o.to,
    complete: s.complete,
    resumed,
    alreadyComplete,
    stateFile: file,
    readCapacity: capacity,
    seconds: (Date.now() - started) / 1000,
  });
  if (state?.complete) return report(state, true);
  state ??= {
    table: table.name,
    from,
    to: o.to,
    segments,
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    complete: false,
    cursors: Array.from({ length: segments }, () => null),
    counts: { scanned: 0, sent: 0, touched: 0, skippedOwn: 0, skippedExpired: 0, changedMeanwhile: 0, skippedUnstamped: 0, messages: 0 },
  };
  const s = state;
  const saver = new StateSaver(file);
  await saver.save(s);

  const client = dynamodb(o.ops.target, from);
  const total = (await client.send(new DescribeTableCommand({ TableName: physicalTableName(table, from) }))).Table?.ItemCount;
  const progress = progressFor(o.progress, `backfill ${table.name} ${from} → ${o.to}`, total);
  progress?.resumeAt(s.counts.scanned);
  const sender = new ChangeSender(o.ops);
  const toucher = new Toucher(o.ops);
  const others = table.regions.filter((r) => r !== from);

  const limiter = new CapacityLimiter(o.maxRcu);

  /** Sends (or touches and sends) one page of item states read at the source. */
  const sendPage = async (items: readonly Item[]) => {
    const outbox = new Map<string, Change[]>();
    const queue = (regions: readonly string[], change: Change) => {
      for (const r of regions) outbox.set(r, [...(outbox.get(r) ?? []), change]);
    };
    const now = Date.now();
    const nowSeconds = Math.floor(now / 1000);
    const one = async (scanned: Item): Promise<void> => {
      let item = scanned;
      s.counts.scanned++;
      if (isExpiredTombstone(item, table.ttlAttribute, nowSeconds)) {
        s.counts.skippedExpired++;
        return;
      }
      let origin = originOf(item);
      if (origin === undefined && table.strategy.strategy !== 'lww') {
        s.counts.skippedUnstamped++;
        return;
      }
      if (origin === undefined || !table.regions.includes(origin)) {
        const touched = await toucher.touch(from, item);
        if (touched.kind === 'stamped') {
          s.counts.touched++;
          queue(others, changeOf(o.ops, touched.item, now));
          return;
        }
        // A live write got in: if it is stamped by now, send it as it is; else its own stamp will ship it.
        if (!touched.current || originOf(touched.current) === undefined) {
          s.counts.changedMeanwhile++;
          return;
        }
        item = touched.current;
        origin = originOf(item)!;
      }
      if (origin === o.to) {
        s.counts.skippedOwn++;
        return;
      }
      if (o.ownVersionsOnly && origin !== from) {
        s.counts.skippedOthers = (s.counts.skippedOthers ?? 0) + 1;
        return;
      }
      if (!deliverable(origin, o.to, table.regions)) {
        s.counts.changedMeanwhile++;
        return;
      }
      s.counts.sent++;
      queue([o.to], changeOf(o.ops, item, now));
    };
    // Items never stamped are touched with one write each: several at once (a page's keys are distinct).
    // A failure waits for the others: what was touched is sent before the error is thrown, or an
    // item stamped at the source (its new version made there) would reach no other region.
    let failure: { error: unknown } | undefined;
    await mapWithConcurrency(items, TOUCH_CONCURRENCY, (item) =>
      one(item).catch((error: unknown) => {
        failure ??= { error };
      }),
    );
    for (const [region, changes] of outbox) s.counts.messages += (await sender.send(region, changes)).messages;
    if (failure) throw failure.error;
  };

  await parallelScan({
    client,
    tableName: physicalTableName(table, from),
    segments,
    limiter,
    capacity,
    ...(o.pageSize ? { pageSize: o.pageSize } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    startKeys: s.cursors.map((c) => (c === 'done' ? null : c ? fromWire(c) : undefined)),
    onPage: async (segment, items, next) => {
      await sendPage(items);
      s.cursors[segment] = next ? toWire(next) : 'done';
      await saver.save(s);
      progress?.add(items.length, `${s.counts.sent + s.counts.touched} sent`);
      o.onPage?.(s.counts);
    },
  });

  // Deleted keys' tombstones are kept in the region's tombstone table (docs/deletes.md):
  // the target needs them too, or an older change still on its way could bring a deleted item back.
  // The tombstone table is shared by the app's tables: one scan, the other tables' rows skipped.
  if (!o.signal?.aborted && s.cursors.every((c) => c === 'done') && s.tombstoneCursor !== 'done') {
    await parallelScan({
      client,
      tableName: tombstoneTableName(o.ops.appName),
      segments: 1,
      limiter,
      capacity,
      ...(o.pageSize ? { pageSize: o.pageSize } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      startKeys: [s.tombstoneCursor ? fromWire(s.tombstoneCursor) : undefined],
      onPage: async (_segment, rows, next) => {
        await sendPage(tombstonesOfTable(rows.map(toWire), table.name, table.ttlAttribute).map(fromWire));
        s.tombstoneCursor = next ? toWire(next) : 'done';
        await saver.save(s);
        progress?.add(0, `${s.counts.sent + s.counts.touched} sent`);
        o.onPage?.(s.counts);
      },
    });
  }
  s.complete = s.cursors.every((c) => c === 'done') && s.tombstoneCursor === 'done';
  await saver.save(s);
  progress?.finish(`${s.counts.sent} sent, ${s.counts.touched} stamped and sent${s.complete ? '' : ' — interrupted: run again to resume'}`);
  return report(s);
}

function originOf(item: Item): string | undefined {
  const version = decodeVersion(item[META.version]?.S);
  if (!version) return undefined;
  return version.region;
}

async function loadState(file: string): Promise<SavedState | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SavedState;
  } catch (e) {
    throw new Error(`cannot read backfill progress ${file}: ${(e as Error).message} (start over with --restart)`);
  }
}

/** Writes the state atomically, one write at a time (segments finish pages concurrently). */
class StateSaver {
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly file: string) {}

  save(s: SavedState): Promise<void> {
    const write = async () => {
      s.updatedAt = new Date().toISOString();
      await writeJsonFile(this.file, s);
    };
    this.chain = this.chain.then(write, write);
    return this.chain;
  }
}
