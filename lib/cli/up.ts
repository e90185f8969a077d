/**
 * `regionsync up`: deploy every region stack to an emulator with the CDK, then run the deployed
 * functions in the local runtime until stopped. `--no-runtime` only deploys (LocalStack runs
 * Lambdas itself).
 */
import { startRuntime, type LocalRuntime } from '../../local/runtime.ts';
import { validateConfig } from '../config/validate.ts';
import { configPath, loadConfig } from '../config/load.ts';
import type { ResolvedConfig } from '../config/schema.ts';
import { MetricCollector } from '../ops/emf.ts';
import { deploy } from './deploy.ts';

export interface UpOptions {
  readonly endpoint: string;
  readonly configFile?: string;
  readonly runtime?: boolean;
  readonly verbose?: boolean;
  readonly log?: (line: string) => void;
}

export interface Running {
  readonly config: ResolvedConfig;
  readonly regions: readonly string[];
  readonly runtime?: LocalRuntime;
  readonly metrics: MetricCollector;
  stop(): Promise<void>;
}

/** Deploys and (unless runtime is false) starts the runtime; resolves once replication is live. */
export async function bringUp(opts: UpOptions): Promise<Running> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const configFile = configPath(opts.configFile);
  const config = validateConfig(await loadConfig(configFile));
  const regions = config.regions.map((r) => r.region);
  await deploy({ endpoint: opts.endpoint, configFile, regions, log, verbose: opts.verbose });
  const metrics = new MetricCollector();
  if (opts.runtime === false) return { config, regions, metrics, stop: async () => undefined };
  const runtime = await startRuntime({
    endpoint: opts.endpoint,
    regions,
    verbose: opts.verbose,
    onLog: (_fn, line) => metrics.accept(line),
  });
  await runtime.ready;
  return { config, regions, runtime, metrics, stop: () => runtime.stop() };
}

export async function upCommand(opts: UpOptions): Promise<void> {
  const running = await bringUp(opts);
  const tables = running.config.tables.map((t) => t.name).join(', ');
  if (!running.runtime) {
    console.log(`deployed ${tables} to ${running.regions.join(', ')} at ${opts.endpoint}; --no-runtime: the emulator runs the functions`);
    return;
  }
  console.log(`ready: replicating ${tables} across ${running.regions.join(', ')} via ${opts.endpoint} (${running.runtime.functions.length} functions; Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`${signal}: stopping the local runtime`);
      void running.stop().then(resolve, (e: unknown) => {
        console.error(e);
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
