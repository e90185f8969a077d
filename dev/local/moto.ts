/**
 * Starts a moto server for local runs and tests. It runs through dev/local/moto_bootstrap.py,
 * which switches off moto's own (Docker-based, broken without Docker) event-source-mapping
 * dispatch: without that, a mapping on a DynamoDB stream makes moto drop every stream
 * record, and the local runtime would see nothing. See moto_bootstrap.py.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { forEachLine } from './lines.ts';
import { sleep } from '../../src/core/concurrency.ts';

export interface StartMotoOptions {
  /** Port to listen on; a free one is picked when omitted. */
  readonly port?: number;
  /** Python interpreter that has moto installed (default: $REGIONSYNC_PYTHON or python3). */
  readonly python?: string;
  /** How long to wait for the server to answer (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Receives moto's own log lines (one per request); dropped when omitted. */
  readonly onLog?: (line: string) => void;
}

export interface MotoServer {
  /** `http://localhost:PORT` (localhost, not 127.0.0.1: S3 virtual-host addressing needs a name). */
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

const BOOTSTRAP = fileURLToPath(new URL('./moto_bootstrap.py', import.meta.url));

export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const python = options.python ?? process.env.REGIONSYNC_PYTHON ?? 'python3';
  // A picked port can be taken between picking and binding: try a few.
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch(python, port, options);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function launch(python: string, port: number, options: StartMotoOptions): Promise<MotoServer> {
  const endpoint = `http://localhost:${port}`;
  const child = spawn(python, [BOOTSTRAP, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOTO_PORT: String(port) },
  });
  const tail: string[] = [];
  const onLine = (line: string): void => {
    tail.push(line);
    if (tail.length > 30) tail.shift();
    options.onLog?.(line);
  };
  // Always drain the pipes: a full pipe would block moto.
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  let failure: Error | undefined;
  void spawnError.then((e) => (failure = e));

  while (Date.now() < deadline) {
    if (failure) throw new Error(`cannot start moto with ${python}: ${failure.message}`);
    if (exitCode !== undefined) {
      throw new Error(`moto exited with code ${exitCode} before answering on port ${port}:\n${tail.join('\n')}`);
    }
    if (await answers(endpoint)) {
      return { endpoint, port, stop: () => stopChild(child, exited) };
    }
    await sleep(100);
  }
  await stopChild(child, exited);
  throw new Error(`moto did not answer on ${endpoint} within the start timeout:\n${tail.join('\n')}`);
}

/** True when the emulator at `endpoint` runs with moto's own mapping dispatch switched off. */
export async function isDispatchDisabled(endpoint: string): Promise<boolean | undefined> {
  try {
    const res = await fetch(new URL('/moto-api/config', endpoint), { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return undefined;
    const config = (await res.json()) as { regionsync?: { esmDispatch?: boolean } };
    return config.regionsync?.esmDispatch === false;
  } catch {
    return undefined;
  }
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(new URL('/moto-api/config', endpoint), { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** A TCP port free on the loopback interface right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
