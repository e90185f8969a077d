/**
 * A simulated multi-region deployment for property tests: the real Shipper and Applier classes
 * over FakeTable/FakeSqs, with the test in control of every scheduling decision (which stream
 * batch ships when, which message is delivered when, duplicated or reordered).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { Applier } from '../../src/functions/applier/applier.ts';
import { canonicalItem, toWire } from '../../src/core/codec.ts';
import { META, type FunctionSettings, type KeySchema, type StrategySpec } from '../../src/core/contract.ts';
import type { Resolver } from '../../src/core/resolver.ts';
import { Shipper } from '../../src/functions/shipper/shipper.ts';
import { FakeSqs, FakeTable, keyStates, TOMBSTONES } from './fakes.ts';
import { shipperStreamFilterPatterns } from '../../src/core/echo-filter.ts';
import { compileFilterCriteria } from '../../dev/local/event-filter.ts';

/** The shipper's stream mapping filter, as deployed (the same patterns the CDK app sets). */

export const KEY: KeySchema = { partitionKey: 'pk', sortKey: 'sk' };
const SHIPPER_FILTER = compileFilterCriteria({
  Filters: shipperStreamFilterPatterns({ name: KEY.partitionKey, type: 'S' }).map((p) => ({ Pattern: JSON.stringify(p) })),
})!;
const TABLE = 'items';
/** Each region's tombstone table (deleted items are kept there, not in `items`). */
export { TOMBSTONES };

export function silentLogger(): never {
  const noop = () => undefined;
  return { debug: noop, info: noop, warn: noop, error: noop } as never;
}

export function silentMetrics(): never {
  const single = { addDimensions: () => undefined, addMetric: () => undefined, publishStoredMetrics: () => undefined };
  return { addMetric: () => undefined, singleMetric: () => single, publishStoredMetrics: () => undefined } as never;
}

export function settingsFor(region: string, regions: readonly string[], strategy: StrategySpec = { strategy: 'lww' }): FunctionSettings {
  return {
    strategy,
    tableName: TABLE,
    logicalTable: TABLE,
    region,
    key: KEY,
    targets: regions.filter((r) => r !== region).map((r) => ({ region: r, queueUrl: queueUrl(r) })),
    sourceRegions: regions.filter((r) => r !== region),
    deadLetterQueueUrl: `dlq-${region}`,
    tombstoneTable: TOMBSTONES,
    tombstoneTtlSeconds: 1_296_000,
    ttlAttribute: META.expiresAt,
    maxMessageBytes: 256 * 1024,
  };
}

export function queueUrl(region: string): string {
  return `inbound-${region}`;
}

export type CallingFunction = 'shipper' | 'applier';

/** The IAM action a command needs: `dynamodb:GetItem` for a GetItemCommand. */
function commandAction(service: string, command: object): string {
  const name = command.constructor.name;
  if (!name.endsWith('Command')) throw new Error(`not an AWS SDK command: ${name}`);
  // SQS authorizes SendMessageBatch as sqs:SendMessage (and DeleteMessageBatch as sqs:DeleteMessage).
  return `${service}:${name.slice(0, -'Command'.length).replace(/^(SendMessage|DeleteMessage|ChangeMessageVisibility)Batch$/, '$1')}`;
}

function queueKind(url: string): string {
  for (const [prefix, kind] of [
    ['inbound-', 'inbound'],
    ['dlq-', 'dlq'],
    ['backlog-', 'backlog'],
    ['failures-', 'stream-failures'],
  ] as const)
    if (url.startsWith(prefix)) return kind;
  throw new Error(`the cluster does not know queue ${url}`);
}

/** A scheduling step of a property test (see Cluster.step). */
export type ScheduleOp =
  | { kind: 'ship'; region: number; max: number }
  | { kind: 'deliver'; pick: number; duplicate: boolean }
  | { kind: 'tick'; ms: number }
  /**
   * Two steps at once, as two Lambda invocations run side by side: their DynamoDB calls interleave
   * (each fake call is its own turn of the event loop). `b` may be the same message as `a`: a
   * redelivery while the first delivery is still applying.
   */
  | { kind: 'together'; a: { kind: 'ship'; region: number; max: number } | { kind: 'deliver'; pick: number }; b: { kind: 'deliver'; pick: number } };

export class Cluster {
  readonly tables = new Map<string, FakeTable>();
  readonly tombstoneTables = new Map<string, FakeTable>();
  readonly sqs = new FakeSqs();
  private readonly shippers = new Map<string, Shipper>();
  private readonly appliers = new Map<string, Applier>();
  private readonly streamPos = new Map<string, number>();
  /** Messages sent and not yet delivered (indexes into sqs.sent). */
  readonly pending: number[] = [];
  /** Stream records the shipper's event filter dropped (echoes of the applier's writes). */
  filtered = 0;
  /**
   * Every kind of AWS call the functions made, as `<function> <resource> <service:Action>`
   * (resource: `table`, `tombstones` or `queue:<inbound|dlq|backlog|stream-failures>`).
   */
  readonly observed = new Set<string>();
  /** A logical time that moves forward with every step; each region's clock adds its own skew. */
  private t = 1_764_000_000_000;

  constructor(
    readonly regions: readonly string[],
    skewMs: Readonly<Record<string, number>> = {},
    readonly strategy: StrategySpec = { strategy: 'lww' },
    resolver?: Resolver,
    /** Settings every function gets on top of the defaults (e.g. a user-owned TTL attribute). */
    overrides: Partial<FunctionSettings> = {},
  ) {
    for (const r of regions) {
      const now = () => this.t + (skewMs[r] ?? 0);
      const table = new FakeTable(r, KEY, now);
      this.tables.set(r, table);
      const tombstones = new FakeTable(r, { partitionKey: META.tombstoneKey }, now);
      this.tombstoneTables.set(r, tombstones);
      // One client per function and region, as in Lambda: it reaches both tables by name, and
      // records what it was asked to do (the IAM test checks the deployed roles allow it).
      const clientOf = (fn: CallingFunction) =>
        ({
          send: (command: { input: { TableName?: string } }) => {
            const target = command.input.TableName === TOMBSTONES ? 'tombstones' : 'table';
            this.observed.add(`${fn} ${target} ${commandAction('dynamodb', command)}`);
            return (target === 'tombstones' ? tombstones : table).dispatch(command);
          },
        }) as never;
      const sqsOf = (fn: CallingFunction) =>
        ({
          send: (command: { input: { QueueUrl?: string } }) => {
            this.observed.add(`${fn} queue:${queueKind(command.input.QueueUrl ?? '')} ${commandAction('sqs', command)}`);
            return (this.sqs.client as { send: (c: unknown) => Promise<unknown> }).send(command);
          },
        }) as never;
      this.streamPos.set(r, 0);
      this.shippers.set(
        r,
        new Shipper(
          { ...settingsFor(r, regions, strategy), ...overrides },
          {
            dynamodb: clientOf('shipper'),
            sqsFor: () => sqsOf('shipper'),
            logger: silentLogger(),
            metrics: silentMetrics(),
            now,
            ...(resolver ? { resolver } : {}),
          },
        ),
      );
      this.appliers.set(
        r,
        new Applier(
          { ...settingsFor(r, regions, strategy), ...overrides },
          { dynamodb: clientOf('applier'), sqs: sqsOf('applier'), logger: silentLogger(), metrics: silentMetrics(), now, ...(resolver ? { resolver } : {}) },
        ),
      );
    }
  }

  /** The true time (what DynamoDB's clock reads), before any region's skew. */
  get time(): number {
    return this.t;
  }

  tick(ms = 1): void {
    this.t += ms;
  }

  table(region: string): FakeTable {
    return this.tables.get(region)!;
  }

  /**
   * Runs the shipper of `region` on up to `max` pending stream records, as Lambda would: through
   * the mapping's event filter (records it drops never reach the shipper), checkpointing at the
   * first failed record.
   */
  async ship(region: string, max = 100): Promise<void> {
    const table = this.table(region);
    const pos = this.streamPos.get(region)!;
    const read = table.stream.slice(pos, pos + max);
    if (read.length === 0) return;
    const records = read.filter((r) => SHIPPER_FILTER(r));
    this.filtered += read.length - records.length;
    if (records.length === 0) {
      this.streamPos.set(region, pos + read.length);
      return;
    }
    const before = this.sqs.sent.length;
    const res = await this.shippers.get(region)!.handle({ Records: records });
    for (let i = before; i < this.sqs.sent.length; i++) this.pending.push(i);
    const failed = res.batchItemFailures[0]?.itemIdentifier;
    const advance = failed === undefined ? read.length : read.findIndex((r) => r.dynamodb?.SequenceNumber === failed);
    this.streamPos.set(region, pos + advance);
    this.tick();
  }

  /**
   * The scheduling steps property tests draw between application writes: ship a region's stream
   * (region by index, modulo), deliver a pending message (maybe as a duplicate), let time pass.
   */
  async step(op: ScheduleOp): Promise<void> {
    if (op.kind === 'ship') await this.ship(this.regions[op.region % this.regions.length]!, op.max);
    else if (op.kind === 'deliver') await this.deliver(op.pick, op.duplicate);
    else if (op.kind === 'together') {
      const a = op.a;
      await Promise.all([a.kind === 'ship' ? this.ship(this.regions[a.region % this.regions.length]!, a.max) : this.deliver(a.pick), this.deliver(op.b.pick)]);
    } else this.tick(op.ms);
  }

  /** Delivers pending message number `pick` (modulo); with `duplicate` it stays pending, as an at-least-once redelivery. */
  async deliver(pick: number, duplicate = false): Promise<void> {
    const inbound = this.pending.filter((i) => this.sqs.sent[i]!.queueUrl.startsWith('inbound-'));
    if (inbound.length === 0) return;
    const index = inbound[pick % inbound.length]!;
    const message = this.sqs.sent[index]!;
    const region = message.queueUrl.slice('inbound-'.length);
    const res = await this.appliers.get(region)!.handle({
      Records: [
        {
          messageId: String(index),
          receiptHandle: 'r',
          body: message.body,
          attributes: {} as never,
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn',
          awsRegion: region,
        },
      ],
    });
    // (A delivery running beside another of the same message finds it gone already.)
    if (!duplicate && res.batchItemFailures.length === 0 && this.pending.includes(index)) this.pending.splice(this.pending.indexOf(index), 1);
    this.tick();
  }

  streamBacklog(region: string): number {
    return this.table(region).stream.length - this.streamPos.get(region)!;
  }

  /** Ships and delivers everything until nothing is left in flight. */
  async drain(pickOrder: (n: number) => number = () => 0): Promise<void> {
    // Far above what any test's workload needs: beyond it the regions are passing changes back and
    // forth (a livelock), which must fail with its counterexample rather than hang the run (a loop
    // of resolved promises never lets a test timeout fire).
    for (let guard = 0; guard < 20_000; guard++) {
      const backlog = this.regions.find((r) => this.streamBacklog(r) > 0);
      if (backlog) {
        await this.ship(backlog);
        continue;
      }
      if (this.pending.some((i) => this.sqs.sent[i]!.queueUrl.startsWith('inbound-'))) {
        await this.deliver(pickOrder(this.pending.length));
        continue;
      }
      return;
    }
    throw new Error(
      `cluster did not drain: ${this.pending.length} messages pending of ${this.sqs.sent.length} sent, stream backlogs ${this.regions.map((r) => `${r} ${this.streamBacklog(r)}`).join(', ')}`,
    );
  }

  /** What an observer compares across regions: the application's attributes plus version and tombstone flag. */
  view(region: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, item] of keyStates(this.table(region), this.tombstoneTables.get(region)!)) {
      const { [META.writer]: _w, [META.expiresAt]: _e, [META.sequence]: _s, [META.lock]: _l, ...rest } = item;
      out.set(k, canonicalItem(toWire(rest)));
    }
    return out;
  }

  /** The application's view: live items only, regionsync metadata removed. */
  liveView(region: string): Map<string, Record<string, AttributeValue>> {
    const out = new Map<string, Record<string, AttributeValue>>();
    for (const [k, item] of this.table(region).items) {
      if (item[META.deleted]?.BOOL) continue;
      out.set(k, Object.fromEntries(Object.entries(item).filter(([n]) => !n.startsWith('_rs_'))));
    }
    return out;
  }
}
