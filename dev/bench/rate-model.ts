/**
 * Cost and lag at a given write rate, as AWS would batch the work. Pure arithmetic.
 *
 * The emulator cannot replicate more than a few tens of items a second, and it batches differently
 * from AWS (a slow moto lets records pile up between polls). What does not depend on the rate is
 * measured by the bench: DynamoDB calls and units per item, bytes per change, handler CPU per item,
 * the share of echoes the event filter lets through. What does depend on the rate, how many records
 * share an invocation, a message, a receive, is modelled here from how Lambda's pollers work:
 *
 * - Stream mapping: Lambda polls each shard about 4 times a second (../shared/REFERENCE.md) and
 *   waits for the previous invocation; with a batching window it gathers for that long first. Writes
 *   arriving at random (Poisson) at `rate`, a poll finds `rate × τ` records on average, and an
 *   empty poll invokes nothing: invocations/s = (1 − e^(−rate·τ)) / τ, each batch at most
 *   `shipperBatchSize`.
 * - The shipper sends one SendMessageBatch per target per invocation (the targets in parallel),
 *   packing the batch's changes into messages of at most `maxMessageBytes`; SQS bills each 64 KiB of
 *   a call's payload as one request.
 * - Queue mapping: without a window a receive returns what has arrived (messages come one per
 *   shipper invocation, so nearly always one); with a window Lambda gathers that long, up to its
 *   batch size. One receive (≤ 10 messages) and one DeleteMessageBatch per 10 messages.
 * - Idle: Lambda long-polls every SQS mapping's queue all the time (idleSqsCostPerQueueMonth), and
 *   a schedule runs the backlog drain every minute (idleScheduleCostMonth); that
 *   fixed monthly cost is spread over the items written in the month.
 */
import { cloudLagModel, roundTripMs } from './cloud-lag-model.ts';
import {
  globalTablesCost,
  idleScheduleCostMonth,
  idleSqsCostPerQueueMonth,
  PRICES,
  regionsyncCost,
  VCPU_MB,
  type CostBreakdown,
  type PathUsage,
} from './cost-model.ts';

/** Lambda polls each stream shard about 4 times a second (../shared/REFERENCE.md). */
export const STREAM_POLL_SECONDS = 0.25;
/** A change stream shard takes about 1,000 writes a second (one table partition's write limit). */
export const WRITES_PER_SHARD_PER_SECOND = 1000;
/** SQS bills each 64 KiB chunk of a request's payload as one request. */
const SQS_CHUNK_BYTES = 64 * 1024;
/** Request and answer headers of one SendMessageBatch across regions (assumed; HTTP/1.1 with SigV4). */
const SEND_OVERHEAD_BYTES = 1500;
/** Lambda's ParallelizationFactor on a stream mapping: 1 to 10. */
const MAX_PARALLELIZATION = 10;
/** Lambda's SQS mapping: at most this many messages per invocation without a window (SQS's receive limit), and with one. */
const QUEUE_BATCH = { noWindow: 10, window: 100 } as const;
/** Seconds in a 30-day month. */
const MONTH_SECONDS = 30 * 24 * 3600;

/** What the bench measured per item, whatever the rate (from a saturated run: full batches). */
export interface PerItemMeasured {
  readonly appWriteUnits: number;
  readonly appReadUnits: number;
  /** The shipper's stamp on plain writes (0 with the client helper). */
  readonly sourceWriteUnits: number;
  readonly sourceReadUnits: number;
  readonly targetWriteUnits: number;
  readonly targetReadUnits: number;
  /** DynamoDB calls per item: the shipper's stamps, and the applier's writes and reads per target. */
  readonly stampCalls: number;
  readonly sourceReadCalls: number;
  readonly applyCallsPerTarget: number;
  /** Bytes one change takes in a message (the message body divided by its changes). */
  readonly changeBytes: number;
  /**
   * Stream records of an applied change that reach its target's shipper past the event filter: 0
   * for inserts (dropped), 1 for updates and deletes (every record with an old image is delivered:
   * src/core/echo-filter.ts). They are batched like any stream records.
   */
  readonly echoRecordsPerChange: number;
}

export interface RateModelConfig {
  readonly source: string;
  readonly targets: readonly string[];
  /** The mappings' batching windows, seconds (Lambda takes whole seconds). */
  readonly windows: { readonly stream: number; readonly queue: number };
  readonly shipperBatchSize: number;
  readonly maxMessageBytes: number;
  readonly memoryMb: number;
  /** Handler CPU per item on a full core, µs. */
  readonly cpuMicros: { readonly shipper: number; readonly applier: number };
  /** AWS call latencies assumed: a DynamoDB write or read, and a SendMessageBatch apart from the round trip. */
  readonly callMs: { readonly dynamodbWrite: number; readonly sqsSend: number };
  /** Writes a handler keeps in flight. */
  readonly concurrency: number;
  /** SQS mappings (queues Lambda long-polls) per table and region: their idle receives are a fixed monthly cost. */
  readonly sqsMappingsPerTableRegion: number;
  /** Schedules that invoke the shipper per table and region (the backlog drain), and their period in minutes. @default none */
  readonly schedulesPerTableRegion?: { readonly count: number; readonly everyMinutes: number };
}

export interface RateFigures {
  readonly offeredPerSec: number;
  readonly shards: number;
  /** The stream mapping's parallelization factor the shipper needs to keep up with a shard (1 = the default). */
  readonly parallelization: number;
  /** Whether the shipper keeps up at all (false: lag grows without bound; more memory needed). */
  readonly keepsUp: boolean;
  readonly recordsPerShipperInvocation: number;
  readonly changesPerMessage: number;
  readonly messagesPerApplierInvocation: number;
  readonly shipperMs: number;
  readonly applierMs: number;
  /** Per item, per target region. */
  readonly perTarget: { readonly sqsCalls: number; readonly sqsBilled: number; readonly applierInvocations: number };
  readonly shipperInvocationsPerItem: number;
  readonly usage: PathUsage;
  /** The idle receives' monthly cost, per million items written at this rate (all the table's regions' mappings, one region writing). */
  readonly idleUsdPerMillionItems: number;
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly byPair: Record<string, { p50: number; p99: number }> };
}

/** Mean records a poll finds, and polls per second that invoke, for Poisson arrivals at `rate` over `tau` seconds. */
export function pollBatching(rate: number, tau: number, batchSize: number): { invocationsPerSec: number; recordsPerInvocation: number } {
  if (rate <= 0) return { invocationsPerSec: 0, recordsPerInvocation: 0 };
  const busy = 1 - Math.exp(-rate * tau);
  const invocations = busy / tau;
  const records = rate / invocations;
  if (records <= batchSize) return { invocationsPerSec: invocations, recordsPerInvocation: records };
  return { invocationsPerSec: rate / batchSize, recordsPerInvocation: batchSize };
}

export function modelRate(rate: number, m: PerItemMeasured, c: RateModelConfig): RateFigures {
  const slow = Math.max(1, VCPU_MB / c.memoryMb);
  const gb = c.memoryMb / 1024;
  const shards = Math.max(1, Math.ceil(rate / WRITES_PER_SHARD_PER_SECOND));
  const perShard = rate / shards;
  const maxRtt = Math.max(...c.targets.map((t) => roundTripMs(c.source, t).ms));
  // A plain write comes back to the shipper once more: its own stamp is an update, which the event
  // filter delivers (src/core/echo-filter.ts). Those records share the polls; only invocations that
  // hold an application write send anything.
  const recordsPerItem = 1 + m.stampCalls;
  const shipperMsFor = (records: number, sendShare: number) => {
    const items = records / recordsPerItem;
    return (
      (c.cpuMicros.shipper * items * slow) / 1000 +
      Math.ceil((items * (m.stampCalls + m.sourceReadCalls)) / c.concurrency) * c.callMs.dynamodbWrite +
      (c.targets.length > 0 ? sendShare * (maxRtt + c.callMs.sqsSend) : 0)
    );
  };
  // The next poll waits for the invocation: solve records ↔ duration by iterating. A shard whose
  // shipper would be working more than half the time needs a parallelization factor (Lambda splits a
  // shard's records by key into that many concurrent batches, keeping each key's order); the stack
  // sets 1 (see docs/benchmarks.md), the model takes the smallest that keeps invocations short.
  const solve = (p: number) => {
    const appRate = perShard / p;
    let tau = STREAM_POLL_SECONDS + c.windows.stream;
    let all = pollBatching(appRate * recordsPerItem, tau, c.shipperBatchSize);
    let sending = pollBatching(appRate, tau, c.shipperBatchSize);
    let ms = 0;
    for (let i = 0; i < 12; i++) {
      const sendShare = all.invocationsPerSec > 0 ? Math.min(1, sending.invocationsPerSec / all.invocationsPerSec) : 0;
      ms = shipperMsFor(all.recordsPerInvocation, sendShare);
      tau = STREAM_POLL_SECONDS + c.windows.stream + ms / 1000;
      all = pollBatching(appRate * recordsPerItem, tau, c.shipperBatchSize);
      sending = pollBatching(appRate, tau, Math.floor(c.shipperBatchSize / recordsPerItem));
    }
    // Waiting on the sends does not slow the shard down (records pile up meanwhile and the next
    // batch is bigger); the handler's own work per record does.
    const sendShare = all.invocationsPerSec > 0 ? Math.min(1, sending.invocationsPerSec / all.invocationsPerSec) : 0;
    const working = ms - (c.targets.length > 0 ? sendShare * (maxRtt + c.callMs.sqsSend) : 0);
    return { all, sending, ms, busy: (all.invocationsPerSec * working) / 1000 };
  };
  let parallelization = 1;
  let ship = solve(1);
  while (ship.busy > 0.5 && parallelization < MAX_PARALLELIZATION) ship = solve(++parallelization);
  const keepsUp = ship.busy < 1;
  const n = ship.all.recordsPerInvocation;
  const shipperMs = ship.ms;
  // Per target, per send: the application changes of one invocation that holds any.
  const changesPerSend = ship.sending.recordsPerInvocation;
  const changesPerMessageCap = Math.max(1, Math.floor(c.maxMessageBytes / Math.max(1, m.changeBytes)));
  const messagesPerInvocation = Math.ceil(changesPerSend / changesPerMessageCap);
  const changesPerMessage = changesPerSend / messagesPerInvocation;
  const payload = changesPerSend * m.changeBytes;
  const sendCalls = Math.ceil(messagesPerInvocation / 10);
  const sendBilled = Math.max(sendCalls, Math.ceil(payload / SQS_CHUNK_BYTES));

  // Messages reach each target's queue at this rate (every shard's shipper sends).
  const messagesPerSec = ship.sending.invocationsPerSec * parallelization * shards * messagesPerInvocation;
  const queueBatch = c.windows.queue > 0 ? QUEUE_BATCH.window : QUEUE_BATCH.noWindow;
  const gathered = c.windows.queue > 0 ? messagesPerSec * c.windows.queue : 1;
  const messagesPerApplierInvocation = Math.min(queueBatch, Math.max(1, gathered));
  const receiveCalls = Math.ceil(messagesPerApplierInvocation / 10);
  const receiveBilled = Math.max(receiveCalls, Math.ceil((messagesPerApplierInvocation * changesPerMessage * m.changeBytes) / SQS_CHUNK_BYTES));
  const deleteCalls = receiveCalls;
  const changesPerApplierInvocation = messagesPerApplierInvocation * changesPerMessage;
  const applierMs =
    (c.cpuMicros.applier * changesPerApplierInvocation * slow) / 1000 +
    Math.ceil((changesPerApplierInvocation * m.applyCallsPerTarget) / c.concurrency) * c.callMs.dynamodbWrite;
  // The echoes: each target's shipper is invoked on the applied changes' records the filter lets
  // through, batched by its own stream mapping (same windows); it skips them, a few ms of work.
  const echoRate = (rate * m.echoRecordsPerChange) / shards;
  const echoMsFor = (records: number) => 2 + (c.cpuMicros.shipper * records * slow) / 1000;
  let echo = pollBatching(echoRate, STREAM_POLL_SECONDS + c.windows.stream, c.shipperBatchSize);
  for (let i = 0; i < 4; i++)
    echo = pollBatching(echoRate, STREAM_POLL_SECONDS + c.windows.stream + echoMsFor(echo.recordsPerInvocation) / 1000, c.shipperBatchSize);
  const echoMs = echoMsFor(echo.recordsPerInvocation);

  const perItemSend = sendCalls / changesPerSend;
  const perTarget = {
    sqsCalls: perItemSend + (receiveCalls + deleteCalls) / changesPerApplierInvocation,
    sqsBilled: sendBilled / changesPerSend + (receiveBilled + deleteCalls) / changesPerApplierInvocation,
    applierInvocations: 1 / changesPerApplierInvocation,
  };
  const billedMs = (ms: number) => Math.max(1, Math.ceil(ms));
  const echoInvocations = rate > 0 ? (echo.invocationsPerSec * shards) / rate : 0;
  const usage: PathUsage = {
    appWriteUnits: m.appWriteUnits,
    appReadUnits: m.appReadUnits,
    sourceWriteUnits: m.sourceWriteUnits,
    sourceReadUnits: m.sourceReadUnits,
    perTarget: {
      writeUnits: m.targetWriteUnits,
      readUnits: m.targetReadUnits,
      sqsBilledRequests: perTarget.sqsBilled,
      lambdaInvocations: perTarget.applierInvocations + echoInvocations,
      lambdaGbSeconds: (gb * (billedMs(applierMs) * perTarget.applierInvocations + billedMs(echoMs) * echoInvocations)) / 1000,
      echoLambdaGbSeconds: (gb * billedMs(echoMs) * echoInvocations) / 1000,
      transferBytes: m.changeBytes + perItemSend * SEND_OVERHEAD_BYTES,
    },
    source: { lambdaInvocations: recordsPerItem / n, lambdaGbSeconds: (gb * billedMs(shipperMs) * recordsPerItem) / n / 1000 },
  };
  const regions = 1 + c.targets.length;
  const itemsPerMonth = rate * MONTH_SECONDS;
  const idleUsd = idleUsdPerTableRegionMonth(c.sqsMappingsPerTableRegion, c.schedulesPerTableRegion, c.memoryMb) * regions;
  const lag = cloudLagModel({
    source: c.source,
    targets: c.targets,
    shipper: [{ durationMs: shipperMs, records: 1 }],
    applier: [{ durationMs: applierMs, records: 1 }],
    batchingWindowMs: { stream: c.windows.stream * 1000, queue: c.windows.queue * 1000 },
    samples: 20_000,
  });
  return {
    offeredPerSec: rate,
    shards,
    parallelization,
    keepsUp,
    recordsPerShipperInvocation: round(n, 2),
    changesPerMessage: round(changesPerMessage, 2),
    messagesPerApplierInvocation: round(messagesPerApplierInvocation, 2),
    shipperMs: round(shipperMs, 1),
    applierMs: round(applierMs, 1),
    perTarget: { sqsCalls: round(perTarget.sqsCalls, 4), sqsBilled: round(perTarget.sqsBilled, 4), applierInvocations: round(perTarget.applierInvocations, 4) },
    shipperInvocationsPerItem: round(recordsPerItem / n, 4),
    usage,
    idleUsdPerMillionItems: itemsPerMonth > 0 ? round((idleUsd / itemsPerMonth) * 1e6, 4) : Number.POSITIVE_INFINITY,
    lagMs: { p50: lag.p50, p99: lag.p99, byPair: Object.fromEntries(Object.entries(lag.byPair).map(([k, v]) => [k, { p50: v.p50, p99: v.p99 }])) },
  };
}

/** The ratio to Global Tables at one rate: regionsync's cost per million items (idle receives included) over Global Tables'. */
export function costAtRate(
  rate: number,
  m: PerItemMeasured,
  c: RateModelConfig,
  itemBytes: number,
): { figures: RateFigures; regionsync: CostBreakdown; globalTables: CostBreakdown; idleUsdPerMillionItems: number; ratio: number } {
  const figures = modelRate(rate, m, c);
  const targets = c.targets.length;
  const regionsync = regionsyncCost(figures.usage, targets);
  const globalTables = globalTablesCost(itemBytes, targets);
  const total = regionsync.total + figures.idleUsdPerMillionItems;
  return { figures, regionsync, globalTables, idleUsdPerMillionItems: figures.idleUsdPerMillionItems, ratio: round(total / globalTables.total, 3) };
}

/** Dollars per table per region per month with no writes at all: the SQS mappings' empty long polls, and the schedules' empty runs. */
export function idleUsdPerTableRegionMonth(
  sqsMappingsPerTableRegion: number,
  schedules: { readonly count: number; readonly everyMinutes: number } = { count: 0, everyMinutes: 1 },
  memoryMb = 512,
): number {
  const scheduled = schedules.count * idleScheduleCostMonth(schedules.everyMinutes, memoryMb).usd;
  return round(idleSqsCostPerQueueMonth().usd * sqsMappingsPerTableRegion + scheduled, 4);
}

export { PRICES };

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
