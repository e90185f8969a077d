/**
 * The bench still runs: the quick bench at tiny sizes against the shared moto, in regions and
 * under an app name of its own. Checks the shape of what it writes and the request counts that
 * follow from the design; never a time (speed is what `npm run bench` reports, not a test).
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { presetOptions, runBench } from '../../dev/bench/run.ts';

// No other integration file deploys to these regions (the bench's runtime also runs only its own table's functions).
const REGIONS = ['eu-central-1', 'us-west-2'];
let outDir: string;
let result: Record<string, any>;
let written: Record<string, any>;

beforeAll(async () => {
  outDir = await mkdtemp(path.join(tmpdir(), 'bench-smoke-'));
  // Act: one tiny plain step, the helper step, two tiny backlogs, a small CPU run.
  result = await runBench(
    presetOptions('quick', {
      mode: 'custom',
      endpoint: inject('endpoint'),
      appName: 'benchsmoke',
      tableName: 'benchsmoke_items',
      regions: REGIONS,
      steps: [4],
      stepSeconds: 2,
      backlogItems: 30,
      cpuItems: 200,
      drainTimeoutSeconds: 40,
      outDir,
      log: () => undefined,
    }),
  );
  written = JSON.parse(await readFile(path.join(outDir, 'custom-latest.json'), 'utf8'));
});

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

describe('npm run bench (tiny)', () => {
  it('writes latest.json, a dated copy and an HTML report with plots', async () => {
    const files = await readdir(outDir);
    expect(files).toContain('custom-latest.json');
    expect(files.filter((f) => /^custom-\d{4}-\d{2}-\d{2}T\d{6}Z\.json$/.test(f))).toHaveLength(1);
    const html = await readFile(path.join(outDir, 'custom-latest.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|https?:\/\/cdn/i);
    expect(written.generatedAt).toBe(result.generatedAt);
  });

  it('holds every headline figure with a sane type', () => {
    for (const k of ['dynamodbWrite', 'dynamodbRead', 'sqs', 'lambdaInvocations']) expect(num(written.requestsPerItem[k]), `requestsPerItem.${k}`).toBe(true);
    for (const k of ['regionsync', 'globalTables']) expect(written.costPerMillionUsd[k], `costPerMillionUsd.${k}`).toBeGreaterThan(0);
    for (const k of ['shipper', 'applier', 'floor']) expect(written.cpuMicrosPerItem[k], `cpuMicrosPerItem.${k}`).toBeGreaterThan(0);
    expect(num(written.lagMs.p50) && num(written.lagMs.p99)).toBe(true);
    expect(written.lagMs.p99).toBeGreaterThanOrEqual(written.lagMs.p50);
    expect(written.throughputItemsPerSec).toBeGreaterThan(0);
    expect(written.cloudLagModelMs.p99).toBeGreaterThanOrEqual(written.cloudLagModelMs.p50);
    expect(written.cloudLagModelMs.p50).toBeGreaterThan(0);
    expect(written.costPerMillionUsd.prices.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(written.machine.cores).toBeGreaterThan(0);
  });

  it('replicated every item and counted the calls the design makes', () => {
    // Every step and backlog reached the target in full.
    for (const s of written.loadSteps) expect(s.undrained, `${s.path} ${s.offeredPerSec}/s`).toBe(0);
    for (const p of ['plain', 'helper']) expect(written.saturation[p].undrained, `${p} backlog`).toBe(0);
    const { plain, helper } = written.requestsPerItemByPath;
    // One conditional write per item in the target, on both paths.
    expect(plain.detail.applyWrites).toBeGreaterThanOrEqual(1);
    expect(helper.detail.applyWrites).toBeGreaterThanOrEqual(1);
    // Plain writes cost a stamping write at the source; the client helper's do not, but it reads the item first.
    expect(plain.detail.stampWrites).toBeGreaterThanOrEqual(1);
    expect(helper.detail.stampWrites).toBe(0);
    expect(plain.application).toMatchObject({ writes: 1, reads: 0 });
    expect(helper.application).toMatchObject({ writes: 1, reads: 1 });
    // Changes are packed: fewer SQS sends than items.
    expect(helper.detail.sqsSend).toBeLessThan(1);
    expect(helper.detail.changesPerMessage).toBeGreaterThan(1);
  });

  it('writes the cost at realistic rates, the idle cost, the batching trade-off and the echoes of an update workload', () => {
    // Every rate × path × item size × workload, each a ratio to Global Tables with a modelled lag.
    const rows = written.costRatioAtRate as { offeredPerSec: number; path: string; itemBytes: number; workload: string; ratio: number; lagP99Ms: number }[];
    expect(rows).toHaveLength(4 * 2 * 2 * 2);
    expect(new Set(rows.map((r) => r.offeredPerSec))).toEqual(new Set([10, 30, 100, 1000]));
    for (const r of rows) {
      expect(r.ratio, `${r.path} ${r.workload} ${r.itemBytes} B at ${r.offeredPerSec}/s`).toBeGreaterThan(1);
      expect(r.lagP99Ms).toBeGreaterThan(0);
    }
    // Fuller batches at higher rates: never dearer per item.
    const helper800 = rows
      .filter((r) => r.path === 'helper' && r.workload === 'insert' && r.itemBytes === 800)
      .sort((a, b) => a.offeredPerSec - b.offeredPerSec);
    for (let i = 1; i < helper800.length; i++) expect(helper800[i]!.ratio).toBeLessThanOrEqual(helper800[i - 1]!.ratio);
    // Idle: one SQS mapping per table and region (the inbound queue), long-polled, and the backlog's drain schedule, once a minute.
    expect(written.idle.sqsMappingsPerTableRegion).toBe(1);
    expect(written.idle.schedulesPerTableRegion).toEqual({ count: 1, everyMinutes: 1 });
    expect(written.idleUsdPerTableRegionMonth).toBeCloseTo(written.idle.usdPerQueueMonth + written.idle.usdPerScheduleMonth, 3);
    expect(written.idleUsdPerTableRegionMonth).toBeLessThan(0.35);
    expect(written.batchingTradeoff.length).toBeGreaterThan(0);
    // The update workload's echoes: one stream record per applied change in each target, counted.
    for (const e of written.echoFilter) {
      expect(e.workload).toBe('update');
      expect(e.items).toBeGreaterThan(0);
      expect(e.droppedShare).toBeGreaterThanOrEqual(0);
      expect(e.droppedShare).toBeLessThanOrEqual(1);
    }
    expect(written.loadSteps.filter((s: { workload: string }) => s.workload === 'update')).toHaveLength(2);
  });
});
