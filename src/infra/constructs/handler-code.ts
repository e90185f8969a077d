/**
 * The Lambda code of regionsync's functions, bundled once with esbuild (locally, never in Docker)
 * and reused: every shipper, applier and fence without a custom resolver runs the same bundle
 * (their settings come from environment variables), so a synth of 5 regions × 50 tables bundles
 * three entries instead of 500 functions. Bundles are cached on disk under `.regionsync/bundles`,
 * keyed by the entry and the build options and checked against the content of every input file
 * esbuild read (its metafile), so a changed handler, resolver or dependency always rebuilds.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildSync, type BuildOptions } from 'esbuild';
import { PROJECT_ROOT } from '../../project-root.ts';

const CACHE_DIR = path.join(PROJECT_ROOT, '.regionsync', 'bundles');

/** The file name the bundle is written to: the function's handler is `index.handler`. */
export const BUNDLE_HANDLER = 'index.handler';

const BUILD_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // node20: the same bundle also runs in the local runtime on this project's minimum Node.
  target: 'node20',
  // Minified, with its source map shipped (the functions run with --enable-source-maps): stack
  // traces in the logs name our files and lines. The AWS SDK is bundled too, so the code runs
  // with the SDK version it was tested with.
  minify: true,
  sourcemap: true,
  metafile: true,
  logLevel: 'silent',
};

const bundled = new Map<string, string>();

/**
 * The code asset for a handler entry (a `.ts` module exporting `handler`). A new Code each time
 * (the CDK ties one to one stack); the CDK stages one directory once however many use it.
 */
export function handlerCode(entry: string): lambda.Code {
  const absolute = path.resolve(entry);
  let dir = bundled.get(absolute);
  if (!dir) {
    dir = bundle(absolute);
    bundled.set(absolute, dir);
  }
  return lambda.Code.fromAsset(dir);
}

/** Bundles `entry` unless an up-to-date bundle is cached; returns the bundle's directory. */
export function bundle(entry: string): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ entry, BUILD_OPTIONS, node: 1 }))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(CACHE_DIR, key);
  if (isFresh(dir)) return dir;
  const staging = `${dir}.${process.pid}.${Date.now()}`;
  mkdirSync(staging, { recursive: true });
  const result = buildSync({ ...BUILD_OPTIONS, entryPoints: [entry], outfile: path.join(staging, 'index.js'), absWorkingDir: PROJECT_ROOT });
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile!.inputs)) inputs[input] = fileHash(path.resolve(PROJECT_ROOT, input));
  writeFileSync(inputsFile(staging), JSON.stringify(inputs));
  // Replace atomically: a concurrent synth (another test file, another deploy) reads either the
  // old bundle or the new one, never half of one.
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(staging, dir);
    renameSync(inputsFile(staging), inputsFile(dir));
  } catch {
    // Another process got there first with the same inputs.
    rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

function inputsFile(dir: string): string {
  return `${dir}.inputs.json`;
}

function isFresh(dir: string): boolean {
  if (!existsSync(path.join(dir, 'index.js')) || !existsSync(inputsFile(dir))) return false;
  try {
    const inputs = JSON.parse(readFileSync(inputsFile(dir), 'utf8')) as Record<string, string>;
    return Object.entries(inputs).every(([file, hash]) => fileHash(path.resolve(PROJECT_ROOT, file)) === hash);
  } catch {
    return false;
  }
}

function fileHash(file: string): string {
  try {
    return createHash('sha1').update(readFileSync(file)).digest('hex');
  } catch {
    return 'missing';
  }
}
