/**
 * The applier: applies the changes other regions shipped, each with one conditional PutItem on
 * the version attribute (see core/writes.ts). A stale or duplicate change is a counted skip;
 * a message that can never apply goes to the dead-letter queue with the reason; a transient
 * failure fails only its own message (partial batch response), never the batch.
 */
import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { decodeMessage, encodeMessage, keyToString, validateChange, type AttributeMap, type Change } from '../../core/change.ts';
import { fromWire, toWire } from '../../core/codec.ts';
import { conflictRecord, isConcurrent } from '../../core/conflicts.ts';
import { emptyState, isAlive, mergeStates, parseState, sameState, serializeState } from '../../core/item-state.ts';
import { resolveCustom, type Resolver } from '../../core/resolver.ts';
import { mapWithConcurrency } from '../../core/concurrency.ts';
import { META, METRICS, type FunctionSettings } from '../../core/contract.ts';
import { ClockOffsetError, InvalidMessageError, SettingsError } from '../../core/errors.ts';
import { admitChange, clockBoundOf, type Admission } from '../../core/clock-bound.ts';
import { decodeVersion } from '../../core/version.ts';
import type { PairMetricsSink } from '../../core/metrics.ts';
import { applyInput, changeToItem, stateContext } from '../../core/writes.ts';
import { replicationWriterFor } from '../../core/echo-filter.ts';
import { withContentHash } from '../../core/content-hash.ts';
import { localOnlyAttributes, redact } from '../../core/selection.ts';
import { putKeepingLocal } from './keep-local.ts';
import { markForRemoval, removeItem, removeMarkedAndOlder, touchTombstone, type TombstoneRowRef } from '../shared/remove-item.ts';
import { getTombstoneInput, putTombstoneInput, REMOVAL_WRITER, tombstoneOfRow, tombstoneRow, tombstoneWins } from '../../core/tombstones.ts';
import { StateStore, withRowState, storedItemOf } from '../shared/state-store.ts';

const CHANGE_CONCURRENCY = 16;
/** Read–merge–write rounds for one change before its message is retried later. */
const MAX_MERGE_ATTEMPTS = 8;

/** What the applier needs besides its settings: AWS clients, Powertools logger and metrics, and what tests replace. */
export interface ApplierDeps {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * The clock (epoch ms): for the clock bound, the tombstone horizon, lag and conflict times.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * The table's resolver, for the `custom` strategy.
   * @default none (a change to a `custom` table then fails with a SettingsError and its message is retried)
   */
  readonly resolver?: Resolver;
  /** Per source region: lag, applied, stale (core/metrics.ts). @default none */
  readonly pairMetrics?: PairMetricsSink;
}

/** What became of one change: written, skipped as stale (an equal or newer version is here), or parked in the DLQ. */
export type ApplyResult = 'applied' | 'stale' | 'dead-lettered';

/** Applies the change messages of one table's inbound queue in this region (see above). */
export class Applier {
  private readonly now: () => number;
  /** Where merged states live (merging strategies). */
  private readonly store: StateStore;

  constructor(
    private readonly settings: FunctionSettings,
    private readonly deps: ApplierDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.store = new StateStore(deps.dynamodb, settings, this.now);
  }

  async handle(event: SQSEvent): Promise<SQSBatchResponse> {
    const failed: string[] = [];
    await Promise.all(
      event.Records.map(async (record) => {
        try {
          await this.handleMessage(record);
        } catch (error) {
          this.deps.logger.error('message failed; it will be retried', { messageId: record.messageId, error: error as Error });
          failed.push(record.messageId);
        }
      }),
    );
    this.deps.pairMetrics?.publish();
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  }

  private async handleMessage(record: SQSRecord): Promise<void> {
    let changes: readonly Change[];
    try {
      changes = decodeMessage(record.body).changes;
    } catch (e) {
      if (e instanceof InvalidMessageError) return this.deadLetter(record.body, e.message, record.messageId);
      throw e;
    }
    const results = await mapWithConcurrency(changes, CHANGE_CONCURRENCY, async (change, i): Promise<ApplyResult | Error> => {
      const reason = validateChange(change, { table: this.settings.logicalTable, key: this.settings.key, sourceRegions: this.settings.sourceRegions });
      if (reason) {
        await this.deadLetter(encodeMessage([change]), `change ${i}: ${reason}`, record.messageId);
        return 'dead-lettered';
      }
      // Clock bound: a change from the future waits (or is dead-lettered); its version is never rewritten.
      const admission = admitChange(decodeVersion(change.version)!, this.now(), clockBoundOf(this.settings));
      if (admission.kind !== 'apply') return this.holdBack(change, admission, i, record.messageId);
      try {
        const result = await this.apply(change);
        if (result !== 'dead-lettered')
          this.deps.pairMetrics?.applyOutcome(
            { table: this.settings.logicalTable, source: change.origin, target: this.settings.region },
            result,
            change,
            this.now(),
          );
        return result;
      } catch (e) {
        // DynamoDB's ValidationException (an item over 400 KB, a bad attribute) is permanent:
        // retrying would only hold the message for maxReceiveCount visibility timeouts.
        if ((e as Error).name === 'ValidationException') {
          await this.deadLetter(encodeMessage([change]), `change ${i}: rejected by DynamoDB: ${(e as Error).message}`, record.messageId);
          return 'dead-lettered';
        }
        this.deps.logger.warn('change failed to apply', {
          messageId: record.messageId,
          key: keyToString(change.key),
          version: change.version,
          error: e as Error,
        });
        return e as Error;
      }
    });
    // Applied and stale changes are counted per source region (pairMetrics), not per message.
    const errors = results.filter((r): r is Error => r instanceof Error);
    // The whole message comes back; the changes that did apply are then duplicates and skip.
    if (errors.length > 0) throw errors[0];
  }

  /**
   * A change whose version is beyond maxClockOffsetSeconds ahead of this region's clock: counted
   * per source region (its clock is the likely culprit), then either left for the message's retry
   * (it applies once this clock is within the bound) or, when retries cannot wait that long,
   * dead-lettered with the reason. Either way nothing is lost and no version is rewritten.
   */
  private async holdBack(change: Change, admission: Exclude<Admission, { kind: 'apply' }>, i: number, messageId: string): Promise<'dead-lettered' | Error> {
    this.deps.pairMetrics?.aheadOfClock({ table: this.settings.logicalTable, source: change.origin, target: this.settings.region });
    this.deps.logger.warn("change ahead of this region's clock beyond the bound; not applied now", {
      messageId,
      key: keyToString(change.key),
      version: change.version,
      aheadMs: admission.aheadMs,
      outcome: admission.kind,
    });
    if (admission.kind === 'wait')
      return new ClockOffsetError(admission.reason, admission.aheadMs, clockBoundOf(this.settings).maxOffsetMs, { version: change.version });
    await this.deadLetter(encodeMessage([change]), `change ${i}: ${admission.reason}`, messageId);
    return 'dead-lettered';
  }

  /** Applies one change by the table's strategy; records a conflict when the versions were concurrent. */
  async apply(change: Change): Promise<ApplyResult> {
    const strategy = this.settings.strategy?.strategy ?? 'lww';
    // Selective replication: attributes this pair of regions does not share stay as stored here.
    const isLocal = localOnlyAttributes(this.settings.selection, this.settings.region, change.origin, this.settings.key);
    if (isLocal) change = redact(change, (n) => !isLocal(n));
    return strategy === 'lww' ? this.applyLastWriterWins(change, isLocal) : this.applyByMerge(change);
  }

  /**
   * One conditional write, no read: a failed condition means a newer or equal version is already
   * here. The replaced (or blocking) item comes back with the response, which is what tells a
   * conflict (concurrent version vectors) from an ordinary newer or older change.
   */
  private async applyLastWriterWins(change: Change, isLocal?: (name: string) => boolean): Promise<ApplyResult> {
    if (this.settings.tombstoneTable && change.op === 'delete') return this.applyDelete(change, this.settings.tombstoneTable);
    const beyondHorizon = this.beyondTombstoneHorizon(change);
    const input = applyInput({ tableName: this.settings.tableName, change, ttlAttribute: this.settings.ttlAttribute, beyondHorizon });
    const incoming = toWire(input.Item!);
    try {
      const out = await (isLocal ? putKeepingLocal(this.deps.dynamodb, input, change.key, isLocal) : this.deps.dynamodb.send(new PutItemCommand(input)));
      const replaced = out.Attributes ? toWire(out.Attributes) : undefined;
      // The tombstone row is read when this put may re-create a deleted item: it found no item, or
      // only an application's write the shipper has not stamped yet (no version). A delete leaves
      // such a write in place for its stamp to weigh against the row (remove-item.ts); replaced by
      // this put, the stamp finds a regionsync write instead and never reads the row for it.
      if (this.settings.tombstoneTable && (!replaced || replaced[META.version] === undefined))
        return this.checkTombstone(change, incoming, this.settings.tombstoneTable);
      if (replaced && isConcurrent(replaced, incoming)) await this.recordConflict(change, replaced, incoming, incoming);
      return 'applied';
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      const kept = e.Item ? toWire(e.Item) : undefined;
      if (kept && isConcurrent(kept, incoming)) await this.recordConflict(change, kept, incoming, kept);
      if (!kept && beyondHorizon) await this.refuseBeyondHorizon(change, incoming);
      return 'stale';
    }
  }

  /**
   * A put that found the item absent (or only an unstamped write): the item may have been deleted,
   * and its tombstone is kept in the tombstone table (tombstones.ts). Read it (strongly consistent)
   * after the put; if it is newer, take out every item older than the tombstone: this put, or an
   * older put that landed on it since (it found an item, so it read no row). A delete racing this
   * put writes its tombstone before it deletes, so one of the two always removes the older put.
   */
  private async checkTombstone(change: Change, incoming: AttributeMap, tombstoneTable: string): Promise<ApplyResult> {
    const { settings } = this;
    const row = await this.deps.dynamodb
      .send(new GetItemCommand(getTombstoneInput(tombstoneTable, settings.logicalTable, change.key)))
      .then((o) => (o.Item ? toWire(o.Item) : undefined));
    const tombstone = tombstoneOfRow(row, settings.ttlAttribute);
    if (!tombstone || !tombstoneWins(row, decodeVersion(change.version)!)) {
      if (tombstone && isConcurrent(tombstone, incoming)) await this.recordConflict(change, tombstone, incoming, incoming);
      return 'applied';
    }
    // Older than the tombstone (`_rs_v < :tombstone`), not only exactly what this put wrote: another
    // put older than the tombstone that replaced this one (seen: a duplicate or a second change of
    // the key applied at once) found an item and never read the row, and only this removal sees it.
    // A write that came since and is newer than the tombstone stays; an application's write without
    // a version stays too (its stamp weighs it against the row).
    await removeItem(this.deps.dynamodb, settings.tableName, change.key, { olderThan: row![META.version]!.S! }, this.tombstoneRowRef(tombstoneTable));
    if (isConcurrent(tombstone, incoming)) await this.recordConflict(change, tombstone, incoming, tombstone);
    return 'stale';
  }

  /**
   * A replicated delete (lww with a tombstone table): the tombstone first, then the item if it is
   * older. Both steps run on every delivery, so a retry after a failure between them completes it.
   */
  private async applyDelete(change: Change, tombstoneTable: string): Promise<ApplyResult> {
    const { settings } = this;
    const tombstone = withContentHash(changeToItem(change, settings.ttlAttribute));
    // Mark what the delete will remove first, so the tombstone row's time (written next) is after
    // the mark (see remove-item.ts). Absent, newer, or a local write without a version (its stamp
    // reads this tombstone): nothing is marked, and the item stays.
    let marked = await markForRemoval(this.deps.dynamodb, settings.tableName, change.key, { olderThan: change.version });
    const row = tombstoneRow(settings.logicalTable, tombstone, change.key, settings.ttlAttribute, this.now());
    let replaced: AttributeMap | undefined;
    let applied = false;
    try {
      const out = await this.deps.dynamodb.send(new PutItemCommand(putTombstoneInput(tombstoneTable, row, { newer: true })));
      replaced = tombstoneOfRow(out.Attributes ? toWire(out.Attributes) : undefined, settings.ttlAttribute);
      applied = true;
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      replaced = tombstoneOfRow(e.Item ? toWire(e.Item) : undefined, settings.ttlAttribute);
      // A duplicate (or a newer tombstone is kept): the row's time must still follow this removal.
      if (marked) await touchTombstone(this.deps.dynamodb, this.tombstoneRowRef(tombstoneTable), change.key);
    }
    if (!marked) {
      // An older replicated put may have landed after the first look and read no tombstone, the
      // row not being written yet (one batch's messages apply concurrently): look again now that it
      // is. One of the two always sees the other. (Found by the chaos soak, seed 629628082.)
      marked = await markForRemoval(this.deps.dynamodb, settings.tableName, change.key, { olderThan: change.version });
      if (marked) await touchTombstone(this.deps.dynamodb, this.tombstoneRowRef(tombstoneTable), change.key);
    }
    // Not only the item marked: an older put may have landed on it between the mark and the delete
    // (it found an item, the marked one, so it read no row); then what stands there now goes too.
    const removed = await removeMarkedAndOlder(
      this.deps.dynamodb,
      settings.tableName,
      change.key,
      marked,
      change.version,
      this.tombstoneRowRef(tombstoneTable),
    );
    if (removed) {
      replaced = removed;
      applied = true;
    }
    if (replaced && isConcurrent(replaced, tombstone)) await this.recordConflict(change, replaced, tombstone, applied ? tombstone : replaced);
    return applied ? 'applied' : 'stale';
  }

  private tombstoneRowRef(tombstoneTable: string): TombstoneRowRef {
    return { tombstoneTable, logicalTable: this.settings.logicalTable, now: this.now };
  }

  /**
   * Whether the change is older than a tombstone lives (`tombstoneTtlSeconds`): a deleted item's
   * tombstone may be purged by then, so an absent item cannot tell "never written" from "deleted".
   * Such a change (a redrive of a long-parked message, a backlog drained late) may update an item
   * that is there, by version as always, but never recreate one.
   */
  private beyondTombstoneHorizon(change: Change): boolean {
    const version = decodeVersion(change.version);
    return version !== undefined && version.ms < this.now() - this.settings.tombstoneTtlSeconds * 1000;
  }

  /** A change beyond the tombstone horizon for an absent item: not applied, recorded as a conflict (the item stays absent). */
  private async refuseBeyondHorizon(change: Change, incoming: AttributeMap): Promise<void> {
    this.deps.logger.warn('change older than the tombstone horizon for an absent item: not applied (it could resurrect a deleted item)', {
      key: keyToString(change.key),
      version: change.version,
    });
    await this.recordConflict(change, change.key, incoming, change.key);
  }

  /**
   * `fields`, `merge` and `custom`: read the item (and, where it can matter, its tombstone row:
   * src/functions/shared/state-store.ts), merge the change into it, write the result where it belongs,
   * conditional on what was read (read and merged again if another write got in first). A change
   * that adds nothing to what is stored is stale and costs no write.
   */
  private async applyByMerge(change: Change): Promise<ApplyResult> {
    const { settings } = this;
    const ctx = stateContext(settings);
    const incoming = changeToItem(change, settings.ttlAttribute);
    let wrote = false;
    for (let attempt = 0; attempt < MAX_MERGE_ATTEMPTS; attempt++) {
      const read = await this.store.read(change.key, attempt > 0);
      const stored = storedItemOf(read);
      if (!stored && this.beyondTombstoneHorizon(change)) {
        await this.refuseBeyondHorizon(change, incoming);
        return 'stale';
      }
      const live = read.item && read.item[META.writer]?.S !== REMOVAL_WRITER ? read.item : undefined;
      let result: AttributeMap;
      let conflict: boolean;
      if (settings.strategy?.strategy === 'custom') {
        if (!this.deps.resolver) throw new SettingsError('table uses the custom strategy but the applier was built without a resolver');
        const outcome = resolveCustom(stored, incoming, this.deps.resolver, settings.key, settings.ttlAttribute);
        if (outcome.kind === 'stale') {
          // Nothing new, and the state is where it belongs (a tombstone whose item is gone).
          if (stored === live || !read.item) return wrote ? 'applied' : 'stale';
          result = stored!;
          conflict = false;
        } else {
          result = outcome.item;
          conflict = outcome.conflict;
        }
      } else {
        // The key's state is the join of the item's and the row's (a row may be a past state).
        let storedState = read.item ? parseState(read.item, ctx) : emptyState(change.key);
        storedState = withRowState(storedState, read, ctx);
        const merged = mergeStates(storedState, parseState(incoming, ctx), ctx);
        // Where the state is matters only once a row is involved: a live state belongs in the item,
        // a tombstone in the row with no item (an item read alone is where its state is).
        const placed =
          !read.tombstone && live === read.item ? true : isAlive(merged) ? live !== undefined && sameState(merged, parseState(live, ctx), ctx) : !read.item;
        if (stored?.[META.version] && sameState(merged, storedState, ctx) && placed) return wrote ? 'applied' : 'stale';
        result = serializeState(merged, ctx, 'repl');
        conflict = stored !== undefined && isConcurrent(stored, incoming);
      }
      // The marker other than the stored one, so the shipper's event filter drops this write's echo.
      result = { ...result, [META.writer]: { S: replicationWriterFor(result[META.version]?.S ?? change.version, read.item) } };
      // The sequence number is this region's own bookkeeping (see the shipper): keep it.
      const sequence = (read.item ?? read.row)?.[META.sequence];
      if (sequence) result = { ...result, [META.sequence]: sequence };
      const outcome = await this.store.write(change.key, read, result);
      wrote ||= outcome !== 'retry';
      if (outcome !== 'written') continue;
      if (conflict && stored) await this.recordConflict(change, stored, incoming, result);
      return 'applied';
    }
    throw new Error(`item ${keyToString(change.key)} kept changing while a change was merged into it; the message will be retried`);
  }

  /**
   * Counts the conflict and, when the table keeps a conflict log, records both sides and the
   * result. A failure to record is logged, not retried: the change itself has been applied, and
   * a redelivery would no longer look like a conflict.
   */
  private async recordConflict(change: Change, local: AttributeMap, incoming: AttributeMap, result: AttributeMap): Promise<void> {
    const { settings } = this;
    const strategy = settings.strategy?.strategy ?? 'lww';
    const metric = this.deps.metrics.singleMetric();
    metric.addDimensions({
      [METRICS.dimensions.table]: settings.logicalTable,
      [METRICS.dimensions.targetRegion]: settings.region,
      [METRICS.dimensions.strategy]: strategy,
    });
    metric.addMetric(METRICS.names.conflicts, MetricUnit.Count, 1);
    metric.publishStoredMetrics();
    if (!settings.conflictLog) return;
    const record = conflictRecord({
      table: settings.logicalTable,
      region: settings.region,
      strategy,
      key: change.key,
      local,
      incoming,
      result,
      now: this.now(),
      retentionSeconds: settings.conflictLog.retentionSeconds,
    });
    try {
      await this.deps.dynamodb.send(new PutItemCommand({ TableName: settings.conflictLog.tableName, Item: fromWire(record) }));
    } catch (error) {
      this.deps.logger.error('could not record a conflict', { key: keyToString(change.key), error: error as Error });
    }
  }

  /** Parks what can never apply, with the reason, so it neither blocks the queue nor is lost. */
  private async deadLetter(body: string, reason: string, messageId: string): Promise<void> {
    const url = this.settings.deadLetterQueueUrl;
    this.deps.logger.error('invalid change message sent to the dead-letter queue', { messageId, reason });
    if (!url) throw new InvalidMessageError(`no dead-letter queue configured; cannot park message ${messageId}: ${reason}`);
    await this.deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: body,
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: reason.slice(0, 1024) },
          sourceMessageId: { DataType: 'String', StringValue: messageId },
          table: { DataType: 'String', StringValue: this.settings.logicalTable },
        },
      }),
    );
    this.deps.metrics.addMetric(METRICS.names.changesDeadLettered, MetricUnit.Count, 1);
  }
}
