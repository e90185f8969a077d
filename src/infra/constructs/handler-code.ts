/**
 * The Lambda code of regionsync's functions. Two sources:
 *
 * - Installed from the package (compiled JS in dist/): the functions come prebundled in the
 *   package (dist/lambda/<name>/, made by `npm run build` with the options below), so a user's
 *   synth runs no esbuild and writes nothing into node_modules.
 * - Run from the checkout (TypeScript through tsx), or for a table with a custom resolver
 *   anywhere: bundled with esbuild (locally, never in Docker) once per entry and reused. Every
 *   shipper, applier and fence without a custom resolver runs the same bundle (their settings
 *   come from environment variables), so a synth of 5 regions × 50 tables bundles three entries
 *   instead of 500 functions. Bundles are cached on disk under `.regionsync/bundles` in the
 *   working directory, keyed by the entry and the build options and checked against the content
 *   of every input file esbuild read (its metafile), so a changed handler, resolver or dependency
 *   always rebuilds.
 *
 * esbuild is loaded only when something is bundled: installed from the package it is an optional
 * peer dependency, needed for custom resolvers only.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { BuildOptions } from 'esbuild';
import { PROJECT_ROOT } from '../../project-root.ts';

/** The file name the bundle is written to: the function's handler is `index.handler`. */
export const BUNDLE_HANDLER = 'index.handler';

/**
 * The functions' entry points (lambda/<name>.ts in the checkout) that the package ships prebundled.
 */
export const FUNCTION_ENTRIES = ['shipper', 'applier', 'fence', 'shipper-traced', 'applier-traced'] as const;

/**
 * The extension of this module's siblings: `.ts` when the sources run through tsx (the checkout),
 * `.js` when the compiled package runs. Generated entries import regionsync's modules with it.
 */
export const SOURCE_EXTENSION = path.extname(fileURLToPath(import.meta.url));

/**
 * Setting this environment variable to `esbuild` bundles every function from its sources even
 * where prebundled code exists (only possible where the sources are, i.e. in the checkout).
 */
export const BUNDLE_ENV = 'REGIONSYNC_BUNDLE';

/** The directory of the entry points in the checkout; in the package, of their prebundled code. */
const LAMBDA_DIR = path.join(PROJECT_ROOT, 'lambda');

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
 * The code asset for a handler entry (a `.ts` or `.js` module exporting `handler`): the
 * prebundled code when the entry is one of the package's own functions and the package ships it,
 * else a bundle of the entry. A new Code each time (the CDK ties one to one stack); the CDK stages
 * one directory once however many use it.
 */
export function handlerCode(entry: string): lambda.Code {
  const absolute = path.resolve(entry);
  let dir = bundled.get(absolute);
  if (!dir) {
    dir = prebundledDir(absolute) ?? bundle(absolute);
    bundled.set(absolute, dir);
  }
  return lambda.Code.fromAsset(dir);
}

/** The entry of one of the package's own functions, to pass to {@link handlerCode}. */
export function functionEntry(name: (typeof FUNCTION_ENTRIES)[number]): string {
  return path.join(LAMBDA_DIR, `${name}.ts`);
}

/** The prebundled code of `entry` (lambda/<name>.ts), when the package ships it and bundling is not forced. */
function prebundledDir(entry: string): string | undefined {
  if (path.dirname(entry) !== LAMBDA_DIR) return undefined;
  const dir = path.join(LAMBDA_DIR, path.basename(entry, path.extname(entry)));
  if (!existsSync(path.join(dir, 'index.js'))) return undefined;
  if (process.env[BUNDLE_ENV] === 'esbuild' && existsSync(entry)) return undefined;
  return dir;
}

/**
 * esbuild, loaded on first use; `forWhat` names what needs it in the error when it is missing
 * (installed from the package, esbuild is an optional peer dependency).
 */
function requireEsbuild(forWhat: string): typeof import('esbuild') {
  try {
    return createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    throw new Error(`regionsync: ${forWhat} needs esbuild to bundle its function, and esbuild is not installed: npm install --save-dev esbuild`);
  }
}

/** Throws, naming `forWhat`, unless esbuild can be loaded (see {@link bundle}). */
export function assertEsbuild(forWhat: string): void {
  requireEsbuild(forWhat);
}

/** Where bundles are cached: under the working directory (the user's project), never in node_modules. */
function cacheDir(): string {
  return path.join(process.cwd(), '.regionsync', 'bundles');
}

/**
 * Bundles `entry` unless an up-to-date bundle is cached; returns the bundle's directory.
 * `outdir` writes the bundle there instead, uncached (`npm run build` prebundles the functions so).
 */
export function bundle(entry: string, forWhat = `the function ${path.basename(entry)}`, outdir?: string): string {
  const esbuild = requireEsbuild(forWhat);
  const key = createHash('sha256')
    .update(JSON.stringify({ entry, BUILD_OPTIONS, node: 1 }))
    .digest('hex')
    .slice(0, 16);
  const dir = outdir ?? path.join(cacheDir(), key);
  if (!outdir && isFresh(dir)) return dir;
  const staging = `${dir}.${process.pid}.${Date.now()}`;
  mkdirSync(staging, { recursive: true });
  const result = esbuild.buildSync({ ...BUILD_OPTIONS, entryPoints: [entry], outfile: path.join(staging, 'index.js'), absWorkingDir: PROJECT_ROOT });
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile!.inputs)) inputs[input] = fileHash(path.resolve(PROJECT_ROOT, input));
  if (!outdir) writeFileSync(inputsFile(staging), JSON.stringify(inputs));
  // Replace atomically: a concurrent synth (another test file, another deploy) reads either the
  // old bundle or the new one, never half of one.
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(staging, dir);
    if (!outdir) renameSync(inputsFile(staging), inputsFile(dir));
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
