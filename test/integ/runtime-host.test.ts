/** The local function host: workers, isolation, errors, timeouts, logs. Needs no emulator. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionHost, type FunctionHostOptions, type HostedFunction, type InvokeOutcome } from '../../dev/local/function-host.ts';
import { sleep } from '../../src/core/concurrency.ts';

let root: string;
const hosts: FunctionHost[] = [];
const logs: Array<{ fn: string; line: string; region: string; stream: string }> = [];

const CJS_HANDLER = `
let invocations = 0;
let running = 0;
const leaked = process.env.LEAK;
process.env.LEAK = process.env.AWS_LAMBDA_FUNCTION_NAME;
exports.handler = async (event, context) => {
  invocations++;
  running++;
  try {
    console.log('invocation', invocations, 'of', context.functionName);
    console.error('to stderr');
    if (event.throw) throw new RangeError('bad range');
    if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
    if (event.crash) setTimeout(() => { throw new Error('async crash'); }, 5);
    if (event.exit) process.exit(3);
    if (event.nothing) return undefined;
    const { SQSClient } = require('@aws-sdk/client-sqs');
    return {
      invocations, maxRunning: running, leaked, event,
      env: {
        MARK: process.env.MARK, AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION,
        AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
        AWS_LAMBDA_FUNCTION_NAME: process.env.AWS_LAMBDA_FUNCTION_NAME,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        LAMBDA_TASK_ROOT: process.env.LAMBDA_TASK_ROOT,
      },
      context: {
        functionName: context.functionName, memoryLimitInMB: context.memoryLimitInMB, awsRequestId: context.awsRequestId,
        invokedFunctionArn: context.invokedFunctionArn, remaining: context.getRemainingTimeInMillis(),
      },
      sdk: typeof SQSClient,
    };
  } finally {
    running--;
  }
};
`;

async function codeDir(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

function host(fn: Partial<HostedFunction> & Pick<HostedFunction, 'name' | 'codeDir'>, options: Partial<FunctionHostOptions> = {}): FunctionHost {
  const h = new FunctionHost(
    {
      region: 'eu-west-1',
      handler: 'index.handler',
      timeoutSeconds: 3,
      memoryMb: 256,
      environment: {},
      arn: `arn:aws:lambda:eu-west-1:123456789012:function:${fn.name}`,
      ...fn,
    },
    { endpoint: 'http://localhost:4566', onLog: (f, line, meta) => logs.push({ fn: f, line, ...meta }), ...options },
  );
  hosts.push(h);
  return h;
}

function result(outcome: InvokeOutcome): any {
  if (!outcome.ok) throw new Error(`invocation failed: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
  return outcome.result;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'regionsync-host-'));
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await rm(root, { recursive: true, force: true });
});

describe('FunctionHost', () => {
  it('runs a CommonJS bundle with the Lambda environment and context', async () => {
    const dir = await codeDir('basic', { 'index.js': CJS_HANDLER });
    const h = host({ name: 'basic', codeDir: dir, environment: { MARK: 'm1' } });
    const r = result(await h.invoke({ hello: 'world' }));
    expect(r.event).toEqual({ hello: 'world' });
    expect(r.env).toEqual({
      MARK: 'm1',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_LAMBDA_FUNCTION_NAME: 'basic',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      LAMBDA_TASK_ROOT: dir,
    });
    expect(r.context).toMatchObject({
      functionName: 'basic',
      memoryLimitInMB: '256',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:basic',
    });
    expect(r.context.remaining).toBeGreaterThan(2000);
    expect(r.context.remaining).toBeLessThanOrEqual(3000);
    // The SDK that the Lambda runtime provides is resolvable, even from a directory outside the project.
    expect(r.sdk).toBe('function');
    // The execution environment is reused: module state survives between invocations.
    expect(result(await h.invoke({})).invocations).toBe(2);
    expect(result(await h.invoke({ nothing: true }))).toBeNull();
  });

  it('isolates functions from each other and from the host process', async () => {
    const dir = await codeDir('iso', { 'index.js': CJS_HANDLER });
    const a = host({ name: 'iso-a', codeDir: dir, environment: { MARK: 'a' } });
    const b = host({ name: 'iso-b', codeDir: dir, environment: { MARK: 'b', AWS_ACCESS_KEY_ID: 'own-key' } });
    const [ra, rb] = [result(await a.invoke({})), result(await b.invoke({}))];
    expect(ra.env.MARK).toBe('a');
    expect(rb.env.MARK).toBe('b');
    expect(rb.env.AWS_ACCESS_KEY_ID).toBe('own-key');
    expect(ra.leaked).toBeUndefined();
    expect(rb.leaked).toBeUndefined();
    expect(ra.invocations).toBe(1);
    expect(rb.invocations).toBe(1);
    expect(process.env.LEAK).toBeUndefined();
  });

  it('reports a thrown error as a failed invocation', async () => {
    const h = host({ name: 'thrower', codeDir: await codeDir('thrower', { 'index.js': CJS_HANDLER }) });
    const out = await h.invoke({ throw: true });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.error).toMatchObject({ errorType: 'RangeError', errorMessage: 'bad range' });
    expect(out.timedOut).toBe(false);
    // The environment survives a handled error.
    expect(result(await h.invoke({})).invocations).toBe(2);
  });

  it('times out, ends the worker and starts a fresh one', { timeout: 15_000 }, async () => {
    const h = host({ name: 'slow', timeoutSeconds: 1, codeDir: await codeDir('slow', { 'index.js': CJS_HANDLER }) });
    expect(result(await h.invoke({})).invocations).toBe(1);
    const started = Date.now();
    const out = await h.invoke({ sleep: 5000 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(out).toMatchObject({ ok: false, timedOut: true, error: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 1.00 seconds' } });
    // A cold start: module state is new.
    expect(result(await h.invoke({})).invocations).toBe(1);
  });

  it('recovers from a crashed or exited worker', async () => {
    const h = host({ name: 'crash', codeDir: await codeDir('crash', { 'index.js': CJS_HANDLER }) });
    const exited = await h.invoke({ exit: true });
    expect(exited).toMatchObject({ ok: false, error: { errorType: 'Runtime.ExitError' } });
    expect(result(await h.invoke({})).invocations).toBe(1);
    await h.invoke({ crash: true });
    await sleep(100);
    expect(result(await h.invoke({})).invocations).toBe(1);
  });

  it('runs one invocation at a time per execution environment', async () => {
    const h = host({ name: 'serial', codeDir: await codeDir('serial', { 'index.js': CJS_HANDLER }) });
    const started = Date.now();
    const all = (await Promise.all([1, 2, 3].map(() => h.invoke({ sleep: 150 })))).map(result);
    expect(Date.now() - started).toBeGreaterThanOrEqual(440);
    expect(all.every((r) => r.maxRunning === 1)).toBe(true);
    expect(all.map((r) => r.invocations).sort()).toEqual([1, 2, 3]);
  });

  it('reports init errors and missing handlers like Lambda', async () => {
    const missing = host({ name: 'missing', codeDir: await codeDir('missing', { 'other.js': '' }) });
    expect(await missing.invoke({})).toMatchObject({ ok: false, error: { errorType: 'Runtime.ImportModuleError' } });
    const noHandler = host({ name: 'nohandler', handler: 'index.main', codeDir: await codeDir('nohandler', { 'index.js': 'exports.other = 1;' }) });
    expect(await noHandler.invoke({})).toMatchObject({ ok: false, error: { errorType: 'Runtime.HandlerNotFound' } });
    const broken = host({ name: 'broken', codeDir: await codeDir('broken', { 'index.js': 'throw new TypeError("init failed");' }) });
    expect(await broken.invoke({})).toMatchObject({ ok: false, error: { errorType: 'TypeError', errorMessage: 'init failed' } });
  });

  it('supports ES module handlers and nested handler paths', async () => {
    const esm = host({
      name: 'esm',
      handler: 'src/app.handler',
      codeDir: await codeDir('esm', {}).then(async (dir) => {
        await mkdir(join(dir, 'src'));
        await writeFile(join(dir, 'src', 'app.mjs'), 'export const handler = async (e) => ({ esm: true, e });');
        return dir;
      }),
    });
    expect(result(await esm.invoke({ x: 1 }))).toEqual({ esm: true, e: { x: 1 } });
  });

  it('forwards every output line with the function name, region and stream', async () => {
    const h = host({ name: 'logger', region: 'ap-south-1', codeDir: await codeDir('logger', { 'index.js': CJS_HANDLER }) });
    await h.invoke({});
    await sleep(100); // worker output arrives asynchronously
    expect(logs).toContainEqual({ fn: 'logger', line: 'invocation 1 of logger', region: 'ap-south-1', stream: 'stdout' });
    expect(logs).toContainEqual({ fn: 'logger', line: 'to stderr', region: 'ap-south-1', stream: 'stderr' });
  });

  it('lets in-flight invocations finish on stop and refuses new ones', async () => {
    const h = host({ name: 'stopper', codeDir: await codeDir('stopper', { 'index.js': CJS_HANDLER }) });
    const running = h.invoke({ sleep: 200 });
    await sleep(50);
    await h.stop();
    expect((await running).ok).toBe(true);
    await expect(h.invoke({})).rejects.toThrow(/stopping/);
  });
});
