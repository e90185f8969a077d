/** What the stream and queue pollers share: counters, logging, interruptible sleeps. */
import type { EventSourceKind } from './discovery.ts';
import type { InvokeOutcome } from './function-host.ts';

export interface MappingStats {
  readonly uuid: string;
  readonly region: string;
  readonly functionName: string;
  readonly eventSourceArn: string;
  readonly source: EventSourceKind;
  /** starting → running → stopped; `failed` when the poller could not start at all. */
  state: 'starting' | 'running' | 'stopping' | 'stopped' | 'failed' | 'skipped';
  invocations: number;
  /** Records (stream records or messages) handed to the function, retries included. */
  records: number;
  /** Records the function finished with (checkpointed or deleted). */
  succeeded: number;
  /** Invocations that failed: the handler threw, timed out, or crashed. */
  failures: number;
  /** Invocations that reported batchItemFailures. */
  partialFailures: number;
  /** Stream records given up on (retries or age exhausted). Never 0 silently: each is logged. */
  discarded: number;
  /** Records the mapping's FilterCriteria dropped before batching (no invocation). */
  filtered: number;
  lastError?: string;
  lastInvocationAt?: number;
}

export function newStats(init: Pick<MappingStats, 'uuid' | 'region' | 'functionName' | 'eventSourceArn' | 'source'>): MappingStats {
  return { ...init, state: 'starting', invocations: 0, records: 0, succeeded: 0, failures: 0, partialFailures: 0, discarded: 0, filtered: 0 };
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type RuntimeLogger = (level: LogLevel, message: string) => void;

/** Invokes the mapping's function; never rejects for a function error. */
export type Invoker = (event: unknown) => Promise<InvokeOutcome>;

export function describeFailure(outcome: InvokeOutcome): string {
  return outcome.ok ? 'ok' : `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
}

/**
 * The item identifiers of a ReportBatchItemFailures response, or 'all' when the response is
 * malformed (Lambda then treats the whole batch as failed), or [] for full success.
 */
export function batchItemFailures(result: unknown, valid: ReadonlySet<string>): string[] | 'all' {
  if (result === null || result === undefined || typeof result !== 'object') return [];
  const failures = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return [];
  if (!Array.isArray(failures)) return 'all';
  const ids: string[] = [];
  for (const f of failures) {
    const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !id || !valid.has(id)) return 'all';
    ids.push(id);
  }
  return ids;
}

/** Lambda's limit for a synchronous invocation's payload; event source mappings cut batches to fit. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/**
 * How many of `items` (at least 1, at most `maxCount`) fit in one invocation payload.
 * A single item over the limit is still sent alone: the invocation then fails as in Lambda.
 */
export function countWithinPayload<T>(items: readonly T[], maxCount: number, sizeOf: (item: T) => number): number {
  let bytes = 20; // {"Records":[...]}
  let n = 0;
  while (n < Math.min(maxCount, items.length)) {
    bytes += sizeOf(items[n]!) + 1;
    if (n > 0 && bytes > MAX_PAYLOAD_BYTES) break;
    n++;
  }
  return n;
}

/** Exponential backoff for retry `attempt` (1-based), capped. */
export function backoffMs(attempt: number, baseMs = 200, maxMs = 5_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
