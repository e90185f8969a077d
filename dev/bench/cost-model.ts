/**
 * Dollars per million replicated writes, from counted requests and published prices, next to
 * what DynamoDB Global Tables charges for the same work. Pure arithmetic: the inputs are what
 * the bench measured (dev/bench/run.ts) and the prices below.
 */

/** us-east-1 list prices. Sources: ../shared/REFERENCE.md and the AWS pricing pages cited in docs/benchmarks.md. */
export const PRICES = {
  asOf: '2026-11-25',
  region: 'us-east-1',
  /** DynamoDB on-demand, per million write request units (after the November 2024 price cut). */
  dynamodbWriteRequestUnitPerMillion: 0.625,
  /** DynamoDB on-demand, per million read request units (4 KB strongly consistent, or 8 KB eventually consistent). */
  dynamodbReadRequestUnitPerMillion: 0.125,
  /** Global Tables on-demand, per million replicated write request units: priced as WRUs (DynamoDB "Understanding billing for global tables"). */
  replicatedWriteRequestUnitPerMillion: 0.625,
  /** SQS standard, per million requests; each 64 KB chunk of a request's payload is one request. */
  sqsRequestPerMillion: 0.4,
  /** Lambda, per million invocations. */
  lambdaRequestPerMillion: 0.2,
  /** Lambda arm64 (the functions' architecture), per GB-second (x86: 0.0000166667). */
  lambdaGbSecondArm64: 0.0000133334,
  /** Inter-region data transfer, per GB, paid by the sending region. */
  interRegionTransferPerGb: 0.02,
} as const;

const GB = 1024 ** 3;
const WRITE_UNIT = 1024;

/** What one path costs per replicated item, measured on the emulator; `perTarget` parts scale with the number of target regions. */
export interface PathUsage {
  /** Write units the application's own write consumed (source region). */
  readonly appWriteUnits: number;
  /** Read units the application's write path consumed (the client helper reads the item before writing it). */
  readonly appReadUnits: number;
  /** Write units regionsync spends at the source (the shipper's stamp on plain writes; 0 with the client helper). */
  readonly sourceWriteUnits: number;
  /** Read units regionsync spends at the source (the shipper's tombstone-table reads: docs/deletes.md). @default 0 */
  readonly sourceReadUnits?: number;
  readonly perTarget: {
    /** The applier's conditional writes (stale and duplicate deliveries included). */
    readonly writeUnits: number;
    /** Read units regionsync spends in each target (the applier's tombstone check after a create). @default 0 */
    readonly readUnits?: number;
    /** SQS requests as billed (64 KB chunks): send, receive, delete; empty receives excluded (see idle cost). */
    readonly sqsBilledRequests: number;
    /** Applier invocations plus this region's shipper invoked on the applied changes' stream records. */
    readonly lambdaInvocations: number;
    readonly lambdaGbSeconds: number;
    /** The part of lambdaGbSeconds spent by the target's shipper skipping the applied changes' records. */
    readonly echoLambdaGbSeconds: number;
    /** Bytes sent across regions (change messages and their answers). */
    readonly transferBytes: number;
  };
  /** The source region's shipper. */
  readonly source: { readonly lambdaInvocations: number; readonly lambdaGbSeconds: number };
}

export interface CostBreakdown {
  readonly dynamodbWrites: number;
  readonly dynamodbReads: number;
  readonly sqs: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly transfer: number;
  readonly total: number;
}

/** Dollars for one million items replicated to `targets` regions. */
export function regionsyncCost(u: PathUsage, targets: number): CostBreakdown {
  // Per-item counts × one million items × the price per million (or per unit).
  const dynamodbWrites = (u.appWriteUnits + u.sourceWriteUnits + targets * u.perTarget.writeUnits) * PRICES.dynamodbWriteRequestUnitPerMillion;
  const dynamodbReads = (u.appReadUnits + (u.sourceReadUnits ?? 0) + targets * (u.perTarget.readUnits ?? 0)) * PRICES.dynamodbReadRequestUnitPerMillion;
  const sqs = targets * u.perTarget.sqsBilledRequests * PRICES.sqsRequestPerMillion;
  const lambdaRequests = (u.source.lambdaInvocations + targets * u.perTarget.lambdaInvocations) * PRICES.lambdaRequestPerMillion;
  const lambdaDuration = (u.source.lambdaGbSeconds + targets * u.perTarget.lambdaGbSeconds) * 1e6 * PRICES.lambdaGbSecondArm64;
  const transfer = ((targets * u.perTarget.transferBytes * 1e6) / GB) * PRICES.interRegionTransferPerGb;
  return round({
    dynamodbWrites,
    dynamodbReads,
    sqs,
    lambdaRequests,
    lambdaDuration,
    transfer,
    total: dynamodbWrites + dynamodbReads + sqs + lambdaRequests + lambdaDuration + transfer,
  });
}

/**
 * Global Tables for the same million writes: one replicated write unit per KB in the source
 * region and in each replica (its replication metadata is not part of the billed item size
 * since version 2019.11.21), plus the item's bytes sent to each replica.
 */
export function globalTablesCost(itemBytes: number, targets: number): CostBreakdown {
  const units = Math.max(1, Math.ceil(itemBytes / WRITE_UNIT));
  const dynamodbWrites = (1 + targets) * units * PRICES.replicatedWriteRequestUnitPerMillion;
  const transfer = ((targets * itemBytes * 1e6) / GB) * PRICES.interRegionTransferPerGb;
  return round({ dynamodbWrites, dynamodbReads: 0, sqs: 0, lambdaRequests: 0, lambdaDuration: 0, transfer, total: dynamodbWrites + transfer });
}

/** Write units per write of each kind, from the application's item size and regionsync's metadata size. */
export interface WriteUnitScenario {
  readonly name: string;
  readonly appItemBytes: number;
  readonly metadataBytes: number;
  /** The application's write: a new item (no metadata before it) or an update of a replicated item. */
  readonly kind: 'insert' | 'update';
}

export function scenarioWriteUnits(s: WriteUnitScenario, path: 'plain' | 'helper'): { app: number; source: number; perTarget: number } {
  const bare = Math.max(1, Math.ceil(s.appItemBytes / WRITE_UNIT));
  const withMeta = Math.max(1, Math.ceil((s.appItemBytes + s.metadataBytes) / WRITE_UNIT));
  if (path === 'helper') return { app: withMeta, source: 0, perTarget: withMeta };
  // A plain write replaces (or updates) an item that carries metadata: DynamoDB bills the larger of before and after.
  return { app: s.kind === 'insert' ? bare : withMeta, source: withMeta, perTarget: withMeta };
}

/** The measured usage with write units replaced by those of a scenario (request counts stay measured). */
export function withScenario(u: PathUsage, s: WriteUnitScenario, path: 'plain' | 'helper', measuredApplyWritesPerItem: number): PathUsage {
  const w = scenarioWriteUnits(s, path);
  return { ...u, appWriteUnits: w.app, sourceWriteUnits: w.source, perTarget: { ...u.perTarget, writeUnits: w.perTarget * measuredApplyWritesPerItem } };
}

/** What an estimate of Lambda durations in AWS starts from. */
export interface AwsDurationInputs {
  /** Configured function memory; CPU is allotted in proportion (1,769 MB = one vCPU). */
  readonly memoryMb: number;
  /** Handler CPU per item (dev/bench/cpu.ts) on a full core: the shipper's for this path, the applier's per target. */
  readonly cpuMicros: { readonly shipper: number; readonly applier: number };
  /** Latency of one call when the emulator is not saturated (measured at the lowest load step). */
  readonly callMs: { readonly dynamodbWrite: number; readonly sqsSend: number };
  /** The longest inter-region round trip to a target (the sends go in parallel; the invocation waits for the slowest). */
  readonly roundTripMs: number;
  /** Writes a handler keeps in flight (the shipper's and applier's concurrency). */
  readonly concurrency: number;
}

/** Per-item calls a path makes (from the counted requests): stamps, applies per target, sends per target. */
export interface PathCalls {
  readonly stampsPerItem: number;
  readonly appliesPerItemPerTarget: number;
  readonly sendsPerItemPerTarget: number;
}

export const VCPU_MB = 1769;

/**
 * Lambda GB-seconds per item in AWS, estimated: handler CPU slowed to the memory's vCPU share,
 * plus waiting for writes (in flight `concurrency` at a time) and for the cross-region sends.
 * The emulator's own durations overstate this when moto, saturated, answers in tens of ms.
 */
export function awsLambdaGbSeconds(calls: PathCalls, d: AwsDurationInputs, _targets: number): { source: number; perTarget: number } {
  const slow = Math.max(1, VCPU_MB / d.memoryMb);
  const gb = d.memoryMb / 1024;
  const sourceMs =
    (d.cpuMicros.shipper / 1000) * slow +
    (calls.stampsPerItem * d.callMs.dynamodbWrite) / d.concurrency +
    // The shipper sends to its targets in parallel (Promise.allSettled): it waits for the slowest.
    calls.sendsPerItemPerTarget * (d.roundTripMs + d.callMs.sqsSend);
  const targetMs = (d.cpuMicros.applier / 1000) * slow + (calls.appliesPerItemPerTarget * d.callMs.dynamodbWrite) / d.concurrency;
  return { source: (gb * sourceMs) / 1000, perTarget: (gb * targetMs) / 1000 };
}

/** The usage with the functions' GB-seconds replaced by the AWS estimate (the echo invocations keep their measured time: they wait on nothing). */
export function withAwsDurations(u: PathUsage, est: { source: number; perTarget: number }): PathUsage {
  return {
    ...u,
    source: { ...u.source, lambdaGbSeconds: est.source },
    perTarget: { ...u.perTarget, lambdaGbSeconds: est.perTarget + u.perTarget.echoLambdaGbSeconds },
  };
}

/** How long a scheduled drain of an empty backlog runs: one ReceiveMessage in its own region (assumed). */
export const EMPTY_DRAIN_MS = 20;

/**
 * Idle cost of a schedule that invokes a function every `everyMinutes` to drain a queue (the
 * backlog drain): one invocation, one receive and EMPTY_DRAIN_MS of duration each time.
 */
export function idleScheduleCostMonth(everyMinutes: number, memoryMb: number): { invocations: number; usd: number } {
  const invocations = (60 * 24 * 30) / everyMinutes;
  const usd =
    (invocations / 1e6) * (PRICES.lambdaRequestPerMillion + PRICES.sqsRequestPerMillion) +
    invocations * (EMPTY_DRAIN_MS / 1000) * (memoryMb / 1024) * PRICES.lambdaGbSecondArm64;
  return { invocations, usd };
}

/** Idle cost per queue: Lambda's SQS pollers long-poll even when nothing arrives (5 pollers, 20 s waits). */
export function idleSqsCostPerQueueMonth(): { requests: number; usd: number } {
  const requests = 5 * 3 * 60 * 24 * 30;
  return { requests, usd: (requests / 1e6) * PRICES.sqsRequestPerMillion };
}

function round(c: CostBreakdown): CostBreakdown {
  const r = (x: number) => Math.round(x * 10_000) / 10_000;
  return {
    dynamodbWrites: r(c.dynamodbWrites),
    dynamodbReads: r(c.dynamodbReads),
    sqs: r(c.sqs),
    lambdaRequests: r(c.lambdaRequests),
    lambdaDuration: r(c.lambdaDuration),
    transfer: r(c.transfer),
    total: r(c.total),
  };
}
