/**
 * The bench's rate model (dev/bench/rate-model.ts): how AWS would batch the work at a given write
 * rate. Pure arithmetic, checked against what the Lambda pollers must do at the extremes.
 */
import { describe, expect, it } from 'vitest';
import { costAtRate, idleUsdPerTableRegionMonth, modelRate, pollBatching, type PerItemMeasured, type RateModelConfig } from '../../dev/bench/rate-model.ts';
import { batchingWindowsFor, modelledP99Ms } from '../../src/core/batching.ts';

const CONFIG: RateModelConfig = {
  source: 'us-east-1',
  targets: ['eu-west-1', 'ap-southeast-1'],
  windows: { stream: 0, queue: 0 },
  shipperBatchSize: 500,
  maxMessageBytes: 256 * 1024,
  memoryMb: 512,
  cpuMicros: { shipper: 800, applier: 650 },
  callMs: { dynamodbWrite: 10, sqsSend: 20 },
  concurrency: 16,
  sqsMappingsPerTableRegion: 2,
};
const HELPER_INSERT: PerItemMeasured = {
  appWriteUnits: 1,
  appReadUnits: 0.5,
  sourceWriteUnits: 0,
  sourceReadUnits: 1,
  targetWriteUnits: 1,
  targetReadUnits: 1,
  stampCalls: 0,
  sourceReadCalls: 1,
  applyCallsPerTarget: 2,
  changeBytes: 1050,
  echoRecordsPerChange: 0,
};

describe('pollBatching (Poisson arrivals, one poll every τ seconds)', () => {
  it('invokes nothing at rate 0, about once per record when records are rare, and full batches when they pile up', () => {
    // Act
    const idle = pollBatching(0, 0.25, 500);
    const rare = pollBatching(0.1, 0.25, 500);
    const flood = pollBatching(10_000, 0.25, 500);
    // Assess
    expect(idle).toEqual({ invocationsPerSec: 0, recordsPerInvocation: 0 });
    expect(rare.recordsPerInvocation).toBeGreaterThanOrEqual(1);
    expect(rare.recordsPerInvocation).toBeLessThan(1.02);
    expect(flood).toEqual({ invocationsPerSec: 20, recordsPerInvocation: 500 });
  });

  it('never invokes more often than it polls', () => {
    for (const rate of [1, 10, 100, 1000]) expect(pollBatching(rate, 0.25, 500).invocationsPerSec).toBeLessThanOrEqual(4);
  });
});

describe('modelRate', () => {
  it('gets cheaper per item as the rate grows: fuller batches, fewer messages, receives and invocations', () => {
    // Act
    const ratios = [10, 30, 100, 1000].map((r) => costAtRate(r, HELPER_INSERT, CONFIG, 800));
    // Assess
    for (let i = 1; i < ratios.length; i++) {
      expect(ratios[i]!.ratio).toBeLessThan(ratios[i - 1]!.ratio);
      expect(ratios[i]!.figures.perTarget.sqsBilled).toBeLessThan(ratios[i - 1]!.figures.perTarget.sqsBilled);
    }
  });

  it('trades lag for cost with a stream window: fewer SQS requests per item at 10/s, and at least the window more lag', () => {
    // Act
    const none = modelRate(10, HELPER_INSERT, CONFIG);
    const oneSecond = modelRate(10, HELPER_INSERT, { ...CONFIG, windows: { stream: 1, queue: 0 } });
    // Assess
    expect(oneSecond.recordsPerShipperInvocation).toBeGreaterThan(2 * none.recordsPerShipperInvocation);
    expect(oneSecond.perTarget.sqsBilled).toBeLessThan(none.perTarget.sqsBilled / 2);
    expect(oneSecond.lagMs.p99 - none.lagMs.p99).toBeGreaterThanOrEqual(1000);
  });

  it("raises the stream mapping's parallelization when one batch at a time cannot keep up with a shard", () => {
    // Act: 4 ms of CPU per item at 512 MB is ~14 ms, 1,000 items/s on one shard is 14 s of work a second
    const slow = modelRate(1000, HELPER_INSERT, { ...CONFIG, cpuMicros: { shipper: 4000, applier: 650 } });
    const fast = modelRate(30, HELPER_INSERT, CONFIG);
    // Assess
    expect(fast.parallelization).toBe(1);
    expect(slow.parallelization).toBe(10);
    expect(slow.keepsUp).toBe(false);
  });

  it('batches the echoes the filter lets through (updates) like any stream records: fewer invocations per change as the rate grows', () => {
    // Prepare
    const update = { ...HELPER_INSERT, targetReadUnits: 0, applyCallsPerTarget: 1, echoRecordsPerChange: 1 };
    // Act
    const echoes = [10, 100, 1000].map(
      (r) => modelRate(r, update, CONFIG).usage.perTarget.lambdaInvocations - modelRate(r, update, CONFIG).perTarget.applierInvocations,
    );
    const none = modelRate(10, HELPER_INSERT, CONFIG);
    // Assess
    expect(none.usage.perTarget.lambdaInvocations).toBeCloseTo(none.perTarget.applierInvocations, 3);
    expect(echoes[0]!).toBeGreaterThan(0.1);
    expect(echoes[1]!).toBeLessThan(echoes[0]!);
    expect(echoes[2]!).toBeLessThan(0.01);
  });

  it('spreads the idle receives of every mapping of the table over the items of a month', () => {
    // Act
    const at10 = modelRate(10, HELPER_INSERT, CONFIG);
    // Assess: 2 mappings × 3 regions × $0.2592 / (10 × 2,592,000 items) per million
    expect(at10.idleUsdPerMillionItems).toBeCloseTo(((2 * 3 * 0.2592) / (10 * 2_592_000)) * 1e6, 3);
    expect(idleUsdPerTableRegionMonth(2)).toBeCloseTo(0.5184, 4);
    // One mapping (the inbound queue) and the backlog's drain every minute: 43,200 invocations and receives, 20 ms each at 512 MB.
    expect(idleUsdPerTableRegionMonth(1, { count: 1, everyMinutes: 1 }, 512)).toBeCloseTo(
      0.2592 + 0.0432 * (0.2 + 0.4) + 43_200 * 0.02 * 0.5 * 0.0000133334,
      4,
    );
  });

  it('models the windows the lag budget picks within that budget at 10 items/s (src/core/batching.ts)', () => {
    for (const budget of [1000, 2000, 3000]) {
      // Act
      const windows = batchingWindowsFor(budget);
      const lag = modelRate(10, HELPER_INSERT, { ...CONFIG, windows, targets: ['eu-west-1'] }).lagMs.p99;
      // Assess
      expect(modelledP99Ms(windows)).toBeLessThanOrEqual(budget);
      expect(lag).toBeLessThanOrEqual(budget + 100);
    }
  });
});
