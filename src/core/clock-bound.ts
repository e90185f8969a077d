/**
 * The clock bound (review finding 10), after CockroachDB's maximum clock offset: no clock reading
 * more than `maxClockOffsetSeconds` ahead of the reader's own clock is ever adopted. Without it a
 * region whose clock ran a day ahead won every conflict for a day and dragged every other
 * region's hybrid logical clock a day forward with it.
 *
 * A version is an identity every region shares, so no receiver ever rewrites one (that would
 * break convergence). Each place that meets a foreign clock reading decides instead:
 *
 * | where | reading | beyond the bound |
 * |---|---|---|
 * | HybridLogicalClock.next(floor) | the floor (item's version) | throws ClockOffsetError: never stamps below the floor, never runs ahead |
 * | applier | a change's version vs its clock | not applied now: retried with its message until within the bound ({@link admitChange}), dead-lettered with the reason if retries cannot wait that long |
 * | shipper (origin) | a client-helper version vs the stream record's creation time (DynamoDB's clock) | restamped with the shipper's clock, `lww` tables ({@link clientWriteAheadMs}) |
 * | client helper | its host clock vs DynamoDB's `Date` header; an item's version vs its clock | ClockOffsetError, nothing written ({@link hostAheadOfServerMs}) |
 *
 * Pure: no I/O, no clock of its own.
 */
import type { Version } from './types.ts';

/** A few seconds: far above what NTP-synced hosts drift (AWS hosts: well under 1 ms), far below a conflict window that matters. */
export const DEFAULT_MAX_CLOCK_OFFSET_SECONDS = 5;
/** {@link DEFAULT_MAX_CLOCK_OFFSET_SECONDS} in ms, as the readers of the bound take it. */
export const DEFAULT_MAX_CLOCK_OFFSET_MS = DEFAULT_MAX_CLOCK_OFFSET_SECONDS * 1000;
/** DynamoDB Streams' ApproximateCreationDateTime and HTTP's Date header are whole seconds, rounded down. */
export const SECOND_RESOLUTION_MS = 1000;
/**
 * How long retries can hold a message back with the default queue: the inbound queue moves a
 * message to its DLQ on its 11th receive (maxReceiveCount 10), one visibility timeout (180 s)
 * apart, so the 10th receive is 9 × 180 s after the first. Retention (4 days) is not the limit.
 * The stack passes the deployed figure in FunctionSettings.clockBound.holdMs.
 */
export const DEFAULT_CLOCK_HOLD_MS = 9 * 180_000;

/** How far ahead a clock reading may be before it is not adopted, and (applier) how long retries can wait for it. */
export interface ClockBound {
  /** Largest distance, in ms, a version's physical time may be ahead of the reader's clock. */
  readonly maxOffsetMs: number;
  /** Applier: longest its retries can hold a change back (maxReceiveCount − 1 visibility timeouts). @default {@link DEFAULT_CLOCK_HOLD_MS} */
  readonly holdMs?: number;
}

/** The default bound, every field filled in: what {@link clockBoundOf} gives for settings that name none (5 s, 27 min of holding). */
export const DEFAULT_CLOCK_BOUND: ClockBound = { maxOffsetMs: DEFAULT_MAX_CLOCK_OFFSET_MS, holdMs: DEFAULT_CLOCK_HOLD_MS };

/** A function's bound: what the stack passed in FunctionSettings.clockBound, defaults filled in. */
export function clockBoundOf(settings: { readonly clockBound?: ClockBound }): Required<ClockBound> {
  return { maxOffsetMs: settings.clockBound?.maxOffsetMs ?? DEFAULT_MAX_CLOCK_OFFSET_MS, holdMs: settings.clockBound?.holdMs ?? DEFAULT_CLOCK_HOLD_MS };
}

/** What the applier does with a change, by how far its version is ahead of the applier's clock. */
export type Admission =
  | { readonly kind: 'apply' }
  /** Within reach of retries: fail the message; it comes back after its visibility timeout. */
  | { readonly kind: 'wait'; readonly aheadMs: number; readonly reason: string }
  /** Too far for retries to wait: park the change in the DLQ with the reason (redrive it once the clocks agree). */
  | { readonly kind: 'dead-letter'; readonly aheadMs: number; readonly reason: string };

/**
 * Applier: may a change whose version is `version` be applied at `now` (the applier's clock)?
 * Once `now + maxOffsetMs` reaches the version it is no longer from the future and applies as
 * usual, so waiting loses nothing and, for a small skew, needs no operator.
 */
export function admitChange(version: Version, now: number, bound: ClockBound): Admission {
  const aheadMs = version.ms - Math.floor(now);
  if (aheadMs <= bound.maxOffsetMs) return { kind: 'apply' };
  const waitMs = aheadMs - bound.maxOffsetMs;
  const holdMs = bound.holdMs ?? DEFAULT_CLOCK_HOLD_MS;
  const reason =
    `version from ${version.region} is ${aheadMs} ms ahead of this region's clock (maxClockOffsetSeconds: ${bound.maxOffsetMs / 1000}); ` +
    `the clock of ${version.region} (or of an application host writing there) is probably ahead`;
  if (waitMs <= holdMs) return { kind: 'wait', aheadMs, reason: `${reason}; retried until it is within the bound (${waitMs} ms)` };
  return { kind: 'dead-letter', aheadMs, reason: `${reason}; more than retries can wait (${holdMs} ms): redrive it once the clocks agree` };
}

/**
 * Shipper, origin side: how far a client-helper version is beyond the bound ahead of DynamoDB's
 * time of the write, or undefined when it is within it. `writtenAtMs` is the stream record's
 * ApproximateCreationDateTime: rounded down to the second on AWS, so the write may have happened
 * up to 1 s later and 1 s more is allowed (a whole-second value only; a millisecond one is exact).
 * No false positive: an honest clock within the bound is never restamped.
 */
export function clientWriteAheadMs(version: Version, writtenAtMs: number, maxOffsetMs: number): number | undefined {
  const latestWrite = writtenAtMs + (writtenAtMs % SECOND_RESOLUTION_MS === 0 ? SECOND_RESOLUTION_MS : 0);
  const aheadMs = version.ms - latestWrite;
  return aheadMs > maxOffsetMs ? aheadMs : undefined;
}

/**
 * The floor of a restamp: the version the write replaced, held to `writtenAtMs + maxOffsetMs`.
 * Above the limit it is itself an unshipped skewed client version (every shipped version is
 * within the bound), so the limit is above everything the other regions can hold, and the
 * shipper's clock (reading at least `writtenAtMs`) accepts it without running ahead.
 */
export function restampFloor(replaced: Version | undefined, writtenAtMs: number, maxOffsetMs: number): Version | undefined {
  if (!replaced) return undefined;
  const limit = writtenAtMs + maxOffsetMs;
  return replaced.ms <= limit ? replaced : { ms: limit, counter: 0, region: replaced.region };
}

/**
 * Shipper, origin side, for `classifyRecord`: a client-helper write whose version is beyond the
 * bound ahead of DynamoDB's clock is restamped with the shipper's clock instead of shipped (the
 * version never left this region, so replacing it breaks no convergence); undefined: ship as is.
 * `maxOffsetMs` undefined: never (merging strategies carry the version inside their state).
 */
export function clientWriteRestamp(
  version: Version | undefined,
  replaced: Version | undefined,
  writtenAtMs: number,
  maxOffsetMs: number | undefined,
): { readonly aheadMs: number; readonly floor?: Version } | undefined {
  if (!version || maxOffsetMs === undefined) return undefined;
  const aheadMs = clientWriteAheadMs(version, writtenAtMs, maxOffsetMs);
  if (aheadMs === undefined) return undefined;
  const floor = restampFloor(replaced, writtenAtMs, maxOffsetMs);
  return { aheadMs, ...(floor ? { floor } : {}) };
}

/**
 * Client helper: how far this host's clock is beyond the bound ahead of DynamoDB's, from a
 * response's `Date` header (whole seconds, so DynamoDB's clock read less than `serverDateMs + 1000`
 * when it answered), or undefined when within it. `sentAtMs` is the host's clock when the
 * request was sent, before the answer: the lead is never overstated.
 */
export function hostAheadOfServerMs(sentAtMs: number, serverDateMs: number, maxOffsetMs: number): number | undefined {
  const aheadMs = sentAtMs - (serverDateMs + SECOND_RESOLUTION_MS);
  return aheadMs > maxOffsetMs ? aheadMs : undefined;
}
