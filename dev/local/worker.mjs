// One Lambda execution environment, inside a worker_threads Worker (see function-host.ts).
// Plain JavaScript so it runs under bare node: workers are started without tsx.
//
// Protocol (parentPort):
//   worker → parent  { type: 'ready' } | { type: 'init-error', error }
//   parent → worker  { type: 'invoke', id, payload, requestId, deadline }
//   worker → parent  { type: 'result', id, ok: true, payload } | { type: 'result', id, ok: false, error }
// Events and results cross as JSON text, as they do in Lambda: a handler never sees
// objects that JSON cannot carry, and a result that JSON cannot carry fails the invocation.
import { existsSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const { codeDir, handler: handlerSpec, functionName, functionVersion, functionArn, memoryMb, logGroupName, logStreamName } = workerData;

// NODE_PATH (set by the host) plays the Lambda runtime's bundled SDK: bundles built with
// `@aws-sdk/*` external require it from there.
Module._initPaths?.();
if ((process.env.NODE_OPTIONS ?? '').includes('--enable-source-maps')) process.setSourceMapsEnabled?.(true);

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

async function loadHandler() {
  // "dir/file.method.nested": module path up to the first dot of the last path segment.
  const dir = dirname(handlerSpec);
  const base = basename(handlerSpec);
  const dot = base.indexOf('.');
  if (dot <= 0 || dot === base.length - 1) throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler ${handlerSpec}`);
  const moduleName = join(dir, base.slice(0, dot));
  const path = base.slice(dot + 1).split('.');
  const file = join(codeDir, moduleName);
  const require = createRequire(join(codeDir, '__regionsync_loader__.js'));
  let mod;
  if (existsSync(`${file}.mjs`)) {
    mod = await import(pathToFileURL(`${file}.mjs`).href);
  } else if (existsSync(`${file}.cjs`)) {
    mod = require(`${file}.cjs`);
  } else if (existsSync(`${file}.js`)) {
    try {
      mod = require(`${file}.js`);
    } catch (err) {
      if (err?.code !== 'ERR_REQUIRE_ESM') throw err;
      mod = await import(pathToFileURL(`${file}.js`).href);
    }
  } else {
    throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}' in ${codeDir}`);
  }
  let fn = mod;
  for (const p of path) fn = fn?.[p];
  if (typeof fn !== 'function' && path.length === 1) fn = mod?.default?.[path[0]];
  if (typeof fn !== 'function') throw new RuntimeError('Runtime.HandlerNotFound', `${handlerSpec} is undefined or not exported`);
  return fn;
}

function serializeError(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || 'Error',
      errorMessage: err.message,
      stackTrace:
        typeof err.stack === 'string'
          ? err.stack
              .split('\n')
              .slice(1)
              .map((l) => l.trim())
          : [],
    };
  }
  return { errorType: typeof err, errorMessage: String(err), stackTrace: [] };
}

function invokeHandler(fn, event, context) {
  // Callback-style handlers (event, context, callback) still exist in older code.
  if (fn.length >= 3) {
    return new Promise((resolve, reject) => {
      const callback = (err, result) => (err ? reject(err) : resolve(result));
      context.done = callback;
      context.succeed = (r) => resolve(r);
      context.fail = (e) => reject(e);
      try {
        const r = fn(event, context, callback);
        if (r && typeof r.then === 'function') r.then(resolve, reject);
      } catch (err) {
        reject(err);
      }
    });
  }
  return fn(event, context);
}

let handler;
try {
  handler = await loadHandler();
  parentPort.postMessage({ type: 'ready' });
} catch (err) {
  parentPort.postMessage({ type: 'init-error', error: serializeError(err) });
}

parentPort.on('message', async (msg) => {
  if (msg?.type !== 'invoke' || !handler) return;
  const { id, payload, requestId, deadline } = msg;
  const context = {
    functionName,
    functionVersion,
    invokedFunctionArn: functionArn,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: requestId,
    logGroupName,
    logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await invokeHandler(handler, JSON.parse(payload), context);
    let out;
    try {
      out = result === undefined ? 'null' : JSON.stringify(result);
    } catch (err) {
      throw new RuntimeError('Runtime.MarshalError', `Unable to marshal response: ${err?.message ?? err}`);
    }
    parentPort.postMessage({ type: 'result', id, ok: true, payload: out });
  } catch (err) {
    parentPort.postMessage({ type: 'result', id, ok: false, error: serializeError(err) });
  }
});
