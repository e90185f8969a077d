import { createHash } from 'node:crypto';
/**
 * Deploys every region stack with the real CDK CLI (`cdk bootstrap` where needed, then
 * `cdk deploy --all`) to an endpoint: moto, LocalStack, or AWS when no endpoint is given.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { accountOf, childEnv, cloudformation, type Target } from '../../src/ops/aws.ts';
import { PROJECT_ROOT } from '../../src/project-root.ts';

const CDK_BIN = path.join(PROJECT_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk');

export interface DeployOptions extends Target {
  readonly configFile: string;
  readonly regions: readonly string[];
  readonly log?: (line: string) => void;
  /** Print the CDK's own output. @default false */
  readonly verbose?: boolean;
  /** The CDK's cloud assembly directory, so concurrent deploys do not share (and lock) one. @default .regionsync/cdk.out */
  readonly outputDir?: string;
  /** Extra CDK context (`-c key=value`), e.g. adopted tables' stream ARNs (src/ops/adopt.ts). @default none beyond cdk.context.json */
  readonly context?: Readonly<Record<string, string>>;
}

export async function deploy(opts: DeployOptions): Promise<{ account: string; seconds: number }> {
  const started = Date.now();
  const log = opts.log ?? ((l: string) => console.log(l));
  const account = await accountOf(opts, opts.regions[0]!);
  // One output directory per config and endpoint: the CDK refuses two runs synthesizing into one.
  const outputDir =
    opts.outputDir ??
    path.join(
      '.regionsync',
      'cdk.out',
      createHash('sha256')
        .update(`${opts.configFile}\0${opts.endpoint ?? 'aws'}`)
        .digest('hex')
        .slice(0, 12),
    );
  const missing: string[] = [];
  for (const region of opts.regions) {
    if (!(await stackExists(opts, region, 'CDKToolkit'))) missing.push(region);
  }
  const env = childEnv(opts, {
    CDK_DEFAULT_ACCOUNT: account,
    CDK_DEFAULT_REGION: opts.regions[0]!,
    REGIONSYNC_CONFIG: opts.configFile,
    AWS_REGION: opts.regions[0]!,
    // The CDK's built-in template linter (cfn-lint's rules, ~3 s a synth) runs on deploys to AWS;
    // the templates it would check on an emulator are the same, and a test holds them at 0 errors
    // (test/infra/cfn-validate.test.ts), so local deploys skip it.
    ...(opts.endpoint ? { CDK_VALIDATION: process.env.CDK_VALIDATION ?? 'false' } : {}),
  });
  if (missing.length > 0) {
    log(`bootstrapping ${missing.join(', ')} (account ${account})`);
    // Run outside the project, so bootstrap does not synthesize the whole app (20 s) only to learn
    // environments that are named here anyway; the app sets no bootstrap qualifier of its own.
    await runCdk(['bootstrap', ...missing.map((r) => `aws://${account}/${r}`)], env, opts.verbose, tmpdir());
  }
  log(`deploying ${opts.regions.length} region stacks to ${opts.endpoint ?? 'AWS'}`);
  const args = ['deploy', '--all', '--require-approval', 'never', '--concurrency', String(opts.regions.length), '--output', outputDir];
  if (opts.endpoint) {
    // moto cannot delete an empty change set nor update a stack with the SSM bootstrap-version
    // parameter; direct stack updates without that parameter work on moto and LocalStack alike.
    args.push('--method=direct', '-c', 'regionsync:bootstrapVersionRule=false', '-c', 'regionsync:emulator=true');
  }
  for (const [k, v] of Object.entries(opts.context ?? {})) args.push('-c', `${k}=${v}`);
  await runCdk(args, env, opts.verbose);
  const seconds = (Date.now() - started) / 1000;
  log(`deployed in ${seconds.toFixed(1)} s`);
  return { account, seconds };
}

async function stackExists(t: Target, region: string, name: string): Promise<boolean> {
  try {
    const out = await cloudformation(t, region).send(new DescribeStacksCommand({ StackName: name }));
    return (out.Stacks ?? []).some((s) => !String(s.StackStatus).startsWith('DELETE'));
  } catch (e) {
    if (/does not exist/i.test((e as Error).message)) return false;
    throw e;
  }
}

function runCdk(args: string[], env: NodeJS.ProcessEnv, verbose = false, cwd = PROJECT_ROOT): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CDK_BIN, ...args], { cwd, env, stdio: verbose ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`cdk ${args[0]} failed (exit ${code}):\n${output.split('\n').slice(-40).join('\n')}`));
    });
  });
}
