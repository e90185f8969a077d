/**
 * Runs one deployed Lambda function locally. Each execution environment is a
 * worker_threads Worker (dev/local/worker.mjs) with its own globals, module cache and
 * process.env, so functions cannot see each other's state or environment variables.
 * An environment runs one invocation at a time, as in Lambda; `poolSize` environments
 * may run side by side. A timed-out or crashed environment is thrown away and a fresh one
 * starts on the next invocation (a cold start, as in Lambda).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Credentials } from './clients.ts';
import { EMULATOR_CREDENTIALS } from '../../src/ops/aws.ts';
import { forEachLine } from './lines.ts';
import { PROJECT_ROOT } from '../../src/project-root.ts';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker.mjs', import.meta.url));
/** The project's node_modules: plays the AWS SDK that the Lambda Node.js runtime provides. */
const DEFAULT_NODE_PATH = [path.join(PROJECT_ROOT, 'node_modules')].filter((p) => existsSync(p));
/** Lambda gives the init phase its own 10 s, outside the function timeout. */
const INIT_TIMEOUT_MS = 10_000;

export interface HostedFunction {
  readonly name: string;
  readonly region: string;
  readonly arn?: string;
  readonly handler: string;
  readonly runtime?: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly environment: Readonly<Record<string, string>>;
  /** Directory holding the unzipped bundle. */
  readonly codeDir: string;
}

export interface LogMeta {
  readonly region: string;
  readonly stream: 'stdout' | 'stderr';
}

export type LogHandler = (functionName: string, line: string, meta: LogMeta) => void;

export interface FunctionHostOptions {
  /** Emulator endpoint, given to the function as AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  /** Credentials for the function unless its environment sets its own (default test/test). */
  readonly credentials?: Credentials;
  /** Receives every line the function writes to stdout/stderr. */
  readonly onLog?: LogHandler;
  /** Also print the lines, prefixed with [region/function]. */
  readonly verbose?: boolean;
  /** Execution environments that may run at once (default 1). */
  readonly poolSize?: number;
  /** Module directories for NODE_PATH (default: the project's node_modules). */
  readonly nodePath?: readonly string[];
  /**
   * Told as each invocation starts in its environment (fault injection: chaos.ts `crash`);
   * returns what to call when the invocation ends.
   */
  readonly onInvocationStart?: (invocation: RunningInvocation) => (() => void) | undefined;
}

/** An invocation in progress, as `onInvocationStart` sees it. */
export interface RunningInvocation {
  readonly fn: HostedFunction;
  readonly requestId: string;
  /** The invocation started a fresh execution environment. */
  readonly coldStart: boolean;
  /**
   * Ends the environment abruptly, as SIGKILL or running out of memory does: the invocation
   * fails with Runtime.ExitError and the next one cold-starts. What the handler did so far stays done.
   */
  crash(): void;
}

export interface InvokeError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly stackTrace?: readonly string[];
}

export type InvokeOutcome =
  | { readonly ok: true; readonly result: unknown; readonly requestId: string; readonly durationMs: number }
  | {
      readonly ok: false;
      readonly error: InvokeError;
      readonly requestId: string;
      readonly durationMs: number;
      readonly timedOut: boolean;
    };

export class FunctionHost {
  private readonly slots: Slot[];
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private readonly inFlightSet = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(
    readonly fn: HostedFunction,
    options: FunctionHostOptions,
  ) {
    const env = lambdaEnvironment(fn, options);
    const log = (line: string, stream: 'stdout' | 'stderr'): void => {
      options.onLog?.(fn.name, line, { region: fn.region, stream });
      if (options.verbose) (stream === 'stderr' ? process.stderr : process.stdout).write(`[${fn.region}/${fn.name}] ${line}\n`);
    };
    this.slots = Array.from({ length: Math.max(1, options.poolSize ?? 1) }, () => new Slot(fn, env, log, options.onInvocationStart));
  }

  /** Invocations running or waiting for an execution environment. */
  get inFlight(): number {
    return this.inFlightSet.size;
  }

  /** Invokes the function synchronously (RequestResponse). Never rejects for a function error. */
  invoke(event: unknown): Promise<InvokeOutcome> {
    if (this.stopping) return Promise.reject(new Error(`function ${this.fn.name} (${this.fn.region}) is stopping`));
    const run = (async () => {
      const slot = await this.acquire();
      try {
        return await slot.invoke(JSON.stringify(event));
      } finally {
        this.release(slot);
      }
    })();
    this.inFlightSet.add(run);
    void run.finally(() => this.inFlightSet.delete(run)).catch(() => undefined);
    return run;
  }

  /** Lets running invocations finish, then ends every execution environment. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inFlightSet]);
    await Promise.all(this.slots.map((s) => s.terminate()));
  }

  private acquire(): Promise<Slot> {
    const idle = this.slots.find((s) => !s.busy);
    if (idle) {
      idle.busy = true;
      return Promise.resolve(idle);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else slot.busy = false;
  }
}

type Settled = { ok: true; result: unknown } | { ok: false; error: InvokeError; timedOut: boolean };

interface Pending {
  readonly id: string;
  readonly settle: (outcome: Settled) => void;
}

/** One execution environment: at most one worker, at most one invocation at a time. */
class Slot {
  busy = false;
  private worker?: Worker;
  private ready?: Promise<InvokeError | undefined>;
  private pending?: Pending;

  constructor(
    private readonly fn: HostedFunction,
    private readonly env: Record<string, string>,
    private readonly log: (line: string, stream: 'stdout' | 'stderr') => void,
    private readonly onInvocationStart?: FunctionHostOptions['onInvocationStart'],
  ) {}

  async invoke(payload: string): Promise<InvokeOutcome> {
    const requestId = randomUUID();
    const started = Date.now();
    const coldStart = !this.worker;
    const initError = await this.start();
    if (initError) {
      // Lambda resets an environment whose init failed; the next invocation tries again.
      await this.terminate();
      return { ok: false, error: initError, requestId, durationMs: Date.now() - started, timedOut: false };
    }
    const worker = this.worker!;
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const ended = this.onInvocationStart?.({ fn: this.fn, requestId, coldStart, crash: () => this.crash(worker, requestId) });
    const outcome = await new Promise<Settled>((resolve) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        resolve({
          ok: false,
          timedOut: true,
          error: { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds` },
        });
        // The handler may still be running: only a new environment is safe.
        void this.terminate();
      }, timeoutMs);
      this.pending = {
        id: requestId,
        settle: (o) => {
          clearTimeout(timer);
          this.pending = undefined;
          resolve(o);
        },
      };
      worker.postMessage({ type: 'invoke', id: requestId, payload, requestId, deadline });
    });
    ended?.();
    return { ...outcome, requestId, durationMs: Date.now() - started } as InvokeOutcome;
  }

  /** The runtime process dies mid-invocation (killed): no result, the environment is gone. */
  private crash(worker: Worker, requestId: string): void {
    const pending = this.pending;
    if (this.worker !== worker || pending?.id !== requestId) return;
    this.worker = undefined;
    this.ready = undefined;
    // What Lambda reports (and logs) for a runtime killed by a signal, e.g. out of memory.
    const errorMessage = `RequestId: ${requestId} Error: Runtime exited with error: signal: killed`;
    this.log(errorMessage, 'stderr');
    this.log('Runtime.ExitError', 'stderr');
    pending.settle({ ok: false, timedOut: false, error: { errorType: 'Runtime.ExitError', errorMessage } });
    void worker.terminate();
  }

  async terminate(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    if (worker) await worker.terminate();
  }

  /** Starts the worker if needed; resolves to the init error, if init failed. */
  private start(): Promise<InvokeError | undefined> {
    if (this.worker && this.ready) return this.ready;
    const worker = new Worker(WORKER_SCRIPT, {
      env: this.env,
      // Bare node: the worker script is plain JS, and the host's loaders (tsx) are not the function's.
      execArgv: [],
      stdout: true,
      stderr: true,
      workerData: {
        codeDir: this.fn.codeDir,
        handler: this.fn.handler,
        functionName: this.fn.name,
        functionVersion: '$LATEST',
        functionArn: this.fn.arn ?? '',
        memoryMb: this.fn.memoryMb,
        logGroupName: this.env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: this.env.AWS_LAMBDA_LOG_STREAM_NAME,
      },
    });
    this.worker = worker;
    forEachLine(worker.stdout, (line) => this.log(line, 'stdout'));
    forEachLine(worker.stderr, (line) => this.log(line, 'stderr'));

    this.ready = new Promise<InvokeError | undefined>((resolve) => {
      const initTimer = setTimeout(
        () => resolve({ errorType: 'Runtime.InitTimeout', errorMessage: `Init did not finish within ${INIT_TIMEOUT_MS / 1000} seconds` }),
        INIT_TIMEOUT_MS,
      );
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') {
          clearTimeout(initTimer);
          resolve(undefined);
        } else if (msg.type === 'init-error') {
          clearTimeout(initTimer);
          resolve(msg.error);
        } else if (msg.type === 'result' && this.worker === worker && this.pending?.id === msg.id) {
          this.pending.settle(msg.ok ? { ok: true, result: JSON.parse(msg.payload) } : { ok: false, error: msg.error, timedOut: false });
        }
      });
      // An uncaught exception or unhandled rejection ends the worker, as it ends a Lambda runtime.
      worker.on('error', (err: Error) => {
        clearTimeout(initTimer);
        const error: InvokeError = { errorType: err.name || 'Runtime.ExitError', errorMessage: err.message };
        resolve(error);
        if (this.worker === worker) {
          this.pending?.settle({ ok: false, error, timedOut: false });
          this.worker = undefined;
          this.ready = undefined;
        }
      });
      worker.on('exit', (code) => {
        clearTimeout(initTimer);
        const error: InvokeError = { errorType: 'Runtime.ExitError', errorMessage: `RequestId: exited with code ${code}` };
        resolve(error);
        if (this.worker === worker) {
          this.pending?.settle({ ok: false, error, timedOut: false });
          this.worker = undefined;
          this.ready = undefined;
        }
      });
    });
    return this.ready;
  }
}

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-error'; error: InvokeError }
  | { type: 'result'; id: string; ok: true; payload: string }
  | { type: 'result'; id: string; ok: false; error: InvokeError };

/** The environment a Lambda function sees: its own variables plus what the Lambda runtime sets. */
export function lambdaEnvironment(fn: HostedFunction, options: FunctionHostOptions): Record<string, string> {
  const credentials = options.credentials ?? EMULATOR_CREDENTIALS;
  const nodePath = options.nodePath ?? DEFAULT_NODE_PATH;
  const logStream = `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomUUID().replace(/-/g, '')}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
    // The developer's Node version is not the function's: keep the SDK's warning out of its logs.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...fn.environment,
    // Set by Lambda itself; a function cannot override them.
    AWS_REGION: fn.region,
    AWS_DEFAULT_REGION: fn.region,
    AWS_ENDPOINT_URL: options.endpoint,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime ?? 'nodejs20.x'}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStream,
    LAMBDA_TASK_ROOT: fn.codeDir,
    LAMBDA_RUNTIME_DIR: fileURLToPath(new URL('.', import.meta.url)),
    _HANDLER: fn.handler,
  };
  if (nodePath.length) env.NODE_PATH = [...nodePath, ...(fn.environment.NODE_PATH ? [fn.environment.NODE_PATH] : [])].join(':');
  return env;
}
