/**
 * The public construct, `Replication`: its stacks keep the CloudFormation names and every logical
 * ID the stacks had as children of the app (how buildApp made them before the construct), so an
 * app deployed then updates in place; a bad prop throws a ConfigError naming it, and adds nothing.
 */
import { CfnElement, type Stack, type App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { stackName } from '../../src/core/contract.ts';
import { ConfigError } from '../../src/core/errors.ts';
import type { RegionSyncConfig, StackLayout } from '../../src/infra/config/schema.ts';
import { validateConfig } from '../../src/infra/config/validate.ts';
import { Replication } from '../../src/infra/replication.ts';
import { RegionStack } from '../../src/infra/stacks/region-stack.ts';
import { testApp } from '../support/infra-fixture.ts';

const ACCOUNT = '111111111111';

function config(stackLayout: StackLayout): RegionSyncConfig {
  return {
    appName: 'rsrepl',
    regions: ['us-east-1', 'eu-west-1'],
    stackLayout,
    tables: [
      { name: 'orders', partitionKey: { name: 'pk', type: 'string' } },
      { name: 'profiles', partitionKey: { name: 'id', type: 'string' }, conflictResolution: { strategy: 'fields' } },
    ],
  };
}

/** Every CloudFormation element's logical ID, by stack name (nested stacks by their path below the region stack). */
function logicalIds(stacks: readonly Stack[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const top of stacks) {
    for (const c of top.node.findAll()) {
      if (!(c instanceof CfnElement)) continue;
      const where = c.stack === top ? top.stackName : `${top.stackName}/${c.stack.node.path.slice(top.node.path.length + 1)}`;
      out.set(where, [...(out.get(where) ?? []), c.stack.resolve(c.logicalId) as string].sort());
    }
  }
  return out;
}

/** The region stacks as buildApp added them before Replication: children of the app, named by their ID. */
function appRootStacks(app: App, input: RegionSyncConfig): RegionStack[] {
  const resolved = validateConfig(input);
  const cfg = { ...resolved, regions: resolved.regions.map((r) => ({ ...r, account: ACCOUNT })) };
  return cfg.regions.map(
    (r) => new RegionStack(app, stackName(cfg.appName, r.region), { config: cfg, region: r.region, env: { region: r.region, account: ACCOUNT } }),
  );
}

describe('Replication', () => {
  for (const layout of ['single', 'per-table'] as const) {
    it(`keeps the stack names and every logical ID of stacks at the app's root (stackLayout ${layout})`, () => {
      // Prepare
      const before = logicalIds(appRootStacks(testApp(), config(layout)));

      // Act
      const replication = new Replication(testApp(), 'Sync', { ...config(layout), defaultAccount: ACCOUNT });

      // Assess
      const stacks = [...replication.stacks.values()];
      expect(stacks.map((s) => [s.stackName, s.node.path])).toEqual([
        ['rsrepl-us-east-1', 'Sync/rsrepl-us-east-1'],
        ['rsrepl-eu-west-1', 'Sync/rsrepl-eu-west-1'],
      ]);
      const after = logicalIds(stacks);
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      for (const [where, ids] of before) expect(after.get(where), where).toEqual(ids);
      // Not vacuous: the IDs that embed a path from the app's root (event source mappings) are among them.
      expect([...before.values()].flat().filter((id) => id.includes('EventSource')).length).toBeGreaterThanOrEqual(2 * 2 * 2);
    });
  }

  it('maps each region to its stack, in the order of regions', () => {
    const replication = new Replication(testApp(), 'Sync', { ...config('single'), defaultAccount: ACCOUNT });
    expect([...replication.stacks].map(([region, stack]) => [region, stack.region, stack.account])).toEqual([
      ['us-east-1', 'us-east-1', ACCOUNT],
      ['eu-west-1', 'eu-west-1', ACCOUNT],
    ]);
  });

  it('rejects a bad prop with a ConfigError naming the key and the value, and adds nothing to the app', () => {
    // Prepare
    const app = testApp();

    // Act
    const build = () => new Replication(app, 'Sync', { ...config('single'), appName: '9lives', regions: ['us-east-1', 'mars-north-1'] });

    // Assess
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/appName: .*\(got "9lives"\)/);
    expect(build).toThrow(/regions\[1\].*mars-north-1/);
    expect(app.node.children).toEqual([]);
  });
});
