/**
 * What a table costs at the rates real tables are written (10 to 1,000 items a second), next to
 * Global Tables: the bench's measured per-item counts through the rate model (rate-model.ts).
 * Pure: run.ts hands in what it measured.
 */
import { scenarioWriteUnits, type PathUsage } from './cost-model.ts';
import { costAtRate, idleUsdPerTableRegionMonth, type PerItemMeasured, type RateModelConfig } from './rate-model.ts';

/** Items per second per region: a quiet table, a typical one, a busy one, one at a partition's write limit. */
export const REALISTIC_RATES = [10, 30, 100, 1000] as const;
/** The batching windows (stream, queue; seconds) the trade-off curve is drawn for. */
export const TRADEOFF_WINDOWS: readonly { readonly stream: number; readonly queue: number }[] = [
  { stream: 0, queue: 0 },
  { stream: 1, queue: 0 },
  { stream: 2, queue: 0 },
  { stream: 5, queue: 0 },
  { stream: 1, queue: 2 },
];
const DYNAMODB_READ_UNIT_BYTES = 4096;

export type Path = 'plain' | 'helper';
export type Workload = 'insert' | 'update';

/** Per item per target, as RequestFigures.detail counts them. */
export interface MeasuredDetail {
  readonly stampWrites: number;
  readonly applyWrites: number;
  readonly echoRecords: number;
}

/** The per-item counts one bench phase measured (a saturated drain, or a step at a rate). */
export function perItemFrom(u: PathUsage, detail: MeasuredDetail, targets: number): PerItemMeasured {
  const phase = { detail };
  return {
    appWriteUnits: u.appWriteUnits,
    appReadUnits: u.appReadUnits,
    sourceWriteUnits: u.sourceWriteUnits,
    sourceReadUnits: u.sourceReadUnits ?? 0,
    targetWriteUnits: u.perTarget.writeUnits,
    targetReadUnits: u.perTarget.readUnits ?? 0,
    // Small rows and items: one read unit is one read call.
    stampCalls: phase.detail.stampWrites * targets,
    sourceReadCalls: u.sourceReadUnits ?? 0,
    applyCallsPerTarget: phase.detail.applyWrites + (u.perTarget.readUnits ?? 0),
    changeBytes: u.perTarget.transferBytes,
    echoRecordsPerChange: phase.detail.echoRecords,
  };
}

/** The same counts for items of another size: write units and bytes follow the item, calls do not. */
export function resized(
  m: PerItemMeasured,
  path: Path,
  workload: Workload,
  measuredItemBytes: number,
  itemBytes: number,
  metadataBytes: number,
): PerItemMeasured {
  if (itemBytes === measuredItemBytes) return m;
  const units = scenarioWriteUnits({ name: '', appItemBytes: itemBytes, metadataBytes, kind: workload }, path);
  const measuredUnits = scenarioWriteUnits({ name: '', appItemBytes: measuredItemBytes, metadataBytes, kind: workload }, path);
  const scale = (measured: number, per: number, perMeasured: number) => (perMeasured > 0 ? (measured * per) / perMeasured : measured);
  const readUnits = (bytes: number) => Math.ceil(bytes / DYNAMODB_READ_UNIT_BYTES);
  return {
    ...m,
    appWriteUnits: scale(m.appWriteUnits, units.app, measuredUnits.app),
    sourceWriteUnits: scale(m.sourceWriteUnits, units.source, measuredUnits.source),
    targetWriteUnits: scale(m.targetWriteUnits, units.perTarget, measuredUnits.perTarget),
    // The client helper reads the item (eventually consistent: half a unit per 4 KB).
    appReadUnits: scale(m.appReadUnits, readUnits(itemBytes + metadataBytes), readUnits(measuredItemBytes + metadataBytes)),
    changeBytes: m.changeBytes + (itemBytes - measuredItemBytes),
  };
}

export interface RateRatio {
  readonly offeredPerSec: number;
  readonly path: Path;
  readonly workload: Workload;
  readonly itemBytes: number;
  /** regionsync's dollars per million items (idle receives spread over the month's items) over Global Tables'. */
  readonly ratio: number;
  /** Modelled cloud lag, us-east-1 → the targets, p99. */
  readonly lagP99Ms: number;
  readonly lagP99MsByPair: Record<string, number>;
  readonly windowSeconds: { readonly stream: number; readonly queue: number };
  readonly usdPerMillion: { readonly regionsync: number; readonly globalTables: number; readonly idle: number };
  readonly breakdown: Record<string, number>;
  readonly batching: {
    readonly recordsPerShipperInvocation: number;
    readonly changesPerMessage: number;
    readonly messagesPerApplierInvocation: number;
    readonly parallelization: number;
    readonly keepsUp: boolean;
  };
  /** Per item: SQS requests billed and Lambda invocations, all regions. */
  readonly perItem: { readonly sqsBilled: number; readonly lambdaInvocations: number };
  readonly basis: 'modelled';
}

export function rateRatio(rate: number, path: Path, workload: Workload, itemBytes: number, m: PerItemMeasured, config: RateModelConfig): RateRatio {
  const r = costAtRate(rate, m, config, itemBytes);
  const f = r.figures;
  const targets = config.targets.length;
  return {
    offeredPerSec: rate,
    path,
    workload,
    itemBytes,
    ratio: r.ratio,
    lagP99Ms: f.lagMs.p99,
    lagP99MsByPair: Object.fromEntries(Object.entries(f.lagMs.byPair).map(([k, v]) => [k, v.p99])),
    windowSeconds: config.windows,
    usdPerMillion: { regionsync: round(r.regionsync.total + r.idleUsdPerMillionItems, 4), globalTables: r.globalTables.total, idle: r.idleUsdPerMillionItems },
    breakdown: { ...r.regionsync },
    batching: {
      recordsPerShipperInvocation: f.recordsPerShipperInvocation,
      changesPerMessage: f.changesPerMessage,
      messagesPerApplierInvocation: f.messagesPerApplierInvocation,
      parallelization: f.parallelization,
      keepsUp: f.keepsUp,
    },
    perItem: {
      sqsBilled: round(targets * f.perTarget.sqsBilled, 4),
      lambdaInvocations: round(f.shipperInvocationsPerItem + targets * f.usage.perTarget.lambdaInvocations, 4),
    },
    basis: 'modelled',
  };
}

export interface RealisticRatesInput {
  /** Per-item counts by path and workload, measured at `measuredItemBytes`. */
  readonly measured: Readonly<Record<Path, Readonly<Record<Workload, PerItemMeasured>>>>;
  readonly measuredItemBytes: number;
  readonly metadataBytes: number;
  readonly itemSizes: readonly number[];
  /** By path: the shipper's CPU differs (the helper's writes need no stamp). */
  readonly config: Readonly<Record<Path, RateModelConfig>>;
}

/** `costRatioAtRate`: every rate × path × item size × workload at the configured windows. */
export function costRatioAtRates(i: RealisticRatesInput): RateRatio[] {
  const out: RateRatio[] = [];
  for (const workload of ['insert', 'update'] as const)
    for (const itemBytes of i.itemSizes)
      for (const path of ['helper', 'plain'] as const)
        for (const rate of REALISTIC_RATES) {
          const m = resized(i.measured[path][workload], path, workload, i.measuredItemBytes, itemBytes, i.metadataBytes);
          out.push(rateRatio(rate, path, workload, itemBytes, m, i.config[path]));
        }
  return out;
}

/** The trade-off curve: cost ratio against modelled lag for each batching window, at each rate (inserts, measured item size). */
export function batchingTradeoff(i: RealisticRatesInput): RateRatio[] {
  const out: RateRatio[] = [];
  for (const windows of TRADEOFF_WINDOWS)
    for (const path of ['helper', 'plain'] as const)
      for (const rate of REALISTIC_RATES)
        out.push(rateRatio(rate, path, 'insert', i.measuredItemBytes, i.measured[path].insert, { ...i.config[path], windows }));
  return out;
}

/**
 * The realistic-rate figures as a Markdown table: one row per path, workload and item size, one
 * column per rate, each cell the ratio to Global Tables and the modelled lag p99.
 */
export function realisticRatesTable(rows: readonly RateRatio[]): string[] {
  const rates = [...new Set(rows.map((r) => r.offeredPerSec))].sort((a, b) => a - b);
  const keys = [...new Set(rows.map((r) => `${r.workload}|${r.path}|${r.itemBytes}`))];
  const name = (path: string) => (path === 'helper' ? 'client helper' : 'plain writes');
  return [
    `| ${['', ...rates.map((r) => `${r} items/s`)].join(' | ')} |`,
    `|${['---', ...rates.map(() => '---')].join('|')}|`,
    ...keys.map((k) => {
      const [workload, path, bytes] = k.split('|') as [string, string, string];
      const cells = rates.map((rate) => {
        const r = rows.find((x) => x.offeredPerSec === rate && `${x.workload}|${x.path}|${x.itemBytes}` === k);
        return r
          ? `${r.ratio.toFixed(2)}× · p99 ${(r.lagP99Ms / 1000).toFixed(1)} s${r.batching.parallelization > 1 ? ` (factor ${r.batching.parallelization})` : ''}`
          : '';
      });
      return `| ${[`${name(path)}, ${workload}s, ${bytes} B`, ...cells].join(' | ')} |`;
    }),
  ];
}

export { idleUsdPerTableRegionMonth };

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
