/**
 * In-memory stand-ins for DynamoDB (with its stream) and SQS, for property-based tests that run
 * the real Shipper and Applier thousands of times (moto serves the integration tests). The fake
 * table interprets the exact condition and update expressions regionsync sends, so a wrong
 * condition in core/writes.ts fails these tests the way it would fail in DynamoDB.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  DeleteItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { toWire } from '../../src/core/codec.ts';
import { META, type KeySchema } from '../../src/core/contract.ts';
import { tombstoneOfRow } from '../../src/core/tombstones.ts';
import { itemSizeBytes } from '../../src/core/item-size.ts';

type Item = Record<string, AttributeValue>;

/** The tombstone table's name in the tests' settings (test/support/cluster.ts settingsFor). */
export const TOMBSTONES = 'tombstones';

/**
 * One region's application table and tombstone table behind one client, routed by TableName, as
 * one DynamoDB client reaches both in Lambda.
 */
export function regionClient(table: FakeTable, tombstones: FakeTable): never {
  return { send: (command: { input: { TableName?: string } }) => (command.input.TableName === TOMBSTONES ? tombstones : table).dispatch(command) } as never;
}

/**
 * A region's state per key, as an observer compares regions: the tombstone (from the tombstone
 * table) of a deleted key, the item of a live one (a row kept beside a live item is a past state).
 */
export function keyStates(table: FakeTable, tombstones: FakeTable): Map<string, Item> {
  const out = new Map<string, Item>();
  for (const row of tombstones.items.values()) {
    const tombstone = tombstoneOfRow(toWire(row), META.expiresAt) as Item;
    out.set(table.keyString(tombstone), tombstone);
  }
  for (const [k, item] of table.items) out.set(k, item);
  return out;
}

/**
 * DynamoDB refuses a request whose ExpressionAttributeNames or ExpressionAttributeValues hold a
 * placeholder no expression uses (ValidationException), or whose expression uses one not given.
 */
function validatePlaceholders(input: {
  ConditionExpression?: string;
  UpdateExpression?: string;
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
}): void {
  const text = [input.ConditionExpression, input.UpdateExpression, input.ProjectionExpression].filter(Boolean).join(' ');
  const used = new Set(text.match(/[#:][A-Za-z0-9_]+/g) ?? []);
  const given = [...Object.keys(input.ExpressionAttributeNames ?? {}), ...Object.keys(input.ExpressionAttributeValues ?? {})];
  const unused = given.filter((p) => !used.has(p));
  const missing = [...used].filter((p) => !given.includes(p));
  if (unused.length > 0 || missing.length > 0) {
    const message =
      unused.length > 0
        ? `Value provided in ExpressionAttributeNames/Values unused in expressions: keys: {${unused.join(', ')}}`
        : `An expression attribute name or value used in an expression is not defined: ${missing.join(', ')}`;
    throw Object.assign(new Error(message), { name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
  }
}

export class FakeTable {
  readonly items = new Map<string, Item>();
  readonly stream: DynamoDBRecord[] = [];
  private seq = 0;
  /** Counted calls, for cost figures. */
  readonly calls = { put: 0, update: 0, get: 0, delete: 0, conditionFailures: 0 };
  /**
   * DynamoDB's item size limit (item-size.ts), enforced on the handlers' PutItem and UpdateItem as
   * DynamoDB does: a ValidationException, nothing written. Applications' writes (appPut...) are not
   * checked, so a test can place an item right at the limit. @default no limit
   */
  maxItemBytes?: number;

  constructor(
    readonly region: string,
    readonly key: KeySchema,
    /** DynamoDB's clock for this table: stream records' creation times (milliseconds, as the local runtime gives them). */
    private readonly now: () => number = Date.now,
  ) {}

  keyString(item: Item): string {
    return JSON.stringify([item[this.key.partitionKey], this.key.sortKey ? item[this.key.sortKey] : null]);
  }

  get(key: Item): Item | undefined {
    return this.items.get(this.keyString(key));
  }

  /** The client surface the handlers use: `send(command)`. */
  readonly client = {
    send: async (command: unknown): Promise<Record<string, unknown>> => this.dispatch(command),
  } as never;

  async dispatch(command: unknown): Promise<Record<string, unknown>> {
    if (command instanceof PutItemCommand || command instanceof UpdateItemCommand || command instanceof DeleteItemCommand || command instanceof GetItemCommand)
      validatePlaceholders(command.input);
    if (command instanceof PutItemCommand) {
      this.calls.put++;
      const input = command.input;
      const item = clone(input.Item!);
      const old = this.items.get(this.keyString(item));
      this.check(input.ConditionExpression, old, input.ExpressionAttributeNames, input.ExpressionAttributeValues, input.ReturnValuesOnConditionCheckFailure);
      this.checkSize(item, 'Item size has exceeded the maximum allowed size');
      this.write(item, old);
      return { Attributes: input.ReturnValues === 'ALL_OLD' && old ? clone(old) : undefined };
    }
    if (command instanceof UpdateItemCommand) {
      this.calls.update++;
      const input = command.input;
      const k = this.keyString(input.Key!);
      const old = this.items.get(k);
      this.check(input.ConditionExpression, old, input.ExpressionAttributeNames, input.ExpressionAttributeValues, input.ReturnValuesOnConditionCheckFailure);
      const next = applyUpdate(clone(old ?? input.Key!), input.UpdateExpression!, input.ExpressionAttributeNames ?? {}, input.ExpressionAttributeValues ?? {});
      this.checkSize(next, 'Item size to update has exceeded the maximum allowed size');
      this.write(next, old);
      return { Attributes: input.ReturnValues === 'ALL_NEW' ? clone(next) : undefined };
    }
    if (command instanceof DeleteItemCommand) {
      this.calls.delete++;
      const input = command.input;
      const old = this.items.get(this.keyString(input.Key!));
      this.check(input.ConditionExpression, old, input.ExpressionAttributeNames, input.ExpressionAttributeValues, input.ReturnValuesOnConditionCheckFailure);
      this.delete(input.Key!);
      return { Attributes: input.ReturnValues === 'ALL_OLD' && old ? clone(old) : undefined };
    }
    if (command instanceof GetItemCommand) {
      this.calls.get++;
      const item = this.items.get(this.keyString(command.input.Key!));
      return { Item: item ? clone(item) : undefined };
    }
    throw new Error(`FakeTable does not handle ${(command as object).constructor.name}`);
  }

  /** An application's plain write: no condition, stream record as DynamoDB would emit. */
  appPut(item: Item): void {
    this.write(clone(item), this.items.get(this.keyString(item)));
  }
  /**
   * An ORM's create: PutItem with `attribute_not_exists(pk)`. False when the condition fails
   * (an item, or anything else, is stored under the key), as DynamoDB's ConditionalCheckFailed.
   */
  appCreate(item: Item): boolean {
    if (this.items.has(this.keyString(item))) return false;
    this.write(clone(item), undefined);
    return true;
  }
  appUpdate(key: Item, set: Item): void {
    const old = this.items.get(this.keyString(key));
    this.write({ ...clone(old ?? key), ...clone(set) }, old);
  }
  /** `UpdateItem ADD attr :delta` (numbers) or set union / difference, atomically like DynamoDB. */
  appAdd(key: Item, attr: string, delta: number): void {
    const old = this.items.get(this.keyString(key));
    const n = Number(old?.[attr]?.N ?? 0) + delta;
    this.write({ ...clone(old ?? key), [attr]: { N: String(n) } }, old);
  }
  appSetAdd(key: Item, attr: string, elems: string[]): void {
    const old = this.items.get(this.keyString(key));
    const next = [...new Set([...(old?.[attr]?.SS ?? []), ...elems])].sort();
    this.write({ ...clone(old ?? key), [attr]: { SS: next } }, old);
  }
  appSetDelete(key: Item, attr: string, elems: string[]): void {
    const old = this.items.get(this.keyString(key));
    if (!old) return;
    const next = (old[attr]?.SS ?? []).filter((e) => !elems.includes(e));
    const item = clone(old);
    if (next.length > 0) item[attr] = { SS: next };
    else delete item[attr];
    this.write(item, old);
  }
  appAppend(key: Item, attr: string, value: string): void {
    const old = this.items.get(this.keyString(key));
    this.write({ ...clone(old ?? key), [attr]: { L: [...(old?.[attr]?.L ?? []), { S: value }] } }, old);
  }

  delete(key: Item, service = false): void {
    const k = this.keyString(key);
    const old = this.items.get(k);
    if (!old) return;
    this.items.delete(k);
    this.emit('REMOVE', old, undefined, service);
  }

  private check(
    condition: string | undefined,
    old: Item | undefined,
    names: Record<string, string> | undefined,
    values: Item | undefined,
    onFailure: string | undefined,
  ): void {
    if (!condition) return;
    if (!evaluateCondition(condition, old ?? {}, names ?? {}, values ?? {})) {
      this.calls.conditionFailures++;
      throw new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: onFailure === 'ALL_OLD' && old ? clone(old) : undefined,
      });
    }
  }

  private checkSize(item: Item, message: string): void {
    if (this.maxItemBytes === undefined || itemSizeBytes(item) <= this.maxItemBytes) return;
    // What the SDK throws for DynamoDB's 400 KB refusal: a ValidationException (no modelled class).
    throw Object.assign(new Error(message), { name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
  }

  private write(item: Item, old: Item | undefined): void {
    this.items.set(this.keyString(item), item);
    if (old && JSON.stringify(sortKeys(old)) === JSON.stringify(sortKeys(item))) return; // unchanged: no stream record
    this.emit(old ? 'MODIFY' : 'INSERT', old, item, false);
  }

  private emit(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', old: Item | undefined, item: Item | undefined, service: boolean): void {
    const source = (item ?? old)!;
    const keys: Item = { [this.key.partitionKey]: source[this.key.partitionKey]! };
    if (this.key.sortKey) keys[this.key.sortKey] = source[this.key.sortKey]!;
    this.stream.push({
      eventID: String(++this.seq),
      eventName,
      eventSource: 'aws:dynamodb',
      awsRegion: this.region,
      dynamodb: {
        ApproximateCreationDateTime: this.now() / 1000,
        Keys: toWire(keys) as never,
        ...(item ? { NewImage: toWire(item) as never } : {}),
        ...(old ? { OldImage: toWire(old) as never } : {}),
        SequenceNumber: String(this.seq).padStart(21, '0'),
        SizeBytes: 100,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      ...(service ? { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } } : {}),
    });
  }
}

export interface SentMessage {
  readonly queueUrl: string;
  readonly body: string;
  readonly attributes?: Record<string, unknown>;
}

/** Collects what is sent; the test decides when and in what order it is delivered. */
export class FakeSqs {
  readonly sent: SentMessage[] = [];
  readonly calls = { sendBatch: 0, send: 0 };
  /** When set, the next send to this queue URL fails (an outage). */
  failingQueues = new Set<string>();

  readonly client = {
    send: async (command: unknown): Promise<Record<string, unknown>> => {
      if (command instanceof SendMessageBatchCommand) {
        this.calls.sendBatch++;
        const url = command.input.QueueUrl!;
        if (this.failingQueues.has(url)) throw new Error(`queue ${url} unavailable`);
        for (const e of command.input.Entries ?? []) this.sent.push({ queueUrl: url, body: e.MessageBody! });
        return { Successful: command.input.Entries?.map((e) => ({ Id: e.Id })), Failed: [] };
      }
      if (command instanceof SendMessageCommand) {
        this.calls.send++;
        this.sent.push({ queueUrl: command.input.QueueUrl!, body: command.input.MessageBody!, attributes: command.input.MessageAttributes });
        return {};
      }
      throw new Error(`FakeSqs does not handle ${(command as object).constructor.name}`);
    },
  } as never;
}

// ---- a small interpreter for the expressions regionsync uses ----

function evaluateCondition(expr: string, item: Item, names: Record<string, string>, values: Item): boolean {
  const tokens = expr.match(/attribute_not_exists|attribute_exists|AND|OR|[#:][A-Za-z0-9_]+|<=|>=|<>|[=<>()]/g) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const take = () => tokens[pos++]!;
  const operand = (t: string): AttributeValue | undefined => (t.startsWith('#') ? item[names[t]!] : values[t]);
  const term = (): boolean => {
    const t = take();
    if (t === '(') {
      const v = orExpr();
      take();
      return v;
    }
    if (t === 'attribute_exists' || t === 'attribute_not_exists') {
      take();
      const name = names[take()]!;
      take();
      return t === 'attribute_exists' ? item[name] !== undefined : item[name] === undefined;
    }
    const op = take();
    const a = operand(t);
    const b = operand(take());
    if (a === undefined || b === undefined) return false;
    const cmp = compareAttr(a, b);
    if (cmp === undefined) return op === '<>';
    return { '=': cmp === 0, '<>': cmp !== 0, '<': cmp < 0, '<=': cmp <= 0, '>': cmp > 0, '>=': cmp >= 0 }[op] ?? fail(`operator ${op}`);
  };
  const andExpr = (): boolean => {
    let v = term();
    while (peek() === 'AND') {
      take();
      const r = term();
      v = v && r;
    }
    return v;
  };
  const orExpr = (): boolean => {
    let v = andExpr();
    while (peek() === 'OR') {
      take();
      const r = andExpr();
      v = v || r;
    }
    return v;
  };
  const result = orExpr();
  if (pos !== tokens.length) fail(`unparsed condition: ${expr}`);
  return result;
}

function compareAttr(a: AttributeValue, b: AttributeValue): number | undefined {
  if (a.S !== undefined && b.S !== undefined) {
    // DynamoDB compares strings by UTF-8 bytes.
    return Buffer.compare(Buffer.from(a.S), Buffer.from(b.S));
  }
  if (a.N !== undefined && b.N !== undefined) return Math.sign(Number(a.N) - Number(b.N));
  return undefined;
}

function applyUpdate(item: Item, expr: string, names: Record<string, string>, values: Item): Item {
  const sections = expr.split(/\b(?=SET |REMOVE )/).map((s) => s.trim());
  for (const section of sections) {
    if (section.startsWith('SET ')) {
      for (const assignment of section.slice(4).split(',')) {
        const [lhs, rhs] = assignment.split('=').map((s) => s.trim());
        item[names[lhs!] ?? lhs!] = values[rhs!] ?? fail(`value ${rhs}`);
      }
    } else if (section.startsWith('REMOVE ')) {
      for (const name of section.slice(7).split(',')) delete item[names[name.trim()] ?? name.trim()];
    } else if (section) {
      fail(`update section ${section}`);
    }
  }
  return item;
}

function fail(what: string): never {
  throw new Error(`FakeTable cannot interpret ${what}`);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function sortKeys(item: Item): Item {
  return Object.fromEntries(
    Object.keys(item)
      .sort()
      .map((k) => [k, item[k]!]),
  );
}
