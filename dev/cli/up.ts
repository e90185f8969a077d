/**
 * `regionsync up`: deploy every region stack to an emulator with the CDK, then run the deployed
 * functions in the local runtime until stopped. `--no-runtime` only deploys (LocalStack runs
 * Lambdas itself).
 */
import { refuseDispatchingEmulator, startRuntime, type LocalRuntime, type RuntimeOptions } from '../local/runtime.ts';
import { startAwsProxy, type AwsProxy } from '../local/aws-proxy.ts';
import { Chaos, chaosFunctionCredentials, parseChaosSpec } from '../local/chaos.ts';
import { validateConfig } from '../../src/infra/config/validate.ts';
import { configPath, loadConfig } from '../../src/infra/config/load.ts';
import type { ResolvedConfig } from '../../src/infra/config/schema.ts';
import { MetricCollector } from '../../src/ops/emf.ts';
import { AlarmEvaluator } from '../local/alarm-evaluator.ts';
import { deploy } from './deploy.ts';
import { type consoleSettings, serveConsole, untilStopped } from '../../src/cli/console.ts';

export interface UpOptions {
  readonly endpoint: string;
  readonly configFile?: string;
  readonly runtime?: boolean;
  readonly verbose?: boolean;
  readonly log?: (line: string) => void;
  /** Fault spec (dev/local/chaos.ts): the runtime's and the functions' calls go through a fault-injecting proxy. */
  readonly chaos?: string;
  /** Local state directory of the runtime (default `.regionsync`). */
  readonly stateDir?: string;
  /**
   * Create the app's alarms in the emulator and evaluate them (dev/local/alarm-evaluator.ts): moto
   * does neither. `up` and the console turn it on; tests that count alarms firing keep it off.
   * @default false
   */
  readonly alarms?: boolean;
}

export interface Running {
  readonly config: ResolvedConfig;
  readonly regions: readonly string[];
  readonly runtime?: LocalRuntime;
  readonly metrics: MetricCollector;
  /** With `chaos`: the faults in force (change them at any time) and the proxy applying them. */
  readonly chaos?: Chaos;
  readonly proxy?: AwsProxy;
  /** With `alarms`: the alarm evaluator. */
  readonly alarms?: AlarmEvaluator;
  stop(): Promise<void>;
}

/** Deploys and (unless runtime is false) starts the runtime; resolves once replication is live. */
export async function bringUp(opts: UpOptions): Promise<Running> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const configFile = configPath(opts.configFile);
  const config = validateConfig(await loadConfig(configFile));
  const regions = config.regions.map((r) => r.region);
  // Before deploying: an emulator that would drop the stream records is refused with the fix.
  if (opts.runtime !== false) await refuseDispatchingEmulator(opts.endpoint);
  await deploy({ endpoint: opts.endpoint, configFile, regions, log, verbose: opts.verbose });
  if (opts.runtime === false) return { config, regions, metrics: new MetricCollector(), stop: async () => undefined };
  return startLocal({ ...opts, config, regions });
}

export interface StartLocalOptions extends Omit<UpOptions, 'configFile' | 'runtime' | 'log'> {
  /** The deployed app's configuration. */
  readonly config: ResolvedConfig;
  readonly regions: readonly string[];
  /** Run only these functions (tests sharing one deployment run their own tables'). @default every function in `regions` */
  readonly include?: RuntimeOptions['include'];
  /** @default true */
  readonly publishMetrics?: boolean;
  /** The runtime's own messages (default: warnings and errors to stderr). */
  readonly logger?: RuntimeOptions['logger'];
}

/** Starts the local runtime (behind the chaos proxy with `chaos`) on what is deployed; resolves once replication is live. */
export async function startLocal(opts: StartLocalOptions): Promise<Running> {
  const { config, regions } = opts;
  const metrics = new MetricCollector();
  // Under chaos every call the runtime and the functions make passes the proxy; each function
  // signs with its own key, so a fault can tell its region from the region it calls.
  const chaos = opts.chaos !== undefined ? new Chaos(parseChaosSpec(opts.chaos)) : undefined;
  const proxy = chaos ? await startAwsProxy({ target: opts.endpoint, hooks: chaos }) : undefined;
  const runtime = await startRuntime({
    endpoint: proxy?.endpoint ?? opts.endpoint,
    regions,
    verbose: opts.verbose,
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
    ...(opts.include ? { include: opts.include } : {}),
    ...(opts.publishMetrics === false ? { publishMetrics: false } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(chaos ? { functionCredentials: chaosFunctionCredentials, onInvocationStart: chaos.invocationStarted } : {}),
    onLog: (_fn, line) => metrics.accept(line),
  });
  await runtime.ready;
  // It reads the emulator directly, never through the chaos proxy: a cut region's alarms still evaluate.
  const alarms = opts.alarms
    ? await AlarmEvaluator.start({ endpoint: opts.endpoint, appName: config.appName, regions, ...(opts.logger ? { log: opts.logger } : {}) })
    : undefined;
  const stop = async () => {
    chaos?.heal();
    await alarms?.stop();
    await runtime.stop();
    await proxy?.stop();
  };
  return { config, regions, runtime, metrics, ...(chaos && proxy ? { chaos, proxy } : {}), ...(alarms ? { alarms } : {}), stop };
}

export async function upCommand(opts: UpOptions & { console?: ConsoleSettings }): Promise<void> {
  const running = await bringUp(opts);
  const tables = running.config.tables.map((t) => t.name).join(', ');
  if (!running.runtime) {
    console.log(`deployed ${tables} to ${running.regions.join(', ')} at ${opts.endpoint}; --no-runtime: the emulator runs the functions`);
    return;
  }
  console.log(
    `ready: replicating ${tables} across ${running.regions.join(', ')} via ${opts.endpoint} (${running.runtime.functions.length} functions; Ctrl-C to stop)`,
  );
  if (running.chaos) console.log(`chaos: ${running.chaos.active.length} fault(s) through ${running.proxy!.endpoint}: ${opts.chaos}`);
  if (running.alarms) console.log(`alarms: ${running.alarms.alarms.length} created in the emulator and evaluated every 10 s`);
  const server = opts.console ? await serveConsole({ config: running.config, endpoint: opts.endpoint, ...opts.console }) : undefined;
  if (server) console.log(`console: ${server.url}`);
  const signal = await untilStopped();
  console.log(`${signal}: stopping the local runtime`);
  await server?.close();
  await running.stop().catch((e: unknown) => console.error(e));
}

/** The console's settings (src/cli/console.ts consoleSettings). */
export type ConsoleSettings = ReturnType<typeof consoleSettings>;
