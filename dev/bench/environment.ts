/**
 * The bench's deployment: moto (its own, unless an endpoint is given), the counting proxy in
 * front of it, the region stacks deployed with the real CDK, and the local runtime running the
 * deployed shipper and applier with a distinct access key per function, so that every AWS call
 * they make is attributed to its function and region by the proxy.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startAwsProxy, type AwsProxy } from '../local/aws-proxy.ts';
import { startMoto, type MotoServer } from '../local/moto.ts';
import { startRuntime, type InvocationInfo, type LocalRuntime } from '../local/runtime.ts';
import { deploy } from '../cli/deploy.ts';
import { PROJECT_ROOT } from '../../src/project-root.ts';
import { functionKeyId, LAMBDA_SERVICE_KEY, RequestStats } from './request-stats.ts';
import { ENV } from '../../src/core/contract.ts';

export interface EnvironmentOptions {
  /** Use this emulator instead of starting moto. */
  readonly endpoint?: string;
  readonly appName: string;
  readonly tableName: string;
  readonly partitionKey: string;
  readonly regions: readonly string[];
  readonly log: (line: string) => void;
  readonly verbose?: boolean;
  /** The table's batching windows (stream and queue), seconds. @default 0 */
  readonly batchingWindowSeconds?: number;
}

export interface Invocation extends InvocationInfo {
  readonly role: string;
  readonly at: number;
  readonly memoryMb: number;
}

export interface Environment {
  /** The emulator itself: the writer and the observer talk to it directly (not counted). */
  readonly endpoint: string;
  readonly proxy: AwsProxy;
  readonly stats: RequestStats;
  readonly runtime: LocalRuntime;
  readonly invocations: Invocation[];
  /** Lines functions logged at level ERROR (a healthy run has none). */
  readonly functionErrors: string[];
  readonly deploySeconds: number;
  /** Lambda memory per role, as deployed. */
  readonly memoryMb: Readonly<Record<string, number>>;
  /** Stops the functions (as if Lambda stopped polling); changes wait in streams and queues. */
  pause(): Promise<void>;
  /** Starts them again, from their checkpoints. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEnvironment(o: EnvironmentOptions): Promise<Environment> {
  const moto: MotoServer | undefined = o.endpoint ? undefined : await startMoto();
  const endpoint = o.endpoint ?? moto!.endpoint;
  const work = await mkdtemp(path.join(tmpdir(), `${o.appName}-`));
  let proxy: AwsProxy | undefined;
  let runtime: LocalRuntime | undefined;
  const cleanup = async () => {
    await runtime?.stop();
    await proxy?.stop();
    await moto?.stop();
    await rm(work, { recursive: true, force: true });
  };
  try {
    o.log(`emulator ${endpoint}${moto ? ' (moto, started for this run)' : ''}`);
    const configFile = path.join(work, 'bench.config.mjs');
    await writeFile(configFile, benchConfigSource(o));
    const outputDir = path.join(PROJECT_ROOT, '.regionsync', `cdk.out.${o.appName}`);
    await mkdir(path.dirname(outputDir), { recursive: true });
    const { seconds } = await deploy({ endpoint, configFile, regions: o.regions, log: o.log, verbose: o.verbose, outputDir });

    const stats = new RequestStats();
    proxy = await startAwsProxy({ target: endpoint, hooks: stats });
    const invocations: Invocation[] = [];
    const functionErrors: string[] = [];
    const roles = new Map<string, { role: string; memoryMb: number }>();
    const launch = async (): Promise<LocalRuntime> => {
      const rt = await startRuntime({
        endpoint: proxy!.endpoint,
        regions: o.regions,
        // Its own state: moto restarts its stream sequence numbers, an old checkpoint would skip records.
        // Kept across pause/resume, so a resumed runtime continues after its checkpoints.
        stateDir: path.join(work, 'state'),
        // Only the bench table's shipper and applier: on a shared emulator (`--endpoint`, the
        // bench-smoke test) other apps' functions in these regions are not the bench's to run,
        // and would replay their streams from TRIM_HORIZON into the measured calls.
        include: (fn) => tableOf(fn.environment) === o.tableName,
        poolSize: 2,
        // Queues polled every 50 ms however long they stay empty, as before the runtime's idle
        // backoff: the measured lag and request counts stay comparable with earlier runs.
        queueIdlePollMaxMs: 50,
        // Schedules (the backlog drain) at their own rate, once a minute, as in AWS: their calls are counted.
        scheduleEveryMs: 'rate',
        // CloudWatch extracts EMF from logs in AWS; publishing it to moto would only load the emulator.
        publishMetrics: false,
        credentials: { accessKeyId: LAMBDA_SERVICE_KEY, secretAccessKey: 'bench' },
        functionCredentials: (fn) => {
          const role = roleOf(fn.environment);
          roles.set(`${fn.region}/${fn.name}`, { role, memoryMb: fn.memoryMb });
          return { accessKeyId: functionKeyId(role, fn.region), secretAccessKey: 'bench' };
        },
        onInvoke: (info) => {
          const fn = roles.get(`${info.region}/${info.functionName}`) ?? { role: 'unknown', memoryMb: 0 };
          invocations.push({ ...info, role: fn.role, memoryMb: fn.memoryMb, at: Date.now() });
        },
        onLog: (fnName, line) => {
          if (/"level":"ERROR"/.test(line) && functionErrors.length < 50) functionErrors.push(`${fnName}: ${line.slice(0, 400)}`);
        },
        logger: (level, message) => {
          if (level === 'error') o.log(`runtime ${level}: ${message}`);
        },
      });
      await rt.ready;
      return rt;
    };
    runtime = await launch();
    const memoryMb: Record<string, number> = {};
    for (const { role, memoryMb: m } of roles.values()) memoryMb[role] = m;
    return {
      endpoint,
      proxy,
      stats,
      get runtime() {
        return runtime!;
      },
      invocations,
      functionErrors,
      deploySeconds: seconds,
      memoryMb,
      async pause() {
        await runtime?.stop();
        runtime = undefined;
      },
      async resume() {
        runtime ??= await launch();
      },
      stop: cleanup,
    };
  } catch (e) {
    await cleanup().catch(() => undefined);
    throw e;
  }
}

/** The table a regionsync function replicates (its settings' table name in its region). */
function tableOf(env: Readonly<Record<string, string>>): string | undefined {
  try {
    return (JSON.parse(env[ENV.settings] ?? '{}') as { tableName?: string }).tableName;
  } catch {
    return undefined;
  }
}

function roleOf(env: Readonly<Record<string, string>>): string {
  const service = env.POWERTOOLS_SERVICE_NAME ?? '';
  return service.replace(/^regionsync-/, '') || 'unknown';
}

/** The configuration the bench deploys: one table replicated across the bench's regions. */
export function benchConfigSource(o: Pick<EnvironmentOptions, 'appName' | 'tableName' | 'partitionKey' | 'regions' | 'batchingWindowSeconds'>): string {
  const window = o.batchingWindowSeconds ?? 0;
  const config = {
    appName: o.appName,
    regions: o.regions,
    tables: [
      {
        name: o.tableName,
        partitionKey: { name: o.partitionKey, type: 'string' },
        ...(window > 0 ? { batchingWindowSeconds: { stream: window, queue: window } } : {}),
      },
    ],
  };
  return `// Written by npm run bench.\nexport default ${JSON.stringify(config, null, 2)};\n`;
}
