/**
 * `regionsync status [--endpoint URL] [--config FILE] [--watch] [--interval S] [--window MIN] [--json] [--no-color]`:
 * every pair's lag, backlog and dead-letter queue at a glance (see src/ops/status.ts).
 * Exit code 0 when healthy, 1 when a threshold is breached, an alarm fires or a table is fenced
 * (the last refresh's, with --watch), so scripts can use it as a check.
 */
import { COMMON_OPTIONS, defineCommand, UsageError } from './command.ts';
import { loadResolvedConfig } from './ops-common.ts';
import { targetOf } from '../ops/aws.ts';
import { collectStatus, type StatusReport } from '../ops/status.ts';
import { renderStatusText } from '../ops/status-render.ts';
import { sleep } from '../core/concurrency.ts';

/** `regionsync status`: renders {@link collectStatus} once, or every `--interval` with `--watch`; exit 0 when healthy, 1 otherwise. */
export const statusCommand = defineCommand({
  name: 'status',
  summary: "every pair's replication lag (p50/p99/max), backlog and DLQ depth, parked changes, alarms and fences; breaches highlighted",
  description: `Exit code 0 when healthy, 1 when a threshold is breached, an alarm fires or a table is fenced
(the last refresh's, with --watch), so scripts can use it as a check.`,
  options: {
    endpoint: COMMON_OPTIONS.endpoint,
    config: COMMON_OPTIONS.config,
    app: COMMON_OPTIONS.app,
    'app-region': COMMON_OPTIONS['app-region'],
    watch: { type: 'boolean', description: 'refresh every --interval seconds until Ctrl-C' },
    interval: { type: 'string', value: 'S', default: '10', description: 'seconds between refreshes with --watch' },
    window: { type: 'string', value: 'MIN', default: '5', description: 'minutes of metrics to summarize (1 to 1440)' },
    json: { type: 'boolean', description: 'print one JSON document' },
    'no-color': { type: 'boolean', description: 'plain text (also when NO_COLOR is set or stdout is not a terminal)' },
  },
  run: async (values, _positionals, { out }) => {
    const interval = Number(values.interval);
    const windowMinutes = Number(values.window);
    if (!(interval > 0)) throw new UsageError(`--interval must be a positive number of seconds (got ${values.interval})`);
    if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 1440)
      throw new UsageError(`--window must be a whole number of minutes from 1 to 1440 (got ${values.window})`);
    const config = await loadResolvedConfig(values);
    const color = !values['no-color'] && !values.json && process.stdout.isTTY === true && !process.env.NO_COLOR;
    const once = async (): Promise<StatusReport> => {
      const report = await collectStatus({ config, ...targetOf(config, values.endpoint), windowMinutes });
      if (values.json) out(`${JSON.stringify(report, null, values.watch ? undefined : 2)}\n`);
      else out(`${values.watch && color ? '\x1b[2J\x1b[H' : ''}${renderStatusText(report, { color })}\n`);
      return report;
    };
    let report = await once();
    if (!values.watch) return report.healthy ? 0 : 1;
    // Ctrl-C ends the wait at once, not at the next refresh.
    const stopped = new AbortController();
    process.once('SIGINT', () => stopped.abort());
    while (!stopped.signal.aborted) {
      await sleep(interval * 1000, stopped.signal);
      if (!stopped.signal.aborted) report = await once();
    }
    return report.healthy ? 0 : 1;
  },
});

/** `regionsync status`, writing to `out` (tests). */
export function statusMain(args: string[], out?: (s: string) => void): Promise<number> {
  return statusCommand.run(args, out ? { out } : {});
}
