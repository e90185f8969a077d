/**
 * The config's `monitoring` section: defaults, per-table overrides, per-stack switches, and one
 * problem per bad field, reported with every other config problem.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import { validateConfig } from '../../src/infra/config/validate.ts';

const base: RegionSyncConfig = {
  appName: 'rsmon',
  regions: ['us-east-1', 'eu-west-1', 'ap-southeast-1'],
  tables: [
    { name: 'orders', partitionKey: { name: 'pk', type: 'string' }, regions: ['eu-west-1', 'ap-southeast-1'] },
    { name: 'profiles', partitionKey: { name: 'id', type: 'string' }, regions: ['eu-west-1', 'ap-southeast-1'] },
  ],
};

function problemsOf(config: unknown): readonly string[] {
  try {
    validateConfig(config as RegionSyncConfig);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('monitoring defaults and overrides', () => {
  it('without a monitoring section: alarms and dashboards everywhere, documented thresholds, no fence, the global dashboard in the first region with a table', () => {
    // Act
    const m = validateConfig(base).monitoring!;

    // Assess
    expect(m.stacks).toEqual({
      'us-east-1': { alarms: true, dashboards: true },
      'eu-west-1': { alarms: true, dashboards: true },
      'ap-southeast-1': { alarms: true, dashboards: true },
    });
    expect(m.globalDashboardRegion).toBe('eu-west-1');
    expect(m.alarmEmails).toEqual([]);
    expect(m.tables.orders).toEqual({
      lagP99ThresholdMs: 5000,
      lagEvaluationMinutes: 5,
      lagMaxThresholdMs: 60000,
      backlogAgeThresholdSeconds: 300,
      iteratorAgeThresholdSeconds: 3600,
      errorRateThresholdPercent: 5,
      parkedAgeThresholdSeconds: 600,
      fenceOn: [],
    });
  });

  it('app-wide thresholds apply to every table, a table’s own override wins, `fence: true` fences on lag, backlog and iterator age', () => {
    // Prepare
    const config: RegionSyncConfig = {
      ...base,
      tables: [
        { ...base.tables[0]!, monitoring: { lagP99ThresholdMs: 800, fence: true } },
        { ...base.tables[1]!, monitoring: { fence: { on: ['dlq', 'lagMax'] } } },
      ],
      monitoring: { lagP99ThresholdMs: 2000, backlogAgeThresholdSeconds: 60, alarms: false, stacks: { 'eu-west-1': { alarms: true } } },
    };

    // Act
    const m = validateConfig(config).monitoring!;

    // Assess
    expect(m.tables.orders).toMatchObject({ lagP99ThresholdMs: 800, backlogAgeThresholdSeconds: 60, fenceOn: ['lagP99', 'backlogAge', 'iteratorAge'] });
    expect(m.tables.profiles).toMatchObject({ lagP99ThresholdMs: 2000, backlogAgeThresholdSeconds: 60, fenceOn: ['dlq', 'lagMax'] });
    expect(m.stacks['eu-west-1']).toEqual({ alarms: true, dashboards: true });
    expect(m.stacks['ap-southeast-1']).toEqual({ alarms: false, dashboards: true });
  });
});

describe('monitoring validation', () => {
  it('reports every bad field with its path and value, at once', () => {
    // Prepare
    const config = {
      ...base,
      tables: [{ ...base.tables[0]!, monitoring: { lagEvaluationMinutes: 2.5, fence: { on: ['lagP99', 'cpu'] }, lagP99Threshold: 10 } }, base.tables[1]],
      monitoring: {
        lagP99ThresholdMs: -1,
        iteratorAgeThresholdSeconds: 86400,
        errorRateThresholdPercent: 150,
        parkedAgeThresholdSeconds: 30,
        alarms: 'yes',
        stacks: { 'eu-wset-1': { alarms: false }, 'eu-west-1': { graphs: true } },
        globalDashboardRegion: 'us-east-1',
        alarmEmails: ['ops@example.com', 'not-an-email'],
        alarmHttpsEndpoints: ['http://pager.example.com'],
      },
    };

    // Act
    const problems = problemsOf(config);

    // Assess
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^monitoring\.lagP99ThresholdMs: must be a positive number of milliseconds \(got -1\)$/),
        expect.stringMatching(/^monitoring\.iteratorAgeThresholdSeconds: must be positive and below the stream's retention \(86400 s\).*\(got 86400\)$/),
        expect.stringMatching(/^monitoring\.errorRateThresholdPercent: .*\(got 150\)$/),
        expect.stringMatching(/^monitoring\.parkedAgeThresholdSeconds: must be from 60 to 86400 seconds.*\(got 30\)$/),
        expect.stringMatching(/^monitoring\.alarms: must be true or false \(got "yes"\)$/),
        expect.stringMatching(/^monitoring\.stacks\.eu-wset-1: not one of the configured regions/),
        expect.stringMatching(/^monitoring\.stacks\.eu-west-1\.graphs: unknown setting/),
        expect.stringMatching(/^monitoring\.globalDashboardRegion: must be a region that holds a table.*\(got "us-east-1"\)$/),
        expect.stringMatching(/^monitoring\.alarmEmails\[1\]: is not an email address \(got "not-an-email"\)$/),
        expect.stringMatching(/^monitoring\.alarmHttpsEndpoints\[0\]: must be an https:\/\/ URL/),
        expect.stringMatching(/^tables\[0\]\.monitoring\.lagEvaluationMinutes: must be a whole number of minutes from 1 to 1440 \(got 2\.5\)$/),
        expect.stringMatching(
          /^tables\[0\]\.monitoring\.fence\.on\[1\]: must be one of lagP99, lagMax, dlq, backlogAge, iteratorAge, shipperErrors, applierErrors, parkedAge, streamFailures, clockSkew \(got "cpu"\)$/,
        ),
        expect.stringMatching(/^tables\[0\]\.monitoring\.lagP99Threshold: unknown setting/),
      ]),
    );
    expect(problems).toHaveLength(13);
  });

  it('monitoring problems are reported together with the rest of the config’s', () => {
    const problems = problemsOf({ ...base, appName: '9bad', monitoring: { lagMaxThresholdMs: 0 } });
    expect(problems.some((p) => p.startsWith('appName:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('monitoring.lagMaxThresholdMs:'))).toBe(true);
  });
});
