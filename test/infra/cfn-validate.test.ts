/**
 * cfn-lint's rules (the CDK's bundled `@aws/cloudformation-validate`) on every template this repo
 * synthesizes: the demo config (every strategy, a custom resolver), the cross-account fixture, and
 * (in stack-limits.test.ts) the nested per-table layout. No error; every warning is one the CDK
 * itself produces, explained here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/infra/app.ts';
import { loadConfig } from '../../src/infra/config/load.ts';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import { lintAssembly, type Finding } from '../support/cfn-validate.ts';
import { FIXTURE_CONFIG, testApp } from '../support/infra-fixture.ts';

/**
 * W3005 "dependency already enforced by a GetAtt": the CDK's lambda.Function adds DependsOn on its
 * role (and the role's default policy, which needs it, so the function never runs before its
 * grants exist) while its Role property already refers to the role. Redundant, harmless.
 */
const EXPLAINED_WARNINGS = new Set(['W3005']);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function lint(config: RegionSyncConfig): Finding[] {
  const outdir = mkdtempSync(path.join(tmpdir(), 'rs-cfn-lint-'));
  dirs.push(outdir);
  const app = testApp({ outdir });
  buildApp(app, config, { defaultAccount: '111111111111' });
  app.synth();
  return lintAssembly(outdir);
}

describe.each([
  ['the demo config (regionsync.config.ts)', async () => loadConfig(path.resolve('regionsync.config.ts'))],
  ['the cross-account fixture', async () => FIXTURE_CONFIG],
])('%s', (_name, config) => {
  it('has no error and no unexplained warning', async () => {
    // Act
    const findings = lint(await config());

    // Assess
    expect(findings.filter((f) => f.severity === 'ERROR' || f.severity === 'FATAL')).toEqual([]);
    expect(findings.filter((f) => f.severity === 'WARN' && !EXPLAINED_WARNINGS.has(f.ruleId))).toEqual([]);
    // The linter did run: it reports informational findings on every template (create-only properties and the like).
    expect(findings.length).toBeGreaterThan(0);
  });
});
