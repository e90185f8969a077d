/**
 * validateConfig and buildApp reject a bad config before anything is synthesized, with one
 * problem per bad field naming the field path and the bad value, all reported together.
 * (Pure and fast: nothing here bundles or synthesizes, hence the unit project.)
 */
import { Stack } from 'aws-cdk-lib';
import { testApp } from '../support/infra-fixture.ts';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { buildApp } from '../../src/infra/app.ts';
import type { RegionSyncConfig, TableConfig } from '../../src/infra/config/schema.ts';
import { DEFAULT_TOMBSTONE_TTL_SECONDS, MIN_TOMBSTONE_TTL_SECONDS, validateConfig } from '../../src/infra/config/validate.ts';

/** A valid config: 3 regions, `orders` (sort key, provisioned, 2 regions) and `profiles` (all regions). */
function baseConfig(overrides: Partial<RegionSyncConfig> = {}): RegionSyncConfig {
  return {
    appName: 'rsunit',
    regions: [{ region: 'us-east-1', account: '111111111111' }, { region: 'eu-west-1', account: '222222222222' }, 'ap-southeast-1'],
    tables: [
      {
        name: 'orders',
        partitionKey: { name: 'pk', type: 'string' },
        sortKey: { name: 'sk', type: 'number' },
        billingMode: 'PROVISIONED',
        regions: ['us-east-1', 'eu-west-1'],
      },
      { name: 'profiles', partitionKey: { name: 'id', type: 'string' } },
    ],
    ...overrides,
  };
}

/** `baseConfig` with its first table changed. */
function withTable(change: Partial<TableConfig> | ((t: TableConfig) => TableConfig)): RegionSyncConfig {
  const base = baseConfig();
  const first = base.tables[0]!;
  const changed = typeof change === 'function' ? change(first) : { ...first, ...change };
  return { ...base, tables: [changed, ...base.tables.slice(1)] };
}

/** The problems the ConfigError thrown by `act` lists; fails the test if it does not throw one. */
function problemsOf(act: () => unknown): readonly string[] {
  try {
    act();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

/** A problem that starts with `path:` and shows `value` as JSON. */
function expectProblem(problems: readonly string[], path: string, value: unknown) {
  const shown = value === undefined ? 'undefined' : JSON.stringify(value);
  expect(
    problems.filter((p) => p.startsWith(`${path}: `) && p.includes(`(got ${shown})`)),
    `problems: ${JSON.stringify(problems, null, 2)}`,
  ).toHaveLength(1);
}

describe('validateConfig accepts a valid config', () => {
  it('fills in every default', () => {
    // Prepare
    const config = baseConfig();

    // Act
    const resolved = validateConfig(config);

    // Assess
    expect(resolved.appName).toBe('rsunit');
    expect(resolved.regions.map((r) => r.region)).toEqual(['us-east-1', 'eu-west-1', 'ap-southeast-1']);
    expect(resolved.tables[1]).toEqual({
      name: 'profiles',
      partitionKey: { name: 'id', type: 'string' },
      billingMode: 'PAY_PER_REQUEST',
      readCapacity: 5,
      writeCapacity: 5,
      regions: ['us-east-1', 'eu-west-1', 'ap-southeast-1'],
      tombstoneTtlSeconds: DEFAULT_TOMBSTONE_TTL_SECONDS,
      ttlAttribute: '_rs_exp',
      retainOnDelete: true,
      strategy: { strategy: 'lww' },
      conflictLogRetentionSeconds: 30 * 86_400,
      replicateTtlDeletes: false,
      batchingWindowSeconds: { stream: 0, queue: 0 },
      lagBudgetMs: 1000,
      parallelizationFactor: 1,
      maxClockOffsetSeconds: 5,
    });
    expect(resolved.tables[0]).toMatchObject({ sortKey: { name: 'sk', type: 'number' }, billingMode: 'PROVISIONED', regions: ['us-east-1', 'eu-west-1'] });
  });

  it('accepts tombstoneTtlSeconds exactly at the minimum', () => {
    // Prepare
    const config = withTable({ tombstoneTtlSeconds: MIN_TOMBSTONE_TTL_SECONDS });

    // Act
    const resolved = validateConfig(config);

    // Assess
    expect(resolved.tables[0]!.tombstoneTtlSeconds).toBe(MIN_TOMBSTONE_TTL_SECONDS);
  });
});

describe('validateConfig rejects, naming the field and the bad value', () => {
  it('an unknown region name (string form)', () => {
    // Prepare
    const config = baseConfig({ regions: ['us-east-1', 'eu-west-1', 'ap-southeast-1', 'mars-north-1'] });

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'regions[3]', 'mars-north-1');
  });

  it('an unknown region name (object form)', () => {
    // Prepare
    const config = baseConfig({ regions: ['us-east-1', 'eu-west-1', 'ap-southeast-1', { region: 'us-east-7', account: '444444444444' }] });

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'regions[3].region', 'us-east-7');
  });

  it.each([
    [{}, 'regions[1].credentials', {}],
    [{ roleArn: 'ops-role' }, 'regions[1].credentials.roleArn', 'ops-role'],
    [{ profile: ' ' }, 'regions[1].credentials.profile', ' '],
  ])('CLI credentials %j that name nothing usable', (credentials, path, shown) => {
    // Prepare
    const config = baseConfig({ regions: ['us-east-1', { region: 'eu-west-1', credentials }, 'ap-southeast-1'] });

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, path, shown);
  });

  it('accepts CLI credentials with a profile and a role to assume', () => {
    const config = baseConfig({
      regions: [
        'us-east-1',
        { region: 'eu-west-1', account: '222222222222', credentials: { profile: 'ops', roleArn: 'arn:aws:iam::222222222222:role/regionsync-ops' } },
        'ap-southeast-1',
      ],
    });
    expect(validateConfig(config).regions[1]).toMatchObject({ credentials: { profile: 'ops', roleArn: 'arn:aws:iam::222222222222:role/regionsync-ops' } });
  });

  it('a duplicate table name', () => {
    // Prepare
    const base = baseConfig();
    const config = { ...base, tables: [...base.tables, { name: 'orders', partitionKey: { name: 'other', type: 'string' as const } }] };

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'tables[2].name', 'orders');
  });

  it('fewer than two regions overall', () => {
    // Prepare
    const config: RegionSyncConfig = { regions: ['us-east-1'], tables: [{ name: 'orders', partitionKey: { name: 'pk', type: 'string' } }] };

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'regions', ['us-east-1']);
  });

  it('fewer than two regions for one table', () => {
    // Prepare
    const config = withTable({ regions: ['eu-west-1'] });

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'tables[0].regions', ['eu-west-1']);
  });

  it('a missing partition key', () => {
    // Prepare
    const config = withTable((t) => ({ name: t.name, regions: t.regions }) as TableConfig);

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'tables[0].partitionKey', undefined);
  });

  it('a table region that is not in the region list', () => {
    // Prepare
    const config = withTable({ regions: ['us-east-1', 'eu-central-1'] });

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'tables[0].regions[1]', 'eu-central-1');
  });

  it('tombstoneTtlSeconds one second below the minimum', () => {
    // Prepare
    const config = withTable({ tombstoneTtlSeconds: MIN_TOMBSTONE_TTL_SECONDS - 1 });

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'tables[0].tombstoneTtlSeconds', MIN_TOMBSTONE_TTL_SECONDS - 1);
  });

  it.each([
    ['partitionKey', { partitionKey: { name: '_rs_v', type: 'string' as const } }, '_rs_v'],
    ['sortKey', { sortKey: { name: '_rs_sort', type: 'number' as const } }, '_rs_sort'],
  ])('a reserved _rs_ name for the %s', (which, change, name) => {
    // Prepare
    const config = withTable(change);

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, `tables[0].${which}.name`, name);
  });

  it('every problem at once, not only the first', () => {
    // Prepare
    const base = baseConfig({ regions: ['us-east-1', 'eu-west-1', 'ap-southeast-1', 'mars-north-1'] });
    const config: RegionSyncConfig = {
      ...base,
      tables: [
        { ...base.tables[0]!, tombstoneTtlSeconds: 60 },
        { name: 'profiles', partitionKey: { name: '_rs_id', type: 'string' } },
        { name: 'profiles', partitionKey: { name: 'id', type: 'string' }, regions: ['us-east-1'] },
      ],
    };

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'regions[3]', 'mars-north-1');
    expectProblem(problems, 'tables[0].tombstoneTtlSeconds', 60);
    expectProblem(problems, 'tables[1].partitionKey.name', '_rs_id');
    expectProblem(problems, 'tables[2].name', 'profiles');
    expectProblem(problems, 'tables[2].regions', ['us-east-1']);
    expect(problems).toHaveLength(5);
  });
});

describe('buildApp', () => {
  it('rejects a bad config with the same ConfigError, listing every problem in its message, and adds no stack', () => {
    // Prepare
    const app = testApp();
    const config = withTable({ regions: ['us-east-1', 'eu-central-1'], tombstoneTtlSeconds: 1 });

    // Act
    let error: unknown;
    try {
      buildApp(app, config, { defaultAccount: '999999999999' });
    } catch (e) {
      error = e;
    }

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('tables[0].regions[1]');
    expect(message).toContain('"eu-central-1"');
    expect(message).toContain('tables[0].tombstoneTtlSeconds');
    expect(message).toContain('(got 1)');
    expect(app.node.children.filter((c) => Stack.isStack(c))).toEqual([]);
  });

  it('adds one stack per region that holds a table, for a valid config', () => {
    // Prepare
    const app = testApp();

    // Act
    const stacks = buildApp(app, baseConfig(), { defaultAccount: '999999999999' });

    // Assess
    expect(stacks.map((s) => [s.stackName, s.region, s.account])).toEqual([
      ['rsunit-us-east-1', 'us-east-1', '111111111111'],
      ['rsunit-eu-west-1', 'eu-west-1', '222222222222'],
      ['rsunit-ap-southeast-1', 'ap-southeast-1', '999999999999'],
    ]);
  });
});

/*
 * Configs that validate today but cannot deploy. These fail until validate.ts checks them (see
 * the proposed fixes in the infra test report).
 */
describe('validateConfig rejects configs that cannot deploy', () => {
  it('a table name that is not a valid SQS queue name part (SQS allows letters, digits, - and _ only)', () => {
    // Prepare: "orders.v2" is a valid DynamoDB table name, but "rsunit-orders.v2-inbound" is no valid queue name.
    const config = withTable({ name: 'orders.v2' });

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'tables[0].name', 'orders.v2');
  });

  it("a table name that makes its queue names longer than SQS's 80 characters", () => {
    // Prepare: 30 + 1 + 45 + "-inbound" = 84 characters.
    const name = 'a'.repeat(45);
    const config = { ...withTable({ name }), appName: 'a'.repeat(30) };

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expectProblem(problems, 'tables[0].name', name);
  });

  it('a table replicated across AWS partitions (no SQS, no IAM across aws and aws-cn)', () => {
    // Prepare
    const config: RegionSyncConfig = { regions: ['us-east-1', 'cn-north-1'], tables: [{ name: 'orders', partitionKey: { name: 'pk', type: 'string' } }] };

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expect(problems.filter((p) => p.includes('cn-north-1'))).not.toEqual([]);
  });
});

describe('conflict resolution settings', () => {
  it.each<[string, unknown, string, unknown]>([
    ['an unknown strategy', { strategy: 'newest' }, 'tables[0].conflictResolution.strategy', 'newest'],
    ['a merge strategy without attributes', { strategy: 'merge', attributes: {} }, 'tables[0].conflictResolution.attributes', {}],
    ['an unknown CRDT kind', { strategy: 'merge', attributes: { likes: 'gauge' } }, 'tables[0].conflictResolution.attributes.likes', 'gauge'],
    ['a key attribute declared as a CRDT', { strategy: 'merge', attributes: { pk: 'counter' } }, 'tables[0].conflictResolution.attributes.pk', 'counter'],
    [
      'a resolver module that does not exist',
      { strategy: 'custom', resolver: 'resolvers/nope.ts#x' },
      'tables[0].conflictResolution.resolver',
      'resolvers/nope.ts#x',
    ],
    [
      'a resolver export that does not exist',
      { strategy: 'custom', resolver: 'resolvers/documents.ts#nope' },
      'tables[0].conflictResolution.resolver',
      'resolvers/documents.ts#nope',
    ],
  ])('rejects %s, naming the field and the value', (_name, conflictResolution, field, value) => {
    // Prepare
    const config = withTable({ conflictResolution } as never);
    // Act
    const problems = problemsOf(() => validateConfig(config));
    // Assess
    expectProblem(problems, field, value);
  });

  it('resolves a custom resolver to its module and export', () => {
    const resolved = validateConfig(withTable({ conflictResolution: { strategy: 'custom', resolver: 'resolvers/documents.ts#resolveDocument' } }));
    expect(resolved.tables[0]!.strategy).toEqual({ strategy: 'custom' });
    expect(resolved.tables[0]!.resolver?.exportName).toBe('resolveDocument');
    expect(resolved.tables[0]!.resolver?.file).toMatch(/resolvers\/documents\.ts$/);
  });

  it('rejects a conflict log retention outside 1..3650 days', () => {
    const problems = problemsOf(() => validateConfig(withTable({ conflictLog: { retentionDays: 0 } })));
    expectProblem(problems, 'tables[0].conflictLog.retentionDays', 0);
  });

  it("rejects a batching window outside Lambda's 0..300 s or on an unknown mapping, and keeps a valid one", () => {
    const problems = problemsOf(() => validateConfig(withTable({ batchingWindowSeconds: { stream: 301, queue: 1.5, applier: 2 } as never })));
    expectProblem(problems, 'tables[0].batchingWindowSeconds.stream', 301);
    expectProblem(problems, 'tables[0].batchingWindowSeconds.queue', 1.5);
    expectProblem(problems, 'tables[0].batchingWindowSeconds.applier', 2);
    expect(validateConfig(withTable({ batchingWindowSeconds: { queue: 2 } })).tables[0]!.batchingWindowSeconds).toEqual({ stream: 0, queue: 2 });
  });

  it('derives the batching windows from the lag budget: none at the default 1 s, the whole seconds beside the unbatched ~1 s above it', () => {
    // Act
    const at = (lagBudgetMs?: number) => validateConfig(withTable(lagBudgetMs === undefined ? {} : { lagBudgetMs })).tables[0]!;
    // Assess
    expect(at()).toMatchObject({ lagBudgetMs: 1000, batchingWindowSeconds: { stream: 0, queue: 0 } });
    expect(at(1999).batchingWindowSeconds).toEqual({ stream: 0, queue: 0 });
    expect(at(2000).batchingWindowSeconds).toEqual({ stream: 1, queue: 0 });
    expect(at(3500).batchingWindowSeconds).toEqual({ stream: 2, queue: 0 });
  });

  it('rejects a lag budget below 1 s or not whole milliseconds, naming the key', () => {
    for (const bad of [999, 1500.5, '2s', 600_001]) {
      const problems = problemsOf(() => validateConfig(withTable({ lagBudgetMs: bad as never })));
      expectProblem(problems, 'tables[0].lagBudgetMs', bad);
    }
  });

  it('keeps windows set by hand over the budget, and rejects them when both are set and disagree', () => {
    // Act
    const kept = validateConfig(withTable({ batchingWindowSeconds: { queue: 1 } })).tables[0]!;
    const problems = problemsOf(() => validateConfig(withTable({ lagBudgetMs: 2000, batchingWindowSeconds: { stream: 3 } })));
    // Assess
    expect(kept.batchingWindowSeconds).toEqual({ stream: 0, queue: 1 });
    expectProblem(problems, 'tables[0].batchingWindowSeconds', { stream: 3 });
  });

  it("rejects a parallelization factor outside Lambda's 1..10, naming the key, and keeps a valid one", () => {
    for (const bad of [0, 11, 2.5])
      expectProblem(
        problemsOf(() => validateConfig(withTable({ parallelizationFactor: bad }))),
        'tables[0].parallelizationFactor',
        bad,
      );
    expect(validateConfig(withTable({ parallelizationFactor: 4 })).tables[0]!.parallelizationFactor).toBe(4);
  });

  it("rejects windows that would keep the lag at or above the table's lag alarm, unless the alarm is raised", () => {
    // Act: a 6 s budget against the default 5 s alarm; then with the alarm at 10 s
    const problems = problemsOf(() => validateConfig(withTable({ lagBudgetMs: 6000 })));
    const raised = validateConfig({ ...withTable({ lagBudgetMs: 6000 }), monitoring: { lagP99ThresholdMs: 10_000 } });
    // Assess
    expectProblem(problems, 'tables[0].lagBudgetMs', 6000);
    expect(raised.tables[0]!.batchingWindowSeconds).toEqual({ stream: 5, queue: 0 });
  });

  it('rejects a clock bound (maxClockOffsetSeconds) outside 0.5..3600 s, app-wide or per table, naming the key', () => {
    // Prepare
    const config = { ...withTable({ maxClockOffsetSeconds: '5' as never }), maxClockOffsetSeconds: 0.1 };
    // Act
    const problems = problemsOf(() => validateConfig(config));
    // Assess
    expectProblem(problems, 'maxClockOffsetSeconds', 0.1);
    expectProblem(problems, 'tables[0].maxClockOffsetSeconds', '5');
    expect(problemsOf(() => validateConfig(baseConfig({ maxClockOffsetSeconds: 3601 })))).toEqual([
      expect.stringMatching(/^maxClockOffsetSeconds: must be a number of seconds from 0\.5 to 3600/),
    ]);
  });

  it('resolves the clock bound: the table`s own, else the app`s, else 5 s', () => {
    // Prepare
    const config = { ...withTable({ maxClockOffsetSeconds: 2.5 }), maxClockOffsetSeconds: 10 };
    // Act
    const tables = validateConfig(config).tables;
    // Assess
    expect(tables.map((t) => t.maxClockOffsetSeconds)).toEqual([2.5, 10]);
    expect(validateConfig(baseConfig()).tables[0]!.maxClockOffsetSeconds).toBe(5);
  });
});

describe('unknown settings fail, naming the path and the setting meant', () => {
  it('a typo of replicate (or the name selection) on a table: data-residency exclusions cannot be turned off by a typo', () => {
    // Prepare
    const typo = withTable((t) => ({ ...t, replicat: { to: { 'eu-west-1': { exclude: ['email'] } } } }) as TableConfig);
    const other = withTable((t) => ({ ...t, selection: { to: { 'eu-west-1': { exclude: ['email'] } } } }) as TableConfig);

    // Act + Assess
    expect(problemsOf(() => validateConfig(typo))).toEqual([
      'tables[0].replicat: unknown setting; did you mean \'replicate\'? (got {"to":{"eu-west-1":{"exclude":["email"]}}})',
    ]);
    expect(problemsOf(() => validateConfig(other))).toEqual([
      'tables[0].selection: unknown setting; did you mean \'replicate\'? (got {"to":{"eu-west-1":{"exclude":["email"]}}})',
    ]);
  });

  it('at every level: top, region, key, strategy, monitoring, fence; all reported together with the value problems', () => {
    // Prepare
    const config = {
      ...baseConfig(),
      monitorin: { alarms: false },
      regions: ['us-east-1', { region: 'eu-west-1', acount: '222222222222' }],
      tables: [
        {
          name: 'orders',
          partitionKey: { name: 'pk', type: 'string', sortkey: 'sk' },
          conflictResolution: { strategy: 'merge', attributes: { likes: 'counter' }, atributes: {} },
          monitoring: { lagP99ThresholdMs: 1000, fence: { on: ['lagP99'] }, backlogAgeThresholdSecond: 60 },
          tombstoneTtlSeconds: 5,
        },
      ],
    } as unknown as RegionSyncConfig;

    // Act
    const problems = problemsOf(() => validateConfig(config));

    // Assess
    expect(problems).toEqual(
      expect.arrayContaining([
        'monitorin: unknown setting; did you mean \'monitoring\'? (got {"alarms":false})',
        'regions[1].acount: unknown setting; did you mean \'account\'? (got "222222222222")',
        'tables[0].partitionKey.sortkey: unknown setting (known: name, type) (got "sk")',
        "tables[0].conflictResolution.atributes: unknown setting; did you mean 'attributes'? (got {})",
        "tables[0].monitoring.backlogAgeThresholdSecond: unknown setting; did you mean 'backlogAgeThresholdSeconds'? (got 60)",
        expect.stringMatching(/^tables\[0\]\.tombstoneTtlSeconds: must be a whole number/),
      ]),
    );
    expect(problems).toHaveLength(6);
  });

  it('a valid config, with every optional setting, passes the strict check', () => {
    // Prepare: every setting the schema knows, at every level
    const config: RegionSyncConfig = {
      ...baseConfig(),
      maxClockOffsetSeconds: 5,
      monitoring: {
        alarms: true,
        dashboards: true,
        stacks: { 'us-east-1': { alarms: true, dashboards: false } },
        globalDashboardRegion: 'us-east-1',
        alarmEmails: ['ops@example.com'],
        alarmHttpsEndpoints: [],
        lagP99ThresholdMs: 5000,
      },
      tables: [
        {
          name: 'orders',
          partitionKey: { name: 'pk', type: 'string' },
          sortKey: { name: 'sk', type: 'number' },
          billingMode: 'PROVISIONED',
          readCapacity: 5,
          writeCapacity: 5,
          regions: ['us-east-1', 'eu-west-1'],
          tombstoneTtlSeconds: MIN_TOMBSTONE_TTL_SECONDS,
          ttlAttribute: 'expires',
          retainOnDelete: false,
          conflictResolution: { strategy: 'fields' },
          conflictLog: { enabled: true, retentionDays: 7 },
          replicateTtlDeletes: true,
          monitoring: { fence: { on: ['lagP99'] }, parkedAgeThresholdSeconds: 600 },
          replicate: { to: { 'eu-west-1': { exclude: ['email'] } } },
          names: { 'eu-west-1': 'orders_eu' },
          batchingWindowSeconds: { stream: 1, queue: 1 },
          maxClockOffsetSeconds: 2,
        },
      ],
    };

    // Act + Assess
    expect(validateConfig(config).tables[0]!.selection).toEqual({ to: { 'eu-west-1': { exclude: ['email'] } } });
  });
});
