/**
 * One `cdk deploy` for every integration file that only needs tables of its own.
 *
 * A deploy to moto takes one to two minutes, mostly fixed costs (synth, bundling, asset
 * publishing, one stack per region), so instead of a deploy per file, the app in
 * test/integ/fixtures/shared.config.ts holds every such file's tables and is deployed once per
 * run, by whichever file asks first; the others find it deployed. Each file stays independent:
 * it writes only to its own tables and runs a local runtime (and, for faults, a chaos proxy) of
 * its own that runs only its own tables' functions, from a fresh state directory.
 *
 * To add a file that reuses it:
 *   1. add its tables to fixtures/shared.config.ts, named with a prefix of its own, `regions` as needed;
 *   2. in its beforeAll:
 *        const { endpoint, config } = await sharedDeployment();
 *        running = await startSharedRuntime({ endpoint, config, tables: ['myprefix_items'] });
 *      and in afterAll `await running?.stop()`; use `sharedTable(config, name)` for the table's
 *      resolved config (waitConverged, opsTable), SHARED_CONFIG for CLI `--config`, SHARED_APP for queue names.
 * Give a file its own deployment only when it changes what is deployed (redeploys another
 * config, deletes stacks) or asserts on app-wide resources (dashboards, alarm topics, `status`
 * of the whole app).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inject } from 'vitest';
import { ENV } from '../../src/core/contract.ts';
import { deploy } from '../../dev/cli/deploy.ts';
import { startLocal, type Running, type StartLocalOptions } from '../../dev/cli/up.ts';
import { loadConfig } from '../../src/infra/config/load.ts';
import { physicalTableName, type ResolvedConfig, type ResolvedTableConfig } from '../../src/infra/config/schema.ts';
import { validateConfig } from '../../src/infra/config/validate.ts';
import type { FunctionInfo } from '../../dev/local/discovery.ts';
import { sleep } from '../../src/core/concurrency.ts';

export const SHARED_CONFIG = path.resolve(import.meta.dirname, '../integ/fixtures/shared.config.ts');
export const SHARED_APP = 'integshared';

/** How long a file waits for another one's deploy of the shared app (files run one at a time today). */
const LOCK_WAIT_MS = 10 * 60_000;

export interface SharedDeployment {
  readonly endpoint: string;
  readonly config: ResolvedConfig;
}

/** The shared app, deployed to the run's emulator: by this call if no file of this run has deployed it yet. */
export async function sharedDeployment(): Promise<SharedDeployment> {
  const endpoint = inject('endpoint');
  const runDir = inject('runDir');
  const config = validateConfig(await loadConfig(SHARED_CONFIG));
  if (config.appName !== SHARED_APP) throw new Error(`${SHARED_CONFIG}: appName must be ${SHARED_APP}`);
  // Keyed by the config's content: a run never reuses a deployment of another version of it.
  const key = createHash('sha256')
    .update(`${endpoint}\0${await readFile(SHARED_CONFIG, 'utf8')}`)
    .digest('hex')
    .slice(0, 12);
  const done = path.join(runDir, `shared-${key}.done`);
  if (!existsSync(done)) {
    await withLock(path.join(runDir, `shared-${key}.lock`), async () => {
      if (existsSync(done)) return;
      const regions = config.regions.map((r) => r.region);
      const { seconds } = await deploy({
        endpoint,
        configFile: SHARED_CONFIG,
        regions,
        log: () => undefined,
        outputDir: path.join('.regionsync', `cdk.out.${SHARED_APP}`),
      });
      await writeFile(done, JSON.stringify({ seconds }));
    });
  }
  return { endpoint, config };
}

export function sharedTable(config: ResolvedConfig, name: string): ResolvedTableConfig {
  const table = config.tables.find((t) => t.name === name);
  if (!table) throw new Error(`no table ${name} in ${SHARED_CONFIG}`);
  return table;
}

export interface SharedRuntimeOptions extends Omit<StartLocalOptions, 'regions' | 'include'> {
  /** The tables (config names) whose functions this runtime runs. */
  readonly tables: readonly string[];
  /** @default every region of those tables */
  readonly regions?: readonly string[];
  /** Checkpoints and code cache, e.g. to resume a stopped runtime's streams; the caller removes it. @default a fresh directory, removed by stop() */
  readonly stateDir?: string;
}

/**
 * The local runtime for some of the shared app's tables: only their shippers and appliers run,
 * by default from a state directory of its own (removed by stop()), so streams are read from their start.
 */
export async function startSharedRuntime(opts: SharedRuntimeOptions): Promise<Running> {
  const tables = opts.tables.map((name) => sharedTable(opts.config, name));
  const regions = opts.regions ?? [...new Set(tables.flatMap((t) => t.regions))];
  const ownState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? (await mkdtemp(path.join(tmpdir(), 'regionsync-shared-')));
  const removeState = async () => {
    if (ownState) await rm(stateDir, { recursive: true, force: true });
  };
  try {
    const running = await startLocal({ ...opts, regions, stateDir, include: servesOneOf(tables) });
    return {
      ...running,
      stop: async () => {
        await running.stop();
        await removeState();
      },
    };
  } catch (e) {
    await removeState();
    throw e;
  }
}

/** Accepts the functions that replicate one of `tables` (each function's settings name its table in its region). */
export function servesOneOf(tables: readonly ResolvedTableConfig[]): (fn: FunctionInfo) => boolean {
  return (fn) => {
    let tableName: string | undefined;
    try {
      tableName = (JSON.parse(fn.environment[ENV.settings] ?? '{}') as { tableName?: string }).tableName;
    } catch {
      return false;
    }
    return tables.some((t) => t.regions.includes(fn.region) && physicalTableName(t, fn.region) === tableName);
  };
}

/** Runs `fn` holding a lock directory (mkdir is atomic), so that two files never deploy the shared app at once. */
async function withLock(lock: string, fn: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  await mkdir(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (Date.now() > deadline) throw new Error(`waited ${LOCK_WAIT_MS / 1000} s for ${lock}: another file's deploy of the shared app did not finish`);
      await sleep(500);
    }
  }
  try {
    await fn();
  } finally {
    await rmdir(lock);
  }
}
