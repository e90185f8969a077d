/**
 * CloudFormation limits, which no emulator enforces: at most 500 resources, 200 parameters and
 * 200 outputs per template, and 1 MB per template (the size CloudFormation accepts from S3, where
 * the CDK uploads templates). `stackLayout: 'per-table'` puts each table in a nested stack of its
 * own, so 5 regions × 50 tables deploy; the default single stack per region fails at synth, naming
 * the key to change, instead of failing minutes into a deploy.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { NestedStack, Stack } from 'aws-cdk-lib';
import { testApp } from '../support/infra-fixture.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/infra/app.ts';
import type { RegionSyncConfig, TableConfig } from '../../src/infra/config/schema.ts';
import { MAX_RESOURCES_PER_STACK, type RegionStack } from '../../src/infra/stacks/region-stack.ts';
import { lintAssembly } from '../support/cfn-validate.ts';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1', 'sa-east-1', 'ca-central-1'];
const MAX_TEMPLATE_BYTES = 1_000_000;
const MAX_PARAMETERS = 200;
const MAX_OUTPUTS = 200;

/** `count` tables of every strategy but custom (each custom table bundles its own resolver), with sort keys, exclusions and TTL replication mixed in. */
function manyTables(count: number): TableConfig[] {
  return Array.from({ length: count }, (_, i): TableConfig => {
    const name = `t${String(i).padStart(2, '0')}`;
    const base: TableConfig = { name, partitionKey: { name: 'pk', type: 'string' }, ...(i % 3 === 0 ? { sortKey: { name: 'sk', type: 'number' } } : {}) };
    switch (i % 4) {
      case 0:
        return base;
      case 1:
        return { ...base, conflictResolution: { strategy: 'fields' }, replicate: { to: { 'eu-west-1': { exclude: ['ssn'] } } } };
      case 2:
        return { ...base, conflictResolution: { strategy: 'merge', attributes: { likes: 'counter', tags: 'set' } } };
      default:
        return { ...base, replicateTtlDeletes: true };
    }
  });
}

function config(tables: number, stackLayout?: 'single' | 'per-table'): RegionSyncConfig {
  return { appName: 'rslimits', regions: REGIONS, tables: manyTables(tables), ...(stackLayout ? { stackLayout } : {}) };
}

interface TemplateFacts {
  readonly file: string;
  readonly bytes: number;
  readonly resources: number;
  readonly parameters: number;
  readonly outputs: number;
}

describe('stackLayout per-table: 5 regions × 50 tables', () => {
  let outdir: string;
  let stacks: RegionStack[];
  let templates: TemplateFacts[];

  beforeAll(() => {
    // Prepare
    outdir = mkdtempSync(path.join(tmpdir(), 'rs-limits-'));
    const app = testApp({ outdir });

    // Act
    stacks = buildApp(app, config(50, 'per-table'), { defaultAccount: '111111111111' });
    app.synth();

    templates = readdirSync(outdir)
      .filter((f) => f.endsWith('.template.json'))
      .map((file) => {
        const t = JSON.parse(readFileSync(path.join(outdir, file), 'utf8')) as Record<string, Record<string, unknown> | undefined>;
        return {
          file,
          bytes: statSync(path.join(outdir, file)).size,
          resources: Object.keys(t.Resources ?? {}).length,
          parameters: Object.keys(t.Parameters ?? {}).length,
          outputs: Object.keys(t.Outputs ?? {}).length,
        };
      });
  }, 240_000);

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('synthesizes one parent template per region and one nested template per table and region', () => {
    expect(templates.filter((t) => !t.file.includes('.nested.'))).toHaveLength(5);
    expect(templates.filter((t) => t.file.includes('.nested.'))).toHaveLength(5 * 50);
  });

  it('every template stays within CloudFormation`s limits on resources, parameters, outputs and size', () => {
    const over = templates.filter(
      (t) => t.resources > MAX_RESOURCES_PER_STACK || t.parameters > MAX_PARAMETERS || t.outputs > MAX_OUTPUTS || t.bytes > MAX_TEMPLATE_BYTES,
    );
    expect(over).toEqual([]);
    // Not vacuous: the parents hold real content, and all of it together would not fit in one stack.
    const parents = templates.filter((t) => !t.file.includes('.nested.'));
    expect(Math.min(...parents.map((t) => t.resources))).toBeGreaterThan(50);
    const perRegion = templates.filter((t) => t.file.includes('rslimitsuseast1'));
    expect(perRegion.reduce((n, t) => n + t.resources, 0)).toBeGreaterThan(MAX_RESOURCES_PER_STACK * 2);
  });

  it('each table`s table, functions, queues and alarms live in its own nested stack', () => {
    const stack = stacks.find((s) => s.region === 'us-east-1')!;
    expect(stack.tableStacks.size).toBe(50);
    for (const [name, rt] of stack.tables) {
      const nested = stack.tableStacks.get(name)!;
      expect(NestedStack.isNestedStack(nested)).toBe(true);
      for (const c of [rt.table, rt.shipper, rt.applier, rt.inboundQueue, rt.deadLetterQueue]) expect(Stack.of(c)).toBe(nested);
      for (const alarm of stack.monitoring.alarms.get(name)!.alarms) expect(Stack.of(alarm.alarm)).toBe(nested);
    }
  });

  it('the CloudFormation linter finds no error in a region`s parent template and its first nested ones', () => {
    // Every nested template is the same shape (one table each): the first ten stand for all 50.
    const nested = readdirSync(outdir)
      .filter((f) => f.includes('rslimitsuseast1') && f.includes('.nested.'))
      .sort()
      .slice(0, 10);
    const parent = stacks.find((s) => s.region === 'us-east-1')!.templateFile;
    const findings = lintAssembly(outdir, (file) => file === parent || nested.includes(file));
    expect(findings.filter((f) => f.severity === 'ERROR' || f.severity === 'FATAL')).toEqual([]);
    expect(new Set(findings.map((f) => f.template)).size).toBeGreaterThan(0);
  });
});

describe('the default single stack per region', () => {
  it('fails at synth when a region would exceed 500 resources, naming stackLayout and the way out', () => {
    // Prepare
    const app = testApp({ outdir: mkdtempSync(path.join(tmpdir(), 'rs-limits-single-')) });
    buildApp(app, config(16), { defaultAccount: '111111111111' });

    // Act
    const synth = () => app.synth();

    // Assess
    expect(synth).toThrow(
      /stackLayout: stack rslimits-us-east-1 would hold \d{3} resources; CloudFormation allows 500 per stack\. Set stackLayout: 'per-table'/,
    );
  });

  it('holds 12 tables in 5 regions without nested stacks, each template under 1 MB', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'rs-limits-12-'));
    const app = testApp({ outdir });
    const stacks = buildApp(app, config(12), { defaultAccount: '111111111111' });
    app.synth();
    expect(stacks.every((s) => s.tableStacks.size === 0)).toBe(true);
    const templates = readdirSync(outdir).filter((f) => f.endsWith('.template.json'));
    expect(templates.filter((f) => f.includes('.nested.'))).toEqual([]);
    expect(templates.filter((f) => statSync(path.join(outdir, f)).size > MAX_TEMPLATE_BYTES)).toEqual([]);
    rmSync(outdir, { recursive: true, force: true });
  });

  it('an emulator deploy keeps one stack per region and no limit, whatever the layout (moto replaces nested stacks on update)', () => {
    const app = testApp({ outdir: mkdtempSync(path.join(tmpdir(), 'rs-limits-emu-')) });
    const stacks = buildApp(app, config(16, 'per-table'), { defaultAccount: '111111111111', emulator: true });
    expect(() => app.synth()).not.toThrow();
    expect(stacks.every((s) => s.tableStacks.size === 0)).toBe(true);
  });
});
