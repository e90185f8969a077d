/**
 * The package as a user gets it: `npm run build`, `npm pack`, examples/basic (a CDK app of its own,
 * plain JavaScript) copied out of the repo and the tarball installed into it with npm, offline;
 * then the example's own CDK CLI synthesizes it and deploys it to the run's emulator, and the
 * packed `regionsync` command runs.
 *
 * Offline: the example's lockfile is written from this repo's (the same versions of regionsync's
 * dependencies, fetched from the npm cache `npm ci` filled), and aws-cdk-lib, constructs and
 * aws-cdk are linked from this repo's node_modules (their 300 MB would take longer to copy than
 * everything else here). Regions and app name are this file's own.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PutItemCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { accountOf, childEnv, cloudformation, dynamodb } from '../../src/ops/aws.ts';
import { PROJECT_ROOT } from '../../src/project-root.ts';

const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'basic');
/** What examples/basic/app.mjs deploys. */
const APP = 'example';
const REGIONS = ['us-east-2', 'eu-south-1'] as const;
const TABLES = ['carts', 'accounts'];
/** Linked from this repo's node_modules instead of installed (see the file comment). */
const LINKED = ['aws-cdk-lib', 'constructs', 'aws-cdk'];

interface Ran {
  readonly code: number;
  readonly output: string;
}

function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function ok(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  const { code, output } = await run(command, args, options);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${output.split('\n').slice(-40).join('\n')}`);
  return output;
}

type LockEntry = Record<string, unknown> & {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};

/**
 * The example's package.json and package-lock.json for an offline install: the tarball, the linked
 * packages, and every package regionsync's dependencies need, as this repo's lockfile resolves them.
 */
function prepareExample(dir: string, tarball: string): void {
  const repoLock = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packed = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as LockEntry & { version: string };
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  for (const deps of [manifest.dependencies, manifest.devDependencies])
    for (const name of LINKED) if (deps[name]) deps[name] = `file:${path.join(PROJECT_ROOT, 'node_modules', name)}`;
  manifest.dependencies.regionsync = `file:${tarball}`;
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));

  // Node's lookup in the lockfile's tree: node_modules/a/node_modules/b, then up to node_modules/b.
  const lookup = (from: string, name: string): string => {
    for (let base = from; ; ) {
      const key = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (repoLock.packages[key]) return key;
      if (!base) throw new Error(`package-lock.json resolves no ${name} from ${from || 'the root'}`);
      const at = base.lastIndexOf('/node_modules/');
      base = at < 0 ? '' : base.slice(0, at);
    }
  };
  const packages: Record<string, LockEntry> = {};
  const pending: string[] = [];
  const need = (from: string, entry: LockEntry) => {
    const names = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter((p) => !entry.peerDependenciesMeta?.[p]?.optional),
    ];
    for (const name of names) if (!LINKED.includes(name)) pending.push(lookup(from, name));
  };
  need('', packed);
  for (let key = pending.pop(); key; key = pending.pop()) {
    if (packages[key]) continue;
    const { dev: _dev, peer: _peer, devOptional: _devOptional, ...entry } = repoLock.packages[key]!;
    packages[key] = entry;
    need(key, entry);
  }
  packages[''] = { name: manifest.name, version: manifest.version, dependencies: manifest.dependencies, devDependencies: manifest.devDependencies };
  packages['node_modules/regionsync'] = {
    version: packed.version,
    resolved: `file:${tarball}`,
    ...Object.fromEntries(['license', 'dependencies', 'peerDependencies', 'peerDependenciesMeta', 'bin', 'engines'].map((k) => [k, packed[k]])),
  };
  writeFileSync(
    path.join(dir, 'package-lock.json'),
    JSON.stringify({ name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages }, null, 2),
  );
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('the packed package in a CDK app of its own (examples/basic)', () => {
  const endpoint = inject('endpoint');
  const target = { endpoint };
  let work: string;
  let example: string;
  let installedAt: number;
  let env: NodeJS.ProcessEnv;
  const cdk = (...args: string[]) => ok(process.execPath, [path.join(example, 'node_modules', 'aws-cdk', 'bin', 'cdk'), ...args], { cwd: example, env });
  const timings: Record<string, number> = {};
  const timed = async <T>(step: string, f: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await f();
    } finally {
      timings[step] = (Date.now() - started) / 1000;
    }
  };

  beforeAll(async () => {
    // Prepare: build, pack, install the tarball into a copy of the example.
    work = mkdtempSync(path.join(tmpdir(), 'regionsync-package-'));
    // The sources are type-checked once by npm test (tsc --noEmit): the build here only emits.
    await timed('build', () => ok('npm', ['run', 'build', '--', '--no-check'], { cwd: PROJECT_ROOT }));
    const packed = await timed('pack', () => ok('npm', ['pack', '--json', '--pack-destination', work], { cwd: PROJECT_ROOT }));
    const tarball = path.join(work, (JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string }[])[0]!.filename);
    example = path.join(work, 'example');
    cpSync(EXAMPLE, example, { recursive: true, filter: (src) => !/[/\\](node_modules|cdk\.out)$/.test(src) });
    prepareExample(example, tarball);
    await timed('install', () => ok('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: example }));
    installedAt = Date.now();
    const account = await accountOf(target, REGIONS[0]);
    env = childEnv(target, { CDK_DEFAULT_ACCOUNT: account, CDK_DEFAULT_REGION: REGIONS[0], AWS_REGION: REGIONS[0], CDK_VALIDATION: 'false' });
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(
      `package test: ${Object.entries(timings)
        .map(([k, s]) => `${k} ${s.toFixed(1)} s`)
        .join(', ')}`,
    );
  });

  it('installs the compiled library, its types and the prebundled functions, and no dev tooling', () => {
    const installed = path.join(example, 'node_modules', 'regionsync');
    for (const file of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/src/client/index.d.ts', 'dist/lambda/shipper/index.js', 'bin/regionsync.js'])
      expect(existsSync(path.join(installed, file)), file).toBe(true);
    const shipped = filesUnder(installed).map((f) => path.relative(installed, f));
    expect(shipped.filter((f) => /^(dev|test|lambda|src|lib)[/\\]/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
  });

  it('synthesizes one stack per region with the prebundled functions: no esbuild run, nothing written into node_modules', async () => {
    // Act
    await timed('synth', () => cdk('synth', '--quiet', '-o', 'cdk.out', '-c', 'regionsync:emulator=true', '-c', 'regionsync:bootstrapVersionRule=false'));

    // Assess
    const manifest = JSON.parse(readFileSync(path.join(example, 'cdk.out', 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; properties?: { stackName?: string; templateFile?: string } }>;
    };
    const stacks = Object.values(manifest.artifacts).filter((a) => a.type === 'aws:cloudformation:stack');
    expect(stacks.map((s) => s.properties?.stackName).sort()).toEqual(REGIONS.map((r) => `${APP}-${r}`).sort());
    // Every function's code is one of the package's prebundled functions, byte for byte.
    const prebundled = new Set(
      filesUnder(path.join(example, 'node_modules', 'regionsync', 'dist', 'lambda'))
        .filter((f) => f.endsWith('index.js'))
        .map(sha),
    );
    const assets = readdirSync(path.join(example, 'cdk.out')).filter((f) => f.startsWith('asset.'));
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) expect(prebundled.has(sha(path.join(example, 'cdk.out', asset, 'index.js'))), asset).toBe(true);
    for (const stack of stacks) {
      const template = JSON.parse(readFileSync(path.join(example, 'cdk.out', stack.properties!.templateFile!), 'utf8')) as {
        Resources: Record<string, { Type: string }>;
      };
      expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function').length).toBeGreaterThanOrEqual(2 * TABLES.length);
    }
    // No bundle cache, no generated entry, nothing new in the installed package.
    expect(existsSync(path.join(example, '.regionsync'))).toBe(false);
    const changed = filesUnder(path.join(example, 'node_modules', 'regionsync')).filter((f) => statSync(f).mtimeMs > installedAt);
    expect(changed).toEqual([]);
  }, 180_000);

  it('deploys to the emulator with the CDK CLI: both stacks, and the tables in each region', async () => {
    // Act: the assembly synthesized above, as `cdk deploy` would after its own synth.
    const account = String(env.CDK_DEFAULT_ACCOUNT);
    await timed('bootstrap', () =>
      ok(process.execPath, [path.join(example, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'bootstrap', ...REGIONS.map((r) => `aws://${account}/${r}`)], {
        cwd: work,
        env,
      }),
    );
    await timed('deploy', () =>
      cdk('deploy', '--app', 'cdk.out', '--all', '--require-approval', 'never', '--method=direct', '--concurrency', String(REGIONS.length)),
    );

    // Assess
    for (const region of REGIONS) {
      const out = await cloudformation(target, region).send(new DescribeStacksCommand({ StackName: `${APP}-${region}` }));
      expect(out.Stacks?.[0]?.StackStatus).toMatch(/_COMPLETE$/);
      for (const table of TABLES) {
        const described = await dynamodb(target, region).send(new DescribeTableCommand({ TableName: table }));
        expect(described.Table?.StreamSpecification?.StreamEnabled).toBe(true);
      }
    }
  }, 240_000);

  it('the packed CLI works against the deployed app with no config file: `verify --app` reads the configuration from its stacks', async () => {
    // Prepare: an item written behind the pipeline's back (no runtime replicates here), in one region only.
    await dynamodb(target, REGIONS[0]).send(new PutItemCommand({ TableName: 'carts', Item: { cartId: { S: 'only-here' }, n: { N: '1' } } }));
    // Act
    const { code, output } = await run(
      path.join(example, 'node_modules', '.bin', 'regionsync'),
      ['verify', '--app', APP, '--app-region', REGIONS[1], '--table', 'carts', '--endpoint', endpoint, '--json'],
      { cwd: example, env },
    );
    // Assess: the table, its key and both regions came from the stack; the one divergent key is found.
    const report = JSON.parse(output.slice(output.search(/^\{/m), output.lastIndexOf('}') + 1)) as { agree: boolean; divergent: { keyAttributes: unknown }[] };
    expect(report.agree).toBe(false);
    expect(report.divergent.map((d) => d.keyAttributes)).toEqual([{ cartId: { S: 'only-here' } }]);
    expect(code).toBe(1);
  }, 60_000);

  it('ships the operator CLI: `regionsync --help` from the example lists the product commands only', async () => {
    // Act
    const { code, output } = await run(path.join(example, 'node_modules', '.bin', 'regionsync'), ['--help'], { cwd: example });

    // Assess
    expect(code).toBe(0);
    expect(output).toMatch(/^\s+status\s/m);
    expect(output).toMatch(/^\s+verify\s/m);
    expect(output).not.toMatch(/^\s+(demo|up|bench)\s/m);
  }, 30_000);
});
