/**
 * How long the Lambda mappings gather records before an invocation, from the replication lag a
 * table accepts (its `lagBudgetMs`, p99). Pure; the CDK app and the bench share it.
 *
 * A batching window trades lag for cost: on a table written slowly, each poll of its stream finds a
 * few records, and every invocation pays one message, one receive and one delete per target region
 * and a wait for the slowest cross-region send. A window gathers a second's (or more) records into
 * one batch; under load, batches fill before the window ends and it adds nothing. Lambda takes whole
 * seconds (0-300), so a window costs at least one second of lag at p99: the default budget (1 s)
 * allows none. The stream window comes first: it cuts the shipper's invocations and the messages,
 * and so the appliers' invocations too. A queue window only helps beyond it (messages arrive once
 * per stream window), for little (docs/benchmarks.md, "Batching windows: cost against lag").
 */

/** The default budget: replication lag p99 within a second, as the user asked. */
export const DEFAULT_LAG_BUDGET_MS = 1000;
/**
 * Modelled p99 lag with no window, writes in us-east-1 to eu-west-1 and ap-southeast-1 (published
 * Streams→Lambda and SQS→Lambda latencies, round trips, measured handler time: the bench's cloud
 * lag model, 966-1,054 ms at 10-30 items/s). A window must fit in the budget beside it.
 */
export const UNBATCHED_P99_MS = 1000;
/** Lambda's MaximumBatchingWindowInSeconds: whole seconds up to 300. */
export const MAX_BATCHING_WINDOW_SECONDS = 300;

/** Lambda's MaximumBatchingWindowInSeconds on the shipper's stream mapping and the applier's inbound queue mapping, seconds. */
export interface BatchingWindows {
  readonly stream: number;
  readonly queue: number;
}

/** The windows a lag budget allows: the whole seconds left beside the unbatched lag, all on the stream. */
export function batchingWindowsFor(lagBudgetMs: number): BatchingWindows {
  const spare = Math.floor((lagBudgetMs - UNBATCHED_P99_MS) / 1000);
  return { stream: Math.max(0, Math.min(MAX_BATCHING_WINDOW_SECONDS, spare)), queue: 0 };
}

/** The p99 lag the windows are expected to add up to: each hop may wait its whole window. */
export function modelledP99Ms(w: BatchingWindows): number {
  return UNBATCHED_P99_MS + (w.stream + w.queue) * 1000;
}
