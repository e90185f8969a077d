/**
 * `regionsync console [--endpoint URL] [--config FILE | --app NAME] [--port N] [--host H] [--refresh S] [--minutes M]`:
 * a local web page with the app's deployed CloudWatch dashboards (the ones the CDK app synthesizes),
 * live: metric widgets from GetMetricData, alarm widgets from DescribeAlarms, alarm state changes
 * as they happen (src/ops/console.ts, console-server.ts). Runs until Ctrl-C.
 */
import { COMMON_OPTIONS, defineCommand, UsageError } from './command.ts';
import { loadResolvedConfig, positiveInteger } from './ops-common.ts';
import { targetOf } from '../ops/aws.ts';
import { ConsoleSource } from '../ops/console.ts';
import { type ConsoleServer, MAX_MINUTES, startConsoleServer } from '../ops/console-server.ts';
import type { ResolvedConfig } from '../infra/config/schema.ts';

/** What {@link serveConsole} needs: the app's config, where to read, where to listen. */
export interface ConsoleServeOptions {
  readonly config: ResolvedConfig;
  /** An emulator endpoint. @default AWS */
  readonly endpoint?: string;
  /** @default 8080 */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** @default 5 */
  readonly refreshSeconds?: number;
  /** @default 30 */
  readonly minutes?: number;
}

/** Starts the console over the app's dashboards; what `regionsync console`, `up --console` and `demo --console` run. */
export async function serveConsole(o: ConsoleServeOptions): Promise<ConsoleServer> {
  const source = new ConsoleSource({ config: o.config, ...targetOf(o.config, o.endpoint) });
  // State changes are recorded as they happen, whether or not a page is open.
  source.watchAlarms((o.refreshSeconds ?? 5) * 1000);
  const server = await startConsoleServer({
    source,
    appName: o.config.appName,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.host ? { host: o.host } : {}),
    ...(o.refreshSeconds ? { refreshSeconds: o.refreshSeconds } : {}),
    ...(o.minutes ? { minutes: o.minutes } : {}),
  });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      source.close();
    },
  };
}

/** A `--port` value: a whole number from 0 (any free port) to 65535; anything else is a UsageError naming it. */
export function portOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, got "${value}"`);
  return n;
}

/** The console's own options, shared with `up --console` and `demo --console` (dev/cli). */
export const CONSOLE_OPTIONS = {
  port: { type: 'string', value: 'N', default: '8080', description: 'the port the console listens on (0: any free port)' },
  host: { type: 'string', value: 'HOST', default: '127.0.0.1', description: 'the address it listens on (0.0.0.0 to be reached from other machines)' },
  refresh: { type: 'string', value: 'S', default: '5', description: "seconds between the page's refreshes" },
  minutes: { type: 'string', value: 'M', default: '30', description: `minutes of metrics the page shows at first (1 to ${MAX_MINUTES})` },
} as const;

/** The console's options from parsed values (`--port`, `--host`, `--refresh`, `--minutes`); bad values are UsageErrors naming them. */
export function consoleSettings(values: { port?: string | undefined; host?: string | undefined; refresh?: string | undefined; minutes?: string | undefined }) {
  const minutes = positiveInteger('minutes', values.minutes);
  if (minutes !== undefined && minutes > MAX_MINUTES) throw new UsageError(`--minutes must be at most ${MAX_MINUTES}, got "${values.minutes}"`);
  const refreshSeconds = positiveInteger('refresh', values.refresh);
  const port = portOption(values.port);
  return {
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(refreshSeconds ? { refreshSeconds } : {}),
    ...(minutes ? { minutes } : {}),
  };
}

/** Resolves when the process gets SIGINT or SIGTERM. */
export function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

/** `regionsync console`: serves the page until Ctrl-C. */
export const consoleCommand = defineCommand({
  name: 'console',
  summary: "a local web page with the app's dashboards, live: lag, backlog, DLQ depth, conflicts, alarms and their state changes",
  description: `Renders the CloudWatch dashboards the CDK app deployed (<app>-global and <app>-<region>), read with
GetDashboard, their metrics with GetMetricData and their alarms with DescribeAlarms, refreshed every
--refresh seconds. Works against AWS and an emulator (--endpoint); on moto, \`regionsync up\` evaluates
the alarms (docs/console.md).`,
  options: {
    endpoint: COMMON_OPTIONS.endpoint,
    config: COMMON_OPTIONS.config,
    app: COMMON_OPTIONS.app,
    'app-region': COMMON_OPTIONS['app-region'],
    ...CONSOLE_OPTIONS,
  },
  run: async (values, _positionals, { out }) => {
    const settings = consoleSettings(values);
    const config = await loadResolvedConfig(values);
    const server = await serveConsole({ config, ...(values.endpoint ? { endpoint: values.endpoint } : {}), ...settings });
    out(`regionsync console: ${server.url} (${config.appName}${values.endpoint ? ` via ${values.endpoint}` : ''}; Ctrl-C to stop)\n`);
    const signal = await untilStopped();
    out(`${signal}: stopping the console\n`);
    await server.close();
    return 0;
  },
});
