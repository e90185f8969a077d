/**
 * Where a merging strategy (`fields`, `merge`, `custom`) keeps an item's state: a live item in the
 * application's table, as the application wrote it plus regionsync's merge metadata; a deleted
 * item's state (its tombstone, which carries what every later merge needs: counters, removed
 * attributes, siblings) in the region's tombstone table, as `lww` does (core/tombstones.ts). The
 * application's table then holds live items only, whatever the strategy.
 *
 * The key's state is the join of the two (merging is a join: any past state joined in changes
 * nothing later states hold). A row may outlive the delete it records while the item is live
 * again: it is a past state, joined in harmlessly, and expires through TTL.
 *
 * Every write is conditional on its side as read (the merge lock, core/writes.ts), and every write
 * that could leave the two sides disagreeing looks at the other side afterwards:
 *  - a live state written where the item was absent reads the row again; if a delete wrote it in
 *    between, the caller merges again;
 *  - a tombstone is written to the row first; then the item, if one was read, is removed only while
 *    it is still as read (marked first, src/functions/shared/remove-item.ts); if none was read, the table
 *    is read again, and an item that appeared since is merged again.
 * Of two such writers racing, the second to write always reads what the first wrote (each reads
 * after its own write), so one of them merges both: no transaction, and a delete costs one write
 * more than it did in the table.
 */
import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../core/change.ts';
import { fromWire, toWire } from '../../core/codec.ts';
import { META, type FunctionSettings } from '../../core/contract.ts';
import { getTombstoneInput, REMOVAL_WRITER, tombstoneOfRow, tombstoneRow } from '../../core/tombstones.ts';
import { stateCondition, statePutInput } from '../../core/writes.ts';
import { compareVersions, decodeVersion } from '../../core/version.ts';
import { deleteMarked, markForRemoval } from './remove-item.ts';
import { mergeStates, parseState, type ItemState, type StateContext } from '../../core/item-state.ts';

/** A key's state as read: the item in the table and, when read, its row in the tombstone table. */
export interface StoredState {
  /**
   * The item in the application's table; undefined when absent.
   * @default none (no item)
   */
  readonly item?: AttributeMap;
  /**
   * The raw tombstone row (bookkeeping included); undefined when absent or not read.
   * @default none (no row, or not read)
   */
  readonly row?: AttributeMap;
  /**
   * The row as a tombstone item (as it would stand in the table).
   * @default none (no row, or not read)
   */
  readonly tombstone?: AttributeMap;
}

/**
 * `written`: the state is where it belongs. `retry`: the read was stale, nothing was written; read
 * and merge again. `recheck`: written, but the other side changed meanwhile; read and merge again.
 */
export type StoreWrite = 'written' | 'retry' | 'recheck';

type StoreSettings = Pick<FunctionSettings, 'tableName' | 'key' | 'logicalTable' | 'tombstoneTable' | 'ttlAttribute'>;

/** Reads and writes a merging strategy's state where it belongs (see above), for the shipper and the applier. */
export class StateStore {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly settings: StoreSettings,
    private readonly now: () => number,
  ) {}

  /**
   * The item, strongly consistent, and its row when it can matter: the item is absent, or is an
   * application's write not folded yet, or marked for a removal that did not finish, or `withRow`
   * (a fold of a local write; a retry: a write in between may have been a delete). A live item read without its row is enough for an update: a delete racing it removes
   * the item only while it is as that delete read it.
   */
  async read(key: AttributeMap, withRow: boolean): Promise<StoredState> {
    const table = this.settings.tombstoneTable;
    const rowOf = async (t: string) => this.getRow(t, key);
    if (!table) return { item: await this.getItem(key) };
    if (withRow) {
      const [item, row] = await Promise.all([this.getItem(key), rowOf(table)]);
      return this.state(item, row);
    }
    const item = await this.getItem(key);
    // An application's write not folded yet (no version) may stand over a deleted item's row.
    if (item?.[META.version] && item[META.writer]?.S !== REMOVAL_WRITER) return { item };
    return this.state(item, await rowOf(table));
  }

  /**
   * Writes `result` (a merged state, live or a tombstone) where it belongs, conditional on `read`.
   */
  async write(key: AttributeMap, read: StoredState, result: AttributeMap): Promise<StoreWrite> {
    const { settings } = this;
    const table = settings.tombstoneTable;
    const deleted = result[META.deleted]?.BOOL === true;
    if (!table || !deleted) {
      if (!(await this.conditionalPut(statePutInput(settings, result, read.item)))) return 'retry';
      if (!table || read.item) return 'written';
      // Created where the item was absent: a delete may have written its row since it was read.
      const row = await this.getRow(table, key);
      return row?.[META.lock]?.S === read.row?.[META.lock]?.S ? 'written' : 'recheck';
    }
    const row = tombstoneRow(settings.logicalTable, result, key, settings.ttlAttribute, this.now());
    if (!(await this.conditionalPut(statePutInput({ tableName: table, key: { partitionKey: META.tombstoneKey } }, row, read.row)))) return 'retry';
    if (read.item) {
      // Marked first, so the REMOVE record shows the shipper a removal of regionsync's own.
      const marked = await markForRemoval(this.dynamodb, settings.tableName, key, { asRead: stateCondition(settings.key, read.item) });
      return marked && (await deleteMarked(this.dynamodb, settings.tableName, key, marked)) ? 'written' : 'recheck';
    }
    // No item was read: one that appeared since (a put racing this delete) is merged with the row.
    return (await this.getItem(key)) ? 'recheck' : 'written';
  }

  private state(item: AttributeMap | undefined, row: AttributeMap | undefined): StoredState {
    return { ...(item ? { item } : {}), ...(row ? { row, tombstone: tombstoneOfRow(row, this.settings.ttlAttribute)! } : {}) };
  }

  private async conditionalPut(input: ConstructorParameters<typeof PutItemCommand>[0]): Promise<boolean> {
    try {
      await this.dynamodb.send(new PutItemCommand(input));
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  private async getItem(key: AttributeMap): Promise<AttributeMap | undefined> {
    const out = await this.dynamodb.send(new GetItemCommand({ TableName: this.settings.tableName, Key: fromWire(key), ConsistentRead: true }));
    return out.Item ? toWire(out.Item) : undefined;
  }

  private async getRow(table: string, key: AttributeMap): Promise<AttributeMap | undefined> {
    const out = await this.dynamodb.send(new GetItemCommand(getTombstoneInput(table, this.settings.logicalTable, key)));
    return out.Item ? toWire(out.Item) : undefined;
  }
}

/** The newer of two stored states by version (either may be absent). */
export function newestOf(a: AttributeMap | undefined, b: AttributeMap | undefined): AttributeMap | undefined {
  if (!a || !b) return a ?? b;
  const va = decodeVersion(a[META.version]?.S);
  const vb = decodeVersion(b[META.version]?.S);
  if (!vb) return a;
  if (!va) return b;
  return compareVersions(va, vb) >= 0 ? a : b;
}

/**
 * The state a merge starts from, for `custom` (which resolves against one stored item): the item,
 * unless it is marked for a removal that did not finish; else the tombstone.
 */
export function storedItemOf(read: StoredState): AttributeMap | undefined {
  if (read.item && read.item[META.writer]?.S !== REMOVAL_WRITER) return read.item;
  return read.tombstone ?? read.item;
}

/**
 * `state` joined with the key's tombstone row, when one was read: a row is a past state of the key
 * (a delete's), and merging is a join, so joining it in never loses what later states hold.
 */
export function withRowState(state: ItemState, read: StoredState, ctx: StateContext): ItemState {
  return read.tombstone ? mergeStates(state, parseState(read.tombstone, ctx), ctx) : state;
}
