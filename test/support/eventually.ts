/** Polling for integration tests: replication is asynchronous, so tests wait for a state, not a time. */
import { sleep } from '../../src/core/concurrency.ts';

/**
 * Calls `probe` until `ok` holds for its result or `timeoutMs` passes, and returns the last
 * result either way: the test's own assertion on it then says what was wrong.
 */
export async function eventually<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, intervalMs = 150): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last) && Date.now() < deadline) {
    await sleep(intervalMs);
    last = await probe();
  }
  return last;
}
