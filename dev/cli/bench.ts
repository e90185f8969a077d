/**
 * `regionsync bench` (`npm run bench`): replication cost and lag on the embedded emulator.
 * Writes dev/bench/results/latest.json, a dated copy and latest.html (see dev/bench/run.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { COMMON_OPTIONS, defineCommand, UsageError } from '../../src/cli/command.ts';
import { renderReport } from '../bench/report-html.ts';
import { formatOperationCosts, measureOperationCosts } from '../bench/operation-costs.ts';
import { presetOptions, runBench } from '../bench/run.ts';
import { realisticRatesTable, type RateRatio } from '../bench/realistic-rates.ts';

export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'deploy to moto (or --endpoint), offer rising load, count requests per item, model cost and lag; an HTML report',
  description: `Writes DIR/latest.json (--quick: quick-latest.json), a dated copy and an HTML report.
--render FILE.json writes the HTML report of an earlier run next to it. --ops-only measures only the
per-operation cost (DynamoDB calls per item for creates, updates, deletes, re-creates; metadata bytes
per strategy) on in-memory fakes: no emulator.`,
  options: {
    quick: { type: 'boolean', description: 'smaller steps (~3 min)' },
    endpoint: COMMON_OPTIONS.endpoint,
    out: { type: 'string', value: 'DIR', description: 'where the results go (default dev/bench/results)' },
    steps: { type: 'string', value: '5,10,20', description: 'offered loads, items per second' },
    'step-seconds': { type: 'string', value: 'N', description: 'seconds per load step' },
    window: { type: 'string', value: 'S', description: 'deploy the table with S-second batching windows (results: window<S>-latest.json)' },
    json: COMMON_OPTIONS.json,
    render: { type: 'string', value: 'FILE.json', description: 'only write the HTML report of an earlier run' },
    verbose: { type: 'boolean', description: 'show the deploy and the runtime' },
    'ops-only': { type: 'boolean', description: 'only the per-operation cost, on in-memory fakes' },
  },
  run: async (values) => {
    if (values.render) {
      const file = path.resolve(values.render);
      const out = `${file.replace(/\.json$/, '')}.html`;
      await writeFile(out, renderReport(JSON.parse(await readFile(file, 'utf8'))));
      console.log(`wrote ${out}`);
      return 0;
    }
    if (values['ops-only']) {
      const costs = await measureOperationCosts();
      if (values.json) console.log(JSON.stringify(costs, null, 2));
      else for (const line of formatOperationCosts(costs)) console.log(line);
      return 0;
    }
    const steps = values.steps?.split(',').map(Number);
    if (steps?.some((s) => !(s > 0))) {
      throw new UsageError(`--steps must be positive numbers separated by commas (got "${values.steps}")`);
    }
    const stepSeconds = values['step-seconds'] === undefined ? undefined : Number(values['step-seconds']);
    if (stepSeconds !== undefined && !(stepSeconds > 0)) {
      throw new UsageError(`--step-seconds must be a positive number (got "${values['step-seconds']}")`);
    }
    const window = values.window === undefined ? undefined : Number(values.window);
    if (window !== undefined && !(Number.isInteger(window) && window >= 0 && window <= 300)) {
      throw new UsageError(`--window must be whole seconds from 0 to 300 (got "${values.window}")`);
    }
    const log = values.json ? (l: string) => console.error(l) : (l: string) => console.log(l);
    const opts = presetOptions(values.quick ? 'quick' : 'full', {
      ...(values.endpoint ? { endpoint: values.endpoint } : {}),
      ...(values.out ? { outDir: path.resolve(values.out) } : {}),
      ...(steps ? { steps } : {}),
      ...(stepSeconds ? { stepSeconds } : {}),
      ...(window !== undefined ? { batchingWindowSeconds: window } : {}),
      verbose: values.verbose,
      log,
    });
    const result = await runBench(opts);
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else printSummary(result as never);
    return 0;
  },
});

function printSummary(r: {
  costRatioAtRate: RateRatio[];
  idleUsdPerTableRegionMonth: number;
  requestsPerItem: Record<string, number>;
  costPerMillionUsd: { regionsync: number; globalTables: number; ratio: number; regionsyncPlain: number; ratioPlain: number };
  cpuMicrosPerItem: Record<string, number>;
  lagMs: { p50: number | null; p99: number | null; offeredPerSec: number };
  throughputItemsPerSec: number;
  cloudLagModelMs: { p50: number; p99: number };
}): void {
  const c = r.costPerMillionUsd;
  console.log(`
cost ÷ Global Tables at realistic rates (modelled from the measured per-item counts; lag: modelled p99 to the targets):
${realisticRatesTable(r.costRatioAtRate).join('\n')}
idle: $${r.idleUsdPerTableRegionMonth} per table per region per month with no writes

saturated (every batch full): requests per item per target (client helper): ${Object.entries(r.requestsPerItem)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}
$ per million writes to 2 regions: client helper $${c.regionsync} (${c.ratio}× Global Tables $${c.globalTables}), plain writes $${c.regionsyncPlain} (${c.ratioPlain}×)
CPU µs per item: shipper ${r.cpuMicrosPerItem.shipper}, applier ${r.cpuMicrosPerItem.applier}, JSON floor ${r.cpuMicrosPerItem.floor}
emulator lag at ${r.lagMs.offeredPerSec} items/s: p50 ${r.lagMs.p50} ms, p99 ${r.lagMs.p99} ms; highest stable throughput ${r.throughputItemsPerSec} items/s
modelled AWS lag: p50 ${r.cloudLagModelMs.p50} ms, p99 ${r.cloudLagModelMs.p99} ms`);
}
