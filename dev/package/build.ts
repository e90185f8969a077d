/**
 * `npm run build`: the package's dist/. The compiler (tsconfig.build.json: src/ and lib/ to JS and
 * .d.ts, relative `.ts` imports rewritten to `.js`) and, beside it, esbuild prebundling every
 * function entry (lambda/*.ts) into dist/lambda/<name>/ with the same options as a synth from the
 * checkout (src/infra/constructs/handler-code.ts), so the installed package needs no esbuild.
 */
import { spawn } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { bundle, FUNCTION_ENTRIES, functionEntry } from '../../src/infra/constructs/handler-code.ts';
import { PROJECT_ROOT } from '../../src/project-root.ts';

const DIST = path.join(PROJECT_ROOT, 'dist');
const started = Date.now();
rmSync(DIST, { recursive: true, force: true });

const compiled = new Promise<void>((resolve, reject) => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  // --no-check (the package test): emit without type-checking, which `npm test` does once for the whole tree.
  const noCheck = process.argv.includes('--no-check') ? ['--noCheck'] : [];
  const child = spawn(process.execPath, [tsc, '-p', path.join(PROJECT_ROOT, 'tsconfig.build.json'), ...noCheck], { stdio: 'inherit', cwd: PROJECT_ROOT });
  child.on('error', reject);
  child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc -p tsconfig.build.json failed (exit ${code})`))));
});
// While the compiler runs (its own process): esbuild bundles in this one.
// Through the checkout's bundle cache (.regionsync/bundles, checked against every input's content):
// a synth that bundled the same entries already did the work.
for (const name of FUNCTION_ENTRIES) cpSync(bundle(functionEntry(name), `the function ${name}`), path.join(DIST, 'lambda', name), { recursive: true });
await compiled;
// The ops console's page (src/ops/console-server.ts serves it from beside its module): plain files, no build step.
cpSync(path.join(PROJECT_ROOT, 'src/ops/console'), path.join(DIST, 'src/ops/console'), { recursive: true });
console.log(`dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s: compiled src/ and lib/, prebundled ${FUNCTION_ENTRIES.join(', ')}`);
