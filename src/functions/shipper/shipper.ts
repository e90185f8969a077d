/**
 * The shipper: turns a batch of stream records into change messages and sends them to the
 * inbound queue of every other region. Plain application writes are stamped with a version
 * first (one conditional UpdateItem each); writes made by regionsync itself are never
 * re-shipped, so replication cannot loop.
 */
import { ConditionalCheckFailedException, type DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { groupIntoBatches, keyToString, packChanges, stripMeta, type AttributeMap, type Change } from '../../core/change.ts';
import { fromWire, toWire } from '../../core/codec.ts';
import { mapWithConcurrency } from '../../core/concurrency.ts';
import { BACKLOG_TARGET_ATTRIBUTE, META, METRICS, type FunctionSettings } from '../../core/contract.ts';
import { applyLocalWrite, emptyState, isAlive, mergeStates, parseState, sameState, serializeState, foldBaseComplete } from '../../core/item-state.ts';
import { advance, mergeVectors, vectorFromAttribute, vectorAttribute, type VersionVector } from '../../core/vector.ts';
import type { PairMetricsSink } from '../../core/metrics.ts';
import { alreadyFolded, changeFromImage, classifyRecord, reconcile, versionOf, type ItemGuard, type ShipperAction } from '../../core/stream-record.ts';
import { sameContent, withContentHash } from '../../core/content-hash.ts';
import {
  getTombstoneInput,
  putTombstoneInput,
  tombstoneOfRow,
  tombstoneRow,
  tombstoneVersion,
  tombstoneWins,
  tombstoneWrittenAt,
  REMOVAL_WRITER,
} from '../../core/tombstones.ts';
import { removeItem, type TombstoneRowRef } from '../shared/remove-item.ts';
import { newestOf, StateStore, withRowState } from '../shared/state-store.ts';
import { compareVersions, decodeVersion, encodeVersion, maxVersion, versionAt, type Version } from '../../core/version.ts';
import { customLocalWrite, type Resolver } from '../../core/resolver.ts';
import { SettingsError } from '../../core/errors.ts';
import { selectedBatches } from './selective.ts';
import { clockBoundOf } from '../../core/clock-bound.ts';
import { UnstampableRecords } from './oversize.ts';
import { stampedPutInput, stampInput, stateContext, tombstoneInput } from '../../core/writes.ts';

/** SQS's hard limit for one message and for one SendMessageBatch call. */
const SQS_MAX_BYTES = 1024 * 1024;
/** A send to one target that takes longer than this is abandoned and its changes go to the backlog. */
const TARGET_SEND_TIMEOUT_MS = 10_000;
/** Conditional writes one record may take to settle; more means the item is hot, and the batch retries. */
const MAX_RECONCILE_ATTEMPTS = 5;
type StampAction = Extract<ShipperAction, { kind: 'stamp' }>;
type TombstoneAction = Extract<ShipperAction, { kind: 'tombstone' }>;
/** Distinct keys stamped in parallel; records of one key are always handled in stream order. */
const KEY_CONCURRENCY = 16;

/** What the shipper needs besides its settings: AWS clients, Powertools logger and metrics, and what tests replace. */
export interface ShipperDeps {
  readonly dynamodb: DynamoDBClient;
  /** An SQS client for a target region. */
  readonly sqsFor: (region: string) => SQSClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Per target region: changes shipped (core/metrics.ts), published by the handler. @default none */
  readonly pairMetrics?: PairMetricsSink;
  /**
   * The clock (epoch ms): for tombstone expiries and rows, parked records, and a record that carries no creation time.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * The table's resolver, for the `custom` strategy (it resolves local writes too).
   * @default none (a local write to a `custom` table then fails with a SettingsError, and the batch is retried)
   */
  readonly resolver?: Resolver;
}

interface RecordOutcome {
  readonly change?: Change;
  readonly failed?: unknown;
}

/** Handles the stream batches of one table in this region (see above): stamps or folds local writes, ships the changes. */
export class Shipper {
  private readonly now: () => number;
  private readonly unstampable: UnstampableRecords;
  /** Where merged states live (merging strategies). */
  private readonly store: StateStore;

  constructor(
    private readonly settings: FunctionSettings,
    private readonly deps: ShipperDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.unstampable = new UnstampableRecords(settings, { ...deps, now: this.now });
    this.store = new StateStore(deps.dynamodb, settings, this.now);
  }

  async handle(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
    const records = event.Records;
    const outcomes = await this.processRecords(records);

    const firstFailed = outcomes.findIndex((o) => o.failed !== undefined);
    const changes: { change: Change; index: number; old?: AttributeMap }[] = [];
    outcomes.forEach((o, index) => {
      // The item before the write decides whether a target that filters it held a copy (selective replication).
      if (o.change) changes.push({ change: o.change, index, old: records[index]!.dynamodb?.OldImage as AttributeMap | undefined });
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
    const lww = (this.settings.strategy?.strategy ?? 'lww') === 'lww';
    await mapWithConcurrency([...byKey.values()], KEY_CONCURRENCY, async (indexes) => {
      const actions = indexes.map((i) => this.classify(records[i]!));
      // Last writer wins: of a key's plain writes in one batch, only the last counts (the region
      // itself already holds it over the earlier ones). Stamping each would give writes made in the
      // same instant (one stream time, one floor) the same version, and put back the earlier one
      // over a replicated change where only the later one belongs.
      // Regionsync's own removal (a delete's second step, a put taken back; src/functions/shared/remove-item.ts)
      // supersedes nothing: it would hide the local write beneath it.
      const ownRemoval = (a: ShipperAction) => a.kind === 'tombstone' && a.oldImage?.[META.writer]?.S === REMOVAL_WRITER;
      const lastWrite = lww ? actions.reduce((last, a, n) => ((a.kind === 'stamp' || a.kind === 'tombstone') && !ownRemoval(a) ? n : last), -1) : -1;
      // The last write stands for the writes it supersedes, so its version must beat every version
      // they replaced too: a delete then a re-create in one batch leaves the re-create no old image,
      // and without the delete's floor it could be versioned below the item the delete removed.
      if (lastWrite > 0) actions[lastWrite] = withFloor(actions[lastWrite]!, actions.slice(0, lastWrite), this.settings.region);
      for (const [n, i] of indexes.entries()) {
        try {
          const action = actions[n]!;
          const superseded = lww && n < lastWrite && (action.kind === 'stamp' || action.kind === 'tombstone');
          outcomes[i] = superseded ? {} : { change: await this.act(records[i]!, action) };
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

  private classify(record: DynamoDBRecord): ShipperAction {
    const { settings } = this;
    return classifyRecord(record, {
      logicalTable: settings.logicalTable,
      region: settings.region,
      key: settings.key,
      now: this.now(),
      replicateTtlDeletes: settings.replicateTtlDeletes ?? false,
      ttlAttribute: settings.ttlAttribute,
      // Clock bound: lww only; merging strategies keep the version inside their state, which a restamp cannot rewrite.
      ...((settings.strategy?.strategy ?? 'lww') === 'lww' ? { maxClockOffsetMs: clockBoundOf(settings).maxOffsetMs } : {}),
    });
  }

  private async act(record: DynamoDBRecord, action: ShipperAction): Promise<Change | undefined> {
    if (action.kind !== 'skip' && action.kind !== 'ship' && action.aheadOfClockMs !== undefined) this.countRestamp(action.key, action.aheadOfClockMs);
    switch (action.kind) {
      case 'skip':
        return undefined;
      case 'ship':
        // A client-helper write that created the item: a tombstone may be newer (see afterCreate).
        if (
          this.settings.tombstoneTable &&
          (this.settings.strategy?.strategy ?? 'lww') === 'lww' &&
          action.change.op === 'put' &&
          record.eventName === 'INSERT'
        ) {
          const item = record.dynamodb!.NewImage as unknown as AttributeMap;
          return (await this.settleAgainstTombstone(
            action.change.key,
            item,
            action.change.writtenAt ?? this.now(),
            undefined,
            vectorFromAttribute(item[META.vector], item[META.version]?.S),
          ))
            ? changeFromImage(item, this.settings, action.change.writtenAt ?? this.now(), this.settings.ttlAttribute)
            : undefined;
        }
        return action.change;
      case 'stamp':
      case 'tombstone':
        // A write DynamoDB refuses as invalid (no room left for the stamp) never succeeds: replicated
        // with a compact stamp or parked with its reason (oversize.ts), so the shard is never blocked.
        return this.stampOrTombstone(action).catch((error: unknown) => this.unstampable.recover(record, action, error));
    }
  }

  /**
   * Gives a plain write (or delete) its version and returns the change to ship. The first write is
   * conditional on the item still being as the record left it; if it is not, `reconcile` decides
   * from the item as it now is: ship it, stamp it, put the record's write back over an older
   * replicated change that overwrote it before it was stamped, or leave it to a newer change (or
   * to a later local write, whose own record follows).
   */
  private async stampOrTombstone(action: StampAction | TombstoneAction): Promise<Change | undefined> {
    const { settings } = this;
    const strategy = settings.strategy?.strategy ?? 'lww';
    if (strategy !== 'lww') return this.foldIntoState(action);
    if (settings.tombstoneTable && action.kind === 'tombstone' && !action.guard) return this.localDelete(action, settings.tombstoneTable);
    const image = action.kind === 'stamp' ? action.image : undefined;
    const clearTtl = action.kind === 'stamp' && action.clearTtl ? { clearTtl: true } : {};
    let base = action.baseVector;
    let write =
      action.kind === 'stamp'
        ? this.stampWrite(action.key, action.version, { expectedVersion: action.expectedVersion, ...clearTtl }, image!, base)
        : this.tombstoneWrite(action.key, action.version, action.guard, base);
    for (let attempt = 0; attempt < MAX_RECONCILE_ATTEMPTS; attempt++) {
      try {
        let written = await write();
        this.deps.metrics.addMetric(METRICS.names.writesStamped, MetricUnit.Count, 1);
        // A stamp that landed on a later write's content ships nothing: that write's own record will.
        if (image && !sameContent(written, image)) return undefined;
        if (image && settings.tombstoneTable) {
          const settled = await this.settleAgainstTombstone(action.key, written, action.writtenAt, image, base);
          if (!settled) return undefined;
          written = settled;
        }
        return changeFromImage(written, settings, action.writtenAt, settings.ttlAttribute);
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        let current = e.Item ? toWire(e.Item) : undefined;
        if (!current && image && settings.tombstoneTable) {
          // The item is gone. If regionsync removed something since this write (the tombstone row's
          // time is later: a replicated delete removed the write, or a replicated change that had
          // overwritten it), the write may be newer than that tombstone: then it is put back. If
          // not, the application deleted the write itself, and that REMOVE record follows.
          // (In the same instant either may have come first: the versions decide.)
          const row = await this.readTombstone(action.key, settings.tombstoneTable);
          if (row && (tombstoneWrittenAt(row) ?? 0) >= action.writtenAt) current = tombstoneOfRow(row, settings.ttlAttribute);
        }
        base = mergeVectors(base, vectorFromAttribute(current?.[META.vector], current?.[META.version]?.S));
        const next = reconcile(current, image, action.version, settings.region);
        switch (next.kind) {
          case 'none':
            this.deps.logger.debug('plain write superseded before it was stamped', { key: keyToString(action.key) });
            return undefined;
          case 'ship':
            return changeFromImage(next.current, settings, action.writtenAt, settings.ttlAttribute);
          case 'restamp':
            write = this.stampWrite(action.key, next.version, { guard: next.expected, ...clearTtl }, image!, base);
            break;
          case 'restore':
            if (image && current?.[META.deleted]?.BOOL === true && settings.tombstoneTable)
              write = this.putWrite(stripMeta(image), next.version, undefined, base);
            else
              write = image
                ? this.putWrite(stripMeta(image), next.version, next.expected, base)
                : this.tombstoneWrite(action.key, next.version, next.expected, base);
            break;
        }
      }
    }
    throw new Error(`item ${keyToString(action.key)} kept changing while being stamped; the batch will be retried`);
  }

  /**
   * After a local write was stamped (or a client-helper write created the item), with the item
   * possibly re-created over a deleted one: the tombstone table decides (tombstones.ts). A newer
   * tombstone written before this write happened was already there when the application wrote, so
   * the write is the later one and is stamped again above it (the region's clock must never put a
   * write below what the region had applied). A newer tombstone written after it is a delete that
   * raced this write and won: the write is taken back out, with anything else older than the
   * tombstone standing there (src/functions/shared/remove-item.ts), and not shipped. Returns the
   * item to ship, or undefined.
   */
  private async settleAgainstTombstone(
    key: AttributeMap,
    written: AttributeMap,
    writtenAt: number,
    image: AttributeMap | undefined,
    base: VersionVector,
  ): Promise<AttributeMap | undefined> {
    const { settings } = this;
    const row = await this.readTombstone(key, settings.tombstoneTable!);
    const version = versionOf(written)!;
    if (!tombstoneWins(row, version)) return written;
    const tomb = tombstoneVersion(row)!;
    const guard: ItemGuard = { version: encodeVersion(version), ...(written[META.contentHash]?.S ? { contentHash: written[META.contentHash].S } : {}) };
    try {
      if ((tombstoneWrittenAt(row) ?? Infinity) <= writtenAt) {
        const above = versionAt(writtenAt, settings.region, tomb);
        const restamped = await this.stampWrite(
          key,
          above,
          { guard },
          image ?? written,
          mergeVectors(base, vectorFromAttribute(row![META.vector], row![META.version]?.S)),
        )();
        this.deps.metrics.addMetric(METRICS.names.writesStamped, MetricUnit.Count, 1);
        return restamped;
      }
      // Older than the tombstone (`_rs_v < :tombstone`), not only exactly what was stamped: a
      // replicated put older than the tombstone may have landed on this write since the stamp (it
      // found an item, so it read no row), and only this removal sees it. Newer writes stay, and so
      // does a later application write without a version (its own record settles it).
      await removeItem(this.deps.dynamodb, settings.tableName, key, { olderThan: row![META.version]!.S! }, this.tombstoneRowRef());
    } catch (e) {
      // The item changed since the stamp: a later write is on top, and its own record settles it.
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
    return undefined;
  }

  private tombstoneRowRef(): TombstoneRowRef {
    return { tombstoneTable: this.settings.tombstoneTable!, logicalTable: this.settings.logicalTable, now: this.now };
  }

  private async readTombstone(key: AttributeMap, tombstoneTable: string): Promise<AttributeMap | undefined> {
    const out = await this.deps.dynamodb.send(new GetItemCommand(getTombstoneInput(tombstoneTable, this.settings.logicalTable, key)));
    return out.Item ? toWire(out.Item) : undefined;
  }

  /**
   * A REMOVE record, with a tombstone table (tombstones.ts). Regionsync's own removals (the
   * applier's of a replicated delete, a put taken back) removed an item regionsync wrote that a
   * tombstone at least as new now covers: nothing to ship. Anything else is the application's
   * delete: write its tombstone (conditional on the row as read), remove the item if a replicated
   * change older than the delete landed since, and ship the delete. A retry of this record finds
   * its own mark on the row and finishes the same delete.
   */
  private async localDelete(action: TombstoneAction, tombstoneTable: string): Promise<Change | undefined> {
    const { settings } = this;
    // Regionsync's own removal (marked): its tombstone is already kept and on its way. (Never a
    // retry of this method: the application's delete it records removed an unmarked item.)
    if (action.oldImage?.[META.writer]?.S === REMOVAL_WRITER) return undefined;
    for (let attempt = 0; attempt < MAX_RECONCILE_ATTEMPTS; attempt++) {
      const row = await this.readTombstone(action.key, tombstoneTable);
      const own = row?.[META.sequence]?.S === action.foldMark;
      let tombstone: AttributeMap;
      if (own) {
        tombstone = tombstoneOfRow(row, settings.ttlAttribute)!;
      } else {
        const seen = tombstoneVersion(row);
        // Above a tombstone that was there before the delete (HLC: never below what the region applied).
        const floor = maxVersion(action.floor, seen && (tombstoneWrittenAt(row) ?? Infinity) <= action.writtenAt ? seen : undefined);
        const version = versionAt(action.writtenAt, settings.region, floor);
        if (seen && compareVersions(seen, version) > 0) return undefined; // a newer delete is already kept: it ships from where it was made
        const expiresAt = Math.floor(this.now() / 1000) + settings.tombstoneTtlSeconds;
        const vector = advance(mergeVectors(action.baseVector, vectorFromAttribute(row?.[META.vector], row?.[META.version]?.S)), version);
        tombstone = withContentHash({
          ...action.key,
          [META.deleted]: { BOOL: true },
          [settings.ttlAttribute]: { N: String(expiresAt) },
          [META.version]: { S: encodeVersion(version) },
          [META.writer]: { S: 'stamp' },
          ...vectorAttribute(vector, encodeVersion(version)),
        });
        const next = {
          ...tombstoneRow(settings.logicalTable, tombstone, action.key, settings.ttlAttribute, this.now()),
          [META.sequence]: { S: action.foldMark },
        };
        try {
          await this.deps.dynamodb.send(new PutItemCommand(putTombstoneInput(tombstoneTable, next, { seen: row?.[META.version]?.S })));
          this.deps.metrics.addMetric(METRICS.names.writesStamped, MetricUnit.Count, 1);
        } catch (e) {
          if (e instanceof ConditionalCheckFailedException) continue;
          throw e;
        }
      }
      // A replicated change older than the delete that landed after it goes too (never a later local
      // write). Almost always the item is simply absent: a read (a fifth of a write) says so, where a
      // conditional write that fails would cost a whole write unit.
      const now = await this.deps.dynamodb.send(new GetItemCommand({ TableName: settings.tableName, Key: fromWire(action.key), ConsistentRead: true }));
      const landed = now.Item?.[META.version]?.S;
      if (landed !== undefined && landed < tombstone[META.version]!.S!) {
        await removeItem(this.deps.dynamodb, settings.tableName, action.key, { olderThan: tombstone[META.version]!.S! }, this.tombstoneRowRef());
      }
      return changeFromImage(tombstone, settings, action.writtenAt, settings.ttlAttribute);
    }
    throw new Error(`tombstone of ${keyToString(action.key)} kept changing while a delete was recorded; the batch will be retried`);
  }

  /**
   * `fields` and `merge` strategies: fold the record's difference (old image → new image) into the
   * item's mergeable state, read fresh, and write it back conditional on the version read. Any
   * replicated change that landed in between is kept: the merge is what makes both survive. The
   * record's sequence number is kept on the item, so a retried record is not folded in twice.
   */
  private async foldIntoState(action: StampAction | TombstoneAction): Promise<Change | undefined> {
    const { settings } = this;
    // Regionsync's own removal of a merged item whose state became a tombstone (state-store.ts):
    // that tombstone is kept and on its way already.
    if (action.kind === 'tombstone' && action.oldImage?.[META.writer]?.S === REMOVAL_WRITER) return undefined;
    const ctx = stateContext(settings);
    for (let attempt = 0; attempt < MAX_RECONCILE_ATTEMPTS; attempt++) {
      // With the row: the application may have written over a deleted item (its record has no old image of it).
      const read = await this.store.read(action.key, true);
      const current = read.item;
      const folded = current ?? read.row;
      if (folded && alreadyFolded(folded[META.sequence]?.S, action.foldMark) && folded[META.version]) {
        // Already folded in by an earlier attempt: shipping the current state again is harmless (at
        // this region's newest write, the version an origin's change must carry).
        const state = current ?? read.tombstone!;
        return changeFromImage(
          state,
          settings,
          action.writtenAt,
          settings.ttlAttribute,
          decodeVersion(vectorFromAttribute(state[META.vector], state[META.version]?.S)[settings.region]),
        );
      }
      // The old image is a past state of this very item: joining it in changes nothing the item
      // still has, and brings back the merge state a delete or a whole-item PutItem dropped. So is
      // the tombstone row (a delete's state, kept apart from the table).
      let past = action.oldImage?.[META.version] ? parseState(action.oldImage, ctx) : emptyState(action.key);
      past = withRowState(past, read, ctx);
      const state = mergeStates(current ? parseState(current, ctx) : emptyState(action.key), past, ctx);
      // The write's version is when it happened (so a later write from elsewhere, already merged in,
      // keeps what it set), above every earlier write of this region (they are folded in stream
      // order: two writes in the same instant must not share a version).
      const ownVersion = versionAt(action.writtenAt, settings.region, maxVersion(action.floor, decodeVersion(state.vector[settings.region])));
      // `custom`: a local write supersedes every sibling it has seen, so it goes above all of them.
      const aboveAll = versionAt(action.writtenAt, settings.region, maxVersion(action.floor, decodeVersion(state.version)));
      const expiresAt = Math.floor(this.now() / 1000) + settings.tombstoneTtlSeconds;
      const image = action.kind === 'stamp' ? action.image : undefined;
      let written: AttributeMap;
      if (settings.strategy?.strategy === 'custom') {
        if (!this.deps.resolver) throw new SettingsError('table uses the custom strategy but the shipper was built without a resolver');
        // With the item gone (a delete), the record's old image or the tombstone row (the newer) is the state the write replaces.
        const seen =
          current && current[META.writer]?.S !== REMOVAL_WRITER
            ? current
            : newestOf(action.oldImage?.[META.version] ? action.oldImage : undefined, read.tombstone);
        const args = {
          current: seen,
          keyItem: action.key,
          image,
          baseVector: action.baseVector,
          version: aboveAll,
          resolver: this.deps.resolver,
          key: settings.key,
          ttlAttribute: settings.ttlAttribute,
          tombstoneExpiresAt: expiresAt,
        };
        written = customLocalWrite(args).item;
      } else {
        const next = applyLocalWrite(state, action.oldImage, image, ownVersion, ctx, expiresAt, { baseComplete: foldBaseComplete(current, image) });
        next.vector = mergeVectors(next.vector, action.baseVector);
        written = serializeState(next, ctx, 'stamp');
      }
      const item = { ...written, [META.sequence]: { S: action.foldMark } };
      const outcome = await this.store.write(action.key, read, item);
      if (outcome === 'retry') continue;
      this.deps.metrics.addMetric(METRICS.names.writesStamped, MetricUnit.Count, 1);
      // Written, but a racing write changed the other side: merge it in (this write is folded now).
      if (outcome === 'recheck') await this.settle(action.key);
      return changeFromImage(item, settings, action.writtenAt, settings.ttlAttribute, settings.strategy?.strategy === 'custom' ? aboveAll : ownVersion);
    }
    throw new Error(`item ${keyToString(action.key)} kept changing while its write was folded in; the batch will be retried`);
  }

  /**
   * After a fold whose write raced a write to the other side (state-store.ts): joins the item and
   * its tombstone row and writes the join where it belongs. Nothing new to ship: both writes are
   * (or will be) shipped by whoever made them.
   */
  private async settle(key: AttributeMap): Promise<void> {
    const ctx = stateContext(this.settings);
    for (let attempt = 0; attempt < MAX_RECONCILE_ATTEMPTS; attempt++) {
      const read = await this.store.read(key, true);
      // An application's write not folded yet holds no merge state to weigh: its own record folds it.
      if (read.item && !read.item[META.version]) return;
      let result: AttributeMap | undefined;
      if (this.settings.strategy?.strategy === 'custom') {
        // One stored item is the state: the newer of the two sides.
        const newest = newestOf(read.item, read.tombstone);
        if (!newest || newest === read.item || !read.item) return;
        result = newest;
      } else {
        const joined = withRowState(read.item ? parseState(read.item, ctx) : emptyState(key), read, ctx);
        const placed = isAlive(joined) ? read.item !== undefined && sameState(joined, parseState(read.item, ctx), ctx) : !read.item;
        if (placed) return;
        result = {
          ...serializeState(joined, ctx, 'stamp'),
          ...((read.item ?? read.row)?.[META.sequence] ? { [META.sequence]: (read.item ?? read.row)![META.sequence]! } : {}),
        };
      }
      if ((await this.store.write(key, read, result)) === 'written') return;
    }
    throw new Error(`item ${keyToString(key)} kept changing while it was settled; the batch will be retried`);
  }

  /** A client-helper write from a host clock beyond the bound, restamped: loud, the host's clock needs fixing. */
  private countRestamp(key: AttributeMap, aheadOfClockMs: number): void {
    this.deps.logger.warn(
      "client-helper write restamped: its version was beyond maxClockOffsetSeconds ahead of DynamoDB's clock; check the application host's clock",
      { key: keyToString(key), aheadOfClockMs },
    );
    this.deps.metrics.addMetric(METRICS.names.clientWritesRestamped, MetricUnit.Count, 1);
  }

  /** UpdateItem that adds `version` to the item as it is; returns the item written. */
  private stampWrite(
    key: AttributeMap,
    version: Version,
    expect: { expectedVersion?: string; guard?: ItemGuard; clearTtl?: boolean },
    image: AttributeMap,
    base: VersionVector,
  ): () => Promise<AttributeMap> {
    const { settings } = this;
    return async () => {
      const input = stampInput({
        tableName: settings.tableName,
        key,
        keySchema: settings.key,
        version,
        ...expect,
        image,
        ttlAttribute: settings.ttlAttribute,
        vector: advance(base, version),
      });
      const out = await this.deps.dynamodb.send(new UpdateItemCommand(input));
      return toWire(out.Attributes ?? {});
    };
  }

  private tombstoneWrite(key: AttributeMap, version: Version, guard: ItemGuard | undefined, base: VersionVector): () => Promise<AttributeMap> {
    const { settings } = this;
    return async () => {
      const expiresAt = Math.floor(this.now() / 1000) + settings.tombstoneTtlSeconds;
      const input = tombstoneInput({
        tableName: settings.tableName,
        key,
        keySchema: settings.key,
        version,
        expiresAt,
        ttlAttribute: settings.ttlAttribute,
        ...(guard ? { guard } : {}),
        vector: advance(base, version),
      });
      await this.deps.dynamodb.send(new PutItemCommand(input));
      return toWire(input.Item!);
    };
  }

  private putWrite(item: AttributeMap, version: Version, guard: ItemGuard | undefined, base: VersionVector): () => Promise<AttributeMap> {
    const { settings } = this;
    return async () => {
      const input = stampedPutInput({ tableName: settings.tableName, item, keySchema: settings.key, version, guard, vector: advance(base, version) });
      await this.deps.dynamodb.send(new PutItemCommand(input));
      return toWire(input.Item!);
    };
  }

  /** Parks message bodies a target could not take in this region's backlog queue; throws the target's error when there is none or it fails too. */
  private async toBacklog(region: string, bodies: readonly string[], cause: unknown): Promise<void> {
    const url = this.settings.backlogQueueUrl;
    if (!url) throw cause;
    this.deps.logger.warn('target region failed; changes parked in the backlog', { target: region, messages: bodies.length, error: cause as Error });
    const out = await this.deps.sqsFor(this.settings.region).send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: bodies.map((body, i) => ({
          Id: String(i),
          MessageBody: body,
          MessageAttributes: { [BACKLOG_TARGET_ATTRIBUTE]: { DataType: 'String', StringValue: region } },
        })),
      }),
    );
    if (out.Failed && out.Failed.length > 0)
      throw new Error(
        `target ${region} failed (${(cause as Error).message}) and the backlog refused ${out.Failed.length} messages: ${out.Failed[0]?.Code} ${out.Failed[0]?.Message}`,
      );
    this.deps.metrics.addMetric(METRICS.names.messagesBacklogged, MetricUnit.Count, bodies.length);
  }

  /** Sends the changes to every target; returns the index of the first record whose change could not be sent, or -1. */
  private async ship(changes: readonly { change: Change; index: number; old?: AttributeMap }[]): Promise<number> {
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
        mapWithConcurrency(this.settings.selection ? selectedBatches(changes, this.settings, target.region) : batches, 4, async (batch) => {
          try {
            const out = await this.deps.sqsFor(target.region).send(
              new SendMessageBatchCommand({ QueueUrl: target.queueUrl, Entries: batch.map((body, i) => ({ Id: String(i), MessageBody: body })) }),
              // A target that hangs must not hold the other targets' batch (issue 5): it goes to the backlog.
              { abortSignal: AbortSignal.timeout(TARGET_SEND_TIMEOUT_MS) },
            );
            if (out.Failed && out.Failed.length > 0)
              throw new Error(`SendMessageBatch to ${target.region} failed for ${out.Failed.length} entries: ${out.Failed[0]?.Code} ${out.Failed[0]?.Message}`);
          } catch (error) {
            // Region isolation: a failed target must neither block the others nor lose its changes
            // (the stream keeps them only 24 h). Park them in this region's backlog, which the
            // drainer (drain.ts) delivers once the target is back; only if that fails too does the batch fail.
            await this.toBacklog(target.region, batch, error);
            return;
          }
          this.deps.metrics.addMetric(METRICS.names.messagesSent, MetricUnit.Count, batch.length);
        }).then(() =>
          this.deps.pairMetrics?.shipped({ table: this.settings.logicalTable, source: this.settings.region, target: target.region }, changes.length),
        ),
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

/**
 * `last` (a key's last plain write in a batch, the one stamped) with a floor at least every floor of
 * the key's earlier writes in the batch, which are not stamped: its version beats what they replaced.
 */
function withFloor(last: ShipperAction, earlier: readonly ShipperAction[], region: string): ShipperAction {
  if (last.kind !== 'stamp' && last.kind !== 'tombstone') return last;
  const floor = earlier.reduce<Version | undefined>((f, a) => (a.kind === 'stamp' || a.kind === 'tombstone' ? maxVersion(f, a.floor) : f), last.floor);
  if (floor === last.floor || !floor) return last;
  return { ...last, floor, version: versionAt(last.writtenAt, region, floor) };
}
