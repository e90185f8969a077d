/**
 * The bench's HTML report: one self-contained file (inline SVG plots, no scripts, no CDN) from
 * the same object as latest.json.
 */
import type { CallsPerItem, OperationCostsResult } from './operation-costs.ts';

type Num = number | null;

interface Step {
  path: string;
  offeredPerSec: number;
  achievedWritesPerSec: number;
  throughputItemsPerSec: number;
  startSec: number;
  endSec: number;
  drainSeconds: number;
  undrained: number;
  items: number;
  lagMs: { p50: Num; p99: Num; max: Num };
  stable: boolean;
  unstableReason?: string;
  requests: {
    dynamodbWrite: number;
    dynamodbRead: number;
    sqs: number;
    lambdaInvocations: number;
    application: Record<string, number>;
    detail: Record<string, number>;
  };
  timing?: Timing;
}

interface Timing {
  callMs: Record<string, number | null>;
  invocations: Record<string, { count: number; meanMs: number | null; meanRecords: number | null }>;
}

interface Cost {
  dynamodbWrites: number;
  dynamodbReads: number;
  sqs: number;
  lambdaRequests: number;
  lambdaDuration: number;
  transfer: number;
  total: number;
}

export interface ReportInput {
  generatedAt: string;
  mode: string;
  durationSeconds: number;
  machine: { cpu: string; cores: number; memoryGb: number; os: string; node: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  emulator: { kind: string; moto: string; deploySeconds: number };
  config: {
    regions: string[];
    source: string;
    targets: string[];
    itemBytes: number;
    metadataBytes: number;
    stepSeconds: number;
    backlogItems: number;
    lambdaMemoryMb: Record<string, number>;
    sustainedOfferedPerSec: number;
    clientHelper: string;
  };
  headlinePath: string;
  requestsPerItem: Record<string, number>;
  requestsPerItemByPath: Record<string, Step['requests']>;
  requestsPerItemAtRate: { offeredPerSec: number; plain: Step['requests']; helper: Step['requests'] };
  saturation: Record<string, { items: number; drainSeconds: number; throughputItemsPerSec: number; timing: Timing }>;
  targets: { dynamodbWrite: number; sqs: number; lambdaInvocations: number; costRatio: number };
  costPerMillionUsd: {
    regionsync: number;
    globalTables: number;
    ratio: number;
    regionsyncPlain: number;
    ratioPlain: number;
    breakdown: { plain: Cost; helper: Cost; globalTables: Cost };
    lambdaDurationBasis: string;
    atEmulatorDurations: { regionsync: number; ratio: number; regionsyncPlain: number; ratioPlain: number; breakdown: { plain: Cost; helper: Cost } };
    atRate: { offeredPerSec: number; regionsync: number; ratio: number; regionsyncPlain: number; ratioPlain: number };
    byScenario: { scenario: { name: string }; globalTables: number; plain: number; helper: number; plainRatio: number; helperRatio: number }[];
    idleCost: { sqsRequestsPerQueueMonth: number; usdPerQueueMonth: number };
    prices: Record<string, number | string>;
  };
  cpuMicrosPerItem: Record<string, number>;
  /** Absent from runs made before the section existed. */
  operationCosts?: OperationCostsResult;
  lagMs: { p50: Num; p99: Num; offeredPerSec: number; helper: { p50: Num; p99: Num } };
  throughputItemsPerSec: number;
  knee: { reached: boolean; lastStableOfferedPerSec: number; lastStableThroughputItemsPerSec: number; firstUnstableOfferedPerSec?: number; reason?: string };
  cloudLagModelMs: {
    p50: number;
    p99: number;
    byPath: Record<
      string,
      {
        p50: number;
        p99: number;
        byPair: Record<string, { p50: number; p99: number; roundTripMs: number; roundTripPublished: boolean }>;
        components: Record<string, number>;
        atEmulatorDurations?: { p50: number; p99: number };
      }
    >;
  };
  /** Absent from runs made before issue 19. */
  costRatioAtRate?: RateRow[];
  batchingTradeoff?: RateRow[];
  idleUsdPerTableRegionMonth?: number;
  idle?: { sqsMappingsPerTableRegion: number; usdPerQueueMonth: number; schedulesPerTableRegion?: { count: number; everyMinutes: number }; note: string };
  echoFilter?: { path: string; offeredPerSec: number; items: number; droppedShare: number; echoInvocationsPerItem: number; lambdaInvocationsPerItem: number }[];
  emulatorCostRatioAtRate?: { offeredPerSec: number; path: string; ratio: number }[];
  rateModel?: string;
  loadSteps: Step[];
  lagSeries: Record<string, [number, number, number, number][]>;
  lagQuantiles: Record<string, Record<string, [number, number][]>>;
  functionErrors: string[];
}

interface RateRow {
  offeredPerSec: number;
  path: string;
  workload: string;
  itemBytes: number;
  ratio: number;
  lagP99Ms: number;
  windowSeconds: { stream: number; queue: number };
  breakdown: Record<string, number>;
  usdPerMillion: { regionsync: number; globalTables: number; idle: number };
  perItem: { sqsBilled: number; lambdaInvocations: number };
  batching: { recordsPerShipperInvocation: number; changesPerMessage: number; messagesPerApplierInvocation: number; parallelization: number; keepsUp: boolean };
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const W = 860;
const H = 300;
const M = { l: 64, r: 16, b: 40 };

export function renderReport(r: ReportInput): string {
  const pass = (ok: boolean) => (ok ? '<span class="ok">meets target</span>' : '<span class="no">misses target</span>');
  const rq = r.requestsPerItem;
  const c = r.costPerMillionUsd;
  const h = r.requestsPerItemByPath.helper!;
  const p = r.requestsPerItemByPath.plain!;
  const ar = r.requestsPerItemAtRate;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>regionsync bench ${esc(r.generatedAt)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:${W + 40}px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f5f5f5}
td:first-child,th:first-child{text-align:left}.ok{color:#17803d;font-weight:600}.no{color:#b42318;font-weight:600}
.muted{color:#666;font-size:12px}.cards{display:flex;gap:10px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:180px}
.card b{font-size:20px;display:block}svg text{font:11px system-ui,sans-serif;fill:#333}
</style></head><body>
<h1>regionsync: replication cost and lag</h1>
<div class="muted">${esc(r.generatedAt)} · ${esc(r.mode)} run, ${r.durationSeconds} s · ${esc(r.machine.cpu)}, ${r.machine.cores} cores, ${r.machine.memoryGb} GB, ${esc(r.machine.os)}, Node ${esc(r.machine.node)} · load average ${r.machine.loadAverageAtStart.join(' / ')} at start · emulator: ${esc(r.emulator.kind)}, moto ${esc(r.emulator.moto)} · writes in ${esc(r.config.source)}, replicated to ${esc(r.config.targets.join(', '))} · ${r.config.itemBytes} B items + ${r.config.metadataBytes} B regionsync metadata</div>

<div class="cards" style="margin-top:12px">
<div class="card">DynamoDB writes / item / target<b>${rq.dynamodbWrite}</b>${pass(rq.dynamodbWrite! <= r.targets.dynamodbWrite)} (≤ ${r.targets.dynamodbWrite}; client helper, saturated; plain writes ${p.dynamodbWrite})</div>
<div class="card">SQS calls / item / target<b>${rq.sqs}</b>${pass(rq.sqs! <= r.targets.sqs)} (≤ ${r.targets.sqs}; saturated; ${ar.helper.sqs} at ${ar.offeredPerSec}/s)</div>
<div class="card">Lambda invocations / item / target<b>${rq.lambdaInvocations}</b>${pass(rq.lambdaInvocations! <= r.targets.lambdaInvocations)} (≤ ${r.targets.lambdaInvocations}; saturated; ${ar.helper.lambdaInvocations} at ${ar.offeredPerSec}/s)</div>
<div class="card">$ per million, vs Global Tables<b>$${c.regionsync.toFixed(3)} vs $${c.globalTables.toFixed(3)}</b>${c.ratio}× ${pass(c.ratio <= r.targets.costRatio)} (≤ ${r.targets.costRatio}×; client helper; plain writes ${c.ratioPlain}×)</div>
<div class="card">Emulator lag at ${r.lagMs.offeredPerSec}/s<b>p50 ${fmt(r.lagMs.p50)} · p99 ${fmt(r.lagMs.p99)} ms</b>knee: ${r.knee.reached ? `${r.knee.lastStableThroughputItemsPerSec} items/s` : `not reached (≥ ${r.knee.lastStableThroughputItemsPerSec} items/s)`}</div>
<div class="card">Modelled AWS lag (client helper)<b>p50 ${r.cloudLagModelMs.p50} · p99 ${r.cloudLagModelMs.p99} ms</b>published hop latencies + batch processing</div>
</div>

${r.costRatioAtRate ? realisticRates(r) : ''}
<h2 id="lag-over-time">Lag over time, per region pair</h2>
<p class="muted">Each item carries its send time; its lag in a region is when the applier's write of it appeared in that region's stream, minus that. p50 and p99 of the items written in each second; shaded: the load steps (offered items/s, write path; red: unstable); log scale. The emulator has no distance between regions, so every pair looks alike here: the model below adds the round trips.</p>
${lagOverTime(r)}

<h2 id="lag-distribution">Lag distribution per region pair</h2>
<p class="muted">Cumulative distribution of lag at the highest stable load (${r.config.sustainedOfferedPerSec} items/s), plain writes (solid) and client-helper writes (dashed).</p>
${lagCdf(r)}

<h2 id="throughput">Throughput and lag against offered load</h2>
<p class="muted">Items applied per second per target region, from each step's first write to its last applied copy, and the step's lag. The knee is where throughput stops following the offered load and lag grows without bound${r.knee.reached ? ` — here between ${r.knee.lastStableOfferedPerSec} and ${r.knee.firstUnstableOfferedPerSec} items/s (${esc(r.knee.reason ?? '')})` : ''}. The emulator (one Python process on a shared machine) is the bottleneck, not the design.</p>
${throughputChart(r)}
${stepsTable(r)}

<h2 id="requests">Requests per replicated item per target region</h2>
<p class="muted">Counted by a proxy in front of the emulator that reads each call's operation and the calling function's access key (dev/local/aws-proxy.ts, dev/bench/request-stats.ts); per item and target region = calls / (items × ${r.config.targets.length} targets). <b>Saturated</b>: ${r.config.backlogItems} items written in backlogs of one full batch (500) while the functions were stopped, each then replicated — every batch full, as under any load high enough to fill them (in AWS roughly 500 stream records per shipper invocation). <b>At ${ar.offeredPerSec}/s</b>: the highest stable real-time load on the emulator, where each poll finds only a few records. SQS calls: send + receive + delete (billed: 64 KB chunks). Lambda: source shipper + appliers + echoes (the target regions' shippers invoked on the applied changes' own stream records, which they skip). Client helper: ${esc(r.config.clientHelper)}.</p>
<table><tr><th></th><th>plain, saturated</th><th>client helper, saturated</th><th>plain, ${ar.offeredPerSec}/s</th><th>client helper, ${ar.offeredPerSec}/s</th><th>target</th></tr>
${row4('DynamoDB writes', p.dynamodbWrite, h.dynamodbWrite, ar.plain.dynamodbWrite, ar.helper.dynamodbWrite, `≤ ${r.targets.dynamodbWrite}`)}
${row4('… stamping (source)', p.detail.stampWrites!, h.detail.stampWrites!, ar.plain.detail.stampWrites!, ar.helper.detail.stampWrites!)}
${row4('… conditional applies', p.detail.applyWrites!, h.detail.applyWrites!, ar.plain.detail.applyWrites!, ar.helper.detail.applyWrites!)}
${row4('… failed conditions (stale/duplicate)', p.detail.failedConditions!, h.detail.failedConditions!, ar.plain.detail.failedConditions!, ar.helper.detail.failedConditions!)}
${row4('DynamoDB write units', p.detail.writeUnits!, h.detail.writeUnits!, ar.plain.detail.writeUnits!, ar.helper.detail.writeUnits!)}
${row4('DynamoDB reads (replication)', p.dynamodbRead, h.dynamodbRead, ar.plain.dynamodbRead, ar.helper.dynamodbRead)}
${row4('application: writes / reads per item (not per target)', `${p.application.writes} / ${p.application.reads}`, `${h.application.writes} / ${h.application.reads}`, `${ar.plain.application.writes} / ${ar.plain.application.reads}`, `${ar.helper.application.writes} / ${ar.helper.application.reads}`)}
${row4('SQS calls', p.sqs, h.sqs, ar.plain.sqs, ar.helper.sqs, `≤ ${r.targets.sqs}`)}
${row4('… send / receive / delete', sl(p, 'sqsSend', 'sqsReceive', 'sqsDelete'), sl(h, 'sqsSend', 'sqsReceive', 'sqsDelete'), sl(ar.plain, 'sqsSend', 'sqsReceive', 'sqsDelete'), sl(ar.helper, 'sqsSend', 'sqsReceive', 'sqsDelete'))}
${row4('SQS billed requests (64 KB chunks)', p.detail.sqsBilled!, h.detail.sqsBilled!, ar.plain.detail.sqsBilled!, ar.helper.detail.sqsBilled!)}
${row4('changes per message', p.detail.changesPerMessage!, h.detail.changesPerMessage!, ar.plain.detail.changesPerMessage!, ar.helper.detail.changesPerMessage!)}
${row4('Lambda invocations', p.lambdaInvocations, h.lambdaInvocations, ar.plain.lambdaInvocations, ar.helper.lambdaInvocations, `≤ ${r.targets.lambdaInvocations}`)}
${row4('… shipper / applier / echo', sl(p, 'shipperInvocations', 'applierInvocations', 'echoInvocations'), sl(h, 'shipperInvocations', 'applierInvocations', 'echoInvocations'), sl(ar.plain, 'shipperInvocations', 'applierInvocations', 'echoInvocations'), sl(ar.helper, 'shipperInvocations', 'applierInvocations', 'echoInvocations'))}
${row4('records per shipper invocation', p.detail.recordsPerShipperInvocation!, h.detail.recordsPerShipperInvocation!, ar.plain.detail.recordsPerShipperInvocation!, ar.helper.detail.recordsPerShipperInvocation!)}
${row4('messages per applier invocation', p.detail.messagesPerApplierInvocation!, h.detail.messagesPerApplierInvocation!, ar.plain.detail.messagesPerApplierInvocation!, ar.helper.detail.messagesPerApplierInvocation!)}
${row4('failed or timed-out invocations (count; retried)', p.detail.failedInvocations ?? 0, h.detail.failedInvocations ?? 0, ar.plain.detail.failedInvocations ?? 0, ar.helper.detail.failedInvocations ?? 0)}
${row4('stream reads by the mapping (not billed)', p.detail.streamReads!, h.detail.streamReads!, ar.plain.detail.streamReads!, ar.helper.detail.streamReads!)}
${row4('inter-region bytes', Math.round(p.detail.transferBytes!), Math.round(h.detail.transferBytes!), Math.round(ar.plain.detail.transferBytes!), Math.round(ar.helper.detail.transferBytes!))}
</table>
<p class="muted">Saturated runs: plain ${r.saturation.plain!.items} items replicated in ${r.saturation.plain!.drainSeconds} s (${r.saturation.plain!.throughputItemsPerSec} items/s per target), client helper ${r.saturation.helper!.items} in ${r.saturation.helper!.drainSeconds} s (${r.saturation.helper!.throughputItemsPerSec} items/s per target): the emulator's replication capacity. Mean emulator answer per applier write: ${fmt(r.saturation.helper!.timing.callMs.apply ?? null)} ms saturated, against ${fmt(r.loadSteps[0]?.timing?.callMs.apply ?? null)} ms at ${r.loadSteps[0]?.offeredPerSec}/s.</p>

<h2 id="cost">Dollars per million 1 KB writes, replicated to 2 other regions</h2>
<p class="muted">From the counted requests above and list prices (${esc(String(c.prices.region))}, as of ${esc(String(c.prices.asOf))}): DynamoDB on-demand $${c.prices.dynamodbWriteRequestUnitPerMillion}/M write units and $${c.prices.dynamodbReadRequestUnitPerMillion}/M read units, Global Tables $${c.prices.replicatedWriteRequestUnitPerMillion}/M replicated write units, SQS $${c.prices.sqsRequestPerMillion}/M requests (per 64 KB chunk), Lambda $${c.prices.lambdaRequestPerMillion}/M invocations + $${c.prices.lambdaGbSecondArm64}/GB-s (arm64, ${Object.values(r.config.lambdaMemoryMb)[0] ?? '?'} MB; durations below the table), inter-region transfer $${c.prices.interRegionTransferPerGb}/GB. Both sides include the application's own write in the source region (and, for the client helper, its read before the write).</p>
<table><tr><th>$ per million</th><th>DynamoDB writes</th><th>DynamoDB reads</th><th>SQS</th><th>Lambda requests</th><th>Lambda GB-s</th><th>transfer</th><th>total</th><th>vs Global Tables</th></tr>
${costRow('regionsync, plain writes', c.breakdown.plain, c.globalTables)}
${costRow('regionsync, client helper', c.breakdown.helper, c.globalTables)}
${costRow('Global Tables', c.breakdown.globalTables, c.globalTables)}
${costRow('regionsync, plain, Lambda at emulator durations', c.atEmulatorDurations.breakdown.plain, c.globalTables)}
${costRow('regionsync, client helper, Lambda at emulator durations', c.atEmulatorDurations.breakdown.helper, c.globalTables)}
</table>
<p class="muted">The client helper's read before each write is eventually consistent (half a read unit): the write is conditional on the version read, so a stale read only fails the condition and retries with a consistent read.</p>
<p class="muted">Request counts from the saturated runs. Lambda GB-s: ${esc(c.lambdaDurationBasis)}. The last two rows use the durations measured on the emulator instead (an upper bound: moto, saturated, is far slower than DynamoDB). At the emulator's ${c.atRate.offeredPerSec}/s, with small batches: client helper $${c.atRate.regionsync.toFixed(3)} (${c.atRate.ratio}×), plain $${c.atRate.regionsyncPlain.toFixed(3)} (${c.atRate.ratioPlain}×).</p>
<p class="muted">Every extra write, by item size (request counts as measured, write units from the item sizes; ${r.config.metadataBytes} B of metadata: version, origin, writer, version vector):</p>
<table><tr><th>items</th><th>Global Tables</th><th>plain writes</th><th>client helper</th></tr>
${c.byScenario.map((s) => `<tr><td>${esc(s.scenario.name)}</td><td>$${s.globalTables.toFixed(3)}</td><td>$${s.plain.toFixed(3)} (${s.plainRatio}×)</td><td>$${s.helper.toFixed(3)} (${s.helperRatio}×)</td></tr>`).join('\n')}
</table>
<p class="muted">Not per item: Lambda long-polls each inbound queue while idle, about ${c.idleCost.sqsRequestsPerQueueMonth.toLocaleString('en-US')} SQS requests ($${c.idleCost.usdPerQueueMonth}) per queue per month. DynamoDB Streams reads by Lambda are free.</p>

<h2 id="cpu">Handler CPU per item</h2>
<p class="muted">The real Shipper and Applier with real SDK clients (serialization, signing, parsing) over the in-memory fakes of the property tests; the fakes' own time subtracted. Floor: JSON-parsing the same input events and serializing the same output payloads.</p>
<table><tr><th>µs per item</th><th>CPU</th></tr>
<tr><td>shipper, plain writes (one stamping UpdateItem each)</td><td>${r.cpuMicrosPerItem.shipper}</td></tr>
<tr><td>shipper, client helper (nothing to stamp)</td><td>${r.cpuMicrosPerItem.shipperHelper}</td></tr>
<tr><td>applier (per target)</td><td>${r.cpuMicrosPerItem.applier}</td></tr>
<tr><td>floor: shipper / applier / both</td><td>${r.cpuMicrosPerItem.floorShipper} / ${r.cpuMicrosPerItem.floorApplier} / ${r.cpuMicrosPerItem.floor}</td></tr>
</table>
${r.operationCosts ? operationCostsSection(r.operationCosts) : ''}
<h2 id="cloud-lag">Expected lag in AWS (model)</h2>
<p class="muted">Monte Carlo over published hop latencies (DynamoDB Streams → Lambda p50 213 / p99 552 ms; SQS → Lambda p50 16 / p99 105 ms; half the inter-region round trip) plus the shipper's and applier's processing of each batch measured at the highest stable load, timed as in AWS: the handler CPU per item at the functions' vCPU share and writes at DynamoDB's 10 ms, 16 in flight. With the emulator's own durations instead: plain p50 ${r.cloudLagModelMs.byPath.plain!.atEmulatorDurations?.p50 ?? '–'} / p99 ${r.cloudLagModelMs.byPath.plain!.atEmulatorDurations?.p99 ?? '–'} ms, client helper p50 ${r.cloudLagModelMs.byPath.helper!.atEmulatorDurations?.p50 ?? '–'} / p99 ${r.cloudLagModelMs.byPath.helper!.atEmulatorDurations?.p99 ?? '–'} ms.</p>
<table><tr><th>pair</th><th>round trip</th><th>plain p50</th><th>plain p99</th><th>client helper p50</th><th>client helper p99</th></tr>
${Object.keys(r.cloudLagModelMs.byPath.plain!.byPair)
  .map((pair) => {
    const a = r.cloudLagModelMs.byPath.plain!.byPair[pair]!;
    const b = r.cloudLagModelMs.byPath.helper!.byPair[pair]!;
    return `<tr><td>${esc(pair)}</td><td>${a.roundTripMs} ms${a.roundTripPublished ? '' : ' (assumed)'}</td><td>${a.p50}</td><td>${a.p99}</td><td>${b.p50}</td><td>${b.p99}</td></tr>`;
  })
  .join('\n')}
</table>
<p class="muted">Median hops (client helper): streams→Lambda ${r.cloudLagModelMs.byPath.helper!.components.streamsToLambdaP50} ms, shipper ${r.cloudLagModelMs.byPath.helper!.components.shipperP50} ms, SQS→Lambda ${r.cloudLagModelMs.byPath.helper!.components.sqsToLambdaP50} ms, applier ${r.cloudLagModelMs.byPath.helper!.components.applierP50} ms. Global Tables publishes no percentiles ("typically within a second or less").</p>
${r.functionErrors.length ? `<h2>Function errors during the run</h2><pre>${esc(r.functionErrors.join('\n'))}</pre>` : ''}
</body></html>
`;
}

function operationCostsSection(o: OperationCostsResult): string {
  const calls = (c: CallsPerItem) => `${c.writes} / ${c.reads}`;
  const detail = (c: CallsPerItem) => `${c.put} / ${c.update} / ${c.delete}; ${c.tombstoneWrites} / ${c.tombstoneReads}; ${c.failedConditions}`;
  return `
<h2 id="operation-costs">DynamoDB calls per operation</h2>
<p class="muted">Last writer wins, ${o.items} items per operation written in ${esc(o.source)}, replicated to ${esc(o.targets.join(', '))}: ${esc(o.note)}. Deterministic counts, not timings.</p>
<table><tr><th>operation</th><th>source: writes / reads</th><th>per target: writes / reads</th><th>source: put / update / delete; tombstone table W / R; failed conditions</th><th>per target: the same</th></tr>
${o.operations.map((op) => `<tr><td>${esc(op.operation)}: ${esc(op.description)}</td><td>${calls(op.source)}</td><td>${calls(op.target)}</td><td>${detail(op.source)}</td><td>${detail(op.target)}</td></tr>`).join('\n')}
</table>
<p class="muted">Metadata regionsync adds to an item (its <code>_rs_*</code> attributes, DynamoDB's item size rules), after a create and an update by plain writes.</p>
<table><tr><th>strategy</th><th>bytes (target)</th><th>attributes (target)</th><th>bytes (source)</th><th>attributes (source)</th><th>application bytes</th><th>names (target)</th></tr>
${o.metadata.map((m) => `<tr><td>${esc(m.strategy)}</td><td>${m.target.bytes}</td><td>${m.target.count}</td><td>${m.source.bytes}</td><td>${m.source.count}</td><td>${m.appBytes}</td><td>${esc(m.target.attributes.join(' '))}</td></tr>`).join('\n')}
</table>
`;
}

function row4(name: string, a: number | string, b: number | string, c: number | string, d: number | string, target = ''): string {
  return `<tr><td>${esc(name)}</td><td>${a}</td><td>${b}</td><td>${c}</td><td>${d}</td><td>${esc(target)}</td></tr>`;
}

function sl(r: Step['requests'], ...keys: string[]): string {
  return keys.map((k) => r.detail[k]).join(' / ');
}

function costRow(name: string, c: Cost, gt: number): string {
  return `<tr><td>${esc(name)}</td><td>${c.dynamodbWrites.toFixed(3)}</td><td>${c.dynamodbReads.toFixed(3)}</td><td>${c.sqs.toFixed(3)}</td><td>${c.lambdaRequests.toFixed(3)}</td><td>${c.lambdaDuration.toFixed(3)}</td><td>${c.transfer.toFixed(3)}</td><td><b>${c.total.toFixed(3)}</b></td><td>${(c.total / gt).toFixed(2)}×</td></tr>`;
}

function stepsTable(r: ReportInput): string {
  const rows = r.loadSteps.map(
    (s) =>
      `<tr><td>${esc(s.path)}</td><td>${s.offeredPerSec}</td><td>${s.achievedWritesPerSec}</td><td>${s.throughputItemsPerSec}</td><td>${fmt(s.lagMs.p50)}</td><td>${fmt(s.lagMs.p99)}</td><td>${s.drainSeconds}</td><td>${s.requests.dynamodbWrite}</td><td>${s.requests.sqs}</td><td>${s.requests.lambdaInvocations}</td><td>${s.stable ? 'stable' : `<span class="no">unstable</span>: ${esc(s.unstableReason ?? '')}`}</td></tr>`,
  );
  return `<table><tr><th>path</th><th>offered/s</th><th>written/s</th><th>applied/s per target</th><th>lag p50 ms</th><th>lag p99 ms</th><th>drain s</th><th>DDB writes/item</th><th>SQS/item</th><th>Lambda/item</th><th></th></tr>${rows.join('\n')}</table>`;
}

function realisticRates(r: ReportInput): string {
  const rows = r.costRatioAtRate!;
  const at = (path: string, workload: string, bytes: number) =>
    rows.filter((x) => x.path === path && x.workload === workload && x.itemBytes === bytes).sort((a, b) => a.offeredPerSec - b.offeredPerSec);
  const bytes = [...new Set(rows.map((x) => x.itemBytes))];
  const rates = [...new Set(rows.map((x) => x.offeredPerSec))].sort((a, b) => a - b);
  const ratios = rows.map((x) => x.ratio);
  const x: Axis = { min: Math.min(...rates) * 0.8, max: Math.max(...rates) * 1.25, log: true, label: 'items written per second in the source region (log)' };
  const y: Axis = { min: 0.8, max: Math.ceil(Math.max(...ratios, 1.2) * 5) / 5, label: 'cost ÷ Global Tables' };
  const series = [
    { path: 'helper', workload: 'insert', bytes: r.config.itemBytes, color: COLORS[0]!, dash: false },
    { path: 'plain', workload: 'insert', bytes: r.config.itemBytes, color: COLORS[1]!, dash: false },
    { path: 'helper', workload: 'update', bytes: r.config.itemBytes, color: COLORS[0]!, dash: true },
    { path: 'plain', workload: 'update', bytes: r.config.itemBytes, color: COLORS[1]!, dash: true },
  ];
  const plot = frame(
    x,
    y,
    (sx, sy) =>
      polyline(
        [
          [sx(x.min), sy(1)],
          [sx(x.max), sy(1)],
        ],
        '#555',
        false,
        1.2,
      ) +
      series
        .map(
          (s) =>
            polyline(
              at(s.path, s.workload, s.bytes).map((p) => [sx(p.offeredPerSec), sy(p.ratio)]),
              s.color,
              s.dash,
            ) +
            at(s.path, s.workload, s.bytes)
              .map((p) => `<circle cx="${sx(p.offeredPerSec).toFixed(1)}" cy="${sy(p.ratio).toFixed(1)}" r="3.5" fill="${s.color}"/>`)
              .join(''),
        )
        .join(''),
    [
      ...series.map((s) => ({ name: `${s.path === 'helper' ? 'client helper' : 'plain writes'}, ${s.workload}s`, color: s.color, dash: s.dash })),
      { name: 'Global Tables = 1.0', color: '#555' },
    ],
  );
  const trade = r.batchingTradeoff ?? [];
  const windows = [...new Set(trade.map((t) => `${t.windowSeconds.stream}/${t.windowSeconds.queue}`))];
  const tx: Axis = { min: 500, max: niceCeil(Math.max(...trade.map((t) => t.lagP99Ms), 1000)), log: true, label: 'modelled lag p99, ms (log)' };
  const ty: Axis = { min: 0.8, max: Math.ceil(Math.max(...trade.map((t) => t.ratio), 1.2) * 5) / 5, label: 'cost ÷ Global Tables (client helper)' };
  const tradePlot = frame(
    tx,
    ty,
    (sx, sy) =>
      polyline(
        [
          [sx(tx.min), sy(1)],
          [sx(tx.max), sy(1)],
        ],
        '#555',
        false,
        1.2,
      ) +
      rates
        .map((rate, i) => {
          const pts = trade.filter((t) => t.path === 'helper' && t.offeredPerSec === rate);
          return (
            polyline(
              pts.map((t) => [sx(t.lagP99Ms), sy(t.ratio)]),
              COLORS[i % COLORS.length]!,
            ) +
            pts
              .map(
                (t) =>
                  `<circle cx="${sx(t.lagP99Ms).toFixed(1)}" cy="${sy(t.ratio).toFixed(1)}" r="3.5" fill="${COLORS[i % COLORS.length]}"><title>${t.windowSeconds.stream} s / ${t.windowSeconds.queue} s</title></circle><text x="${(sx(t.lagP99Ms) + 5).toFixed(1)}" y="${(sy(t.ratio) - 5).toFixed(1)}">${t.windowSeconds.stream}/${t.windowSeconds.queue}</text>`,
              )
              .join('')
          );
        })
        .join(''),
    [...rates.map((rate, i) => ({ name: `${rate} items/s`, color: COLORS[i % COLORS.length]! })), { name: 'Global Tables = 1.0', color: '#555' }],
  );
  const table = (workload: string) => `<table><tr><th>${workload}s</th>${rates.map((rt) => `<th>${rt}/s</th>`).join('')}</tr>
${bytes
  .flatMap((b) =>
    ['helper', 'plain'].map(
      (p) =>
        `<tr><td>${p === 'helper' ? 'client helper' : 'plain writes'}, ${b} B</td>${at(p, workload, b)
          .map((x) => `<td>${x.ratio}× <span class="muted">p99 ${x.lagP99Ms} ms${x.batching.keepsUp ? '' : ', falls behind'}</span></td>`)
          .join('')}</tr>`,
    ),
  )
  .join('\n')}
</table>`;
  const ef = r.echoFilter ?? [];
  return `<h2 id="realistic-rates">Cost at the rates real tables run</h2>
<p class="muted">${esc(r.rateModel ?? '')} Batching windows: stream ${rows[0]?.windowSeconds.stream ?? 0} s, queue ${rows[0]?.windowSeconds.queue ?? 0} s. Idle: ${r.idle?.sqsMappingsPerTableRegion ?? '?'} SQS mapping(s) per table and region and ${r.idle?.schedulesPerTableRegion?.count ?? 0} schedule(s), $${r.idleUsdPerTableRegionMonth ?? '?'} per table-region per month with no writes at all.</p>
${plot}
${table('insert')}
${table('update')}
<p class="muted">Echoes on the update workload (the targets' shippers invoked on the appliers' writes): ${ef.map((e) => `${e.path}: ${(e.droppedShare * 100).toFixed(1)}% of echo records dropped by the event filter, ${e.echoInvocationsPerItem} echo invocations and ${e.lambdaInvocationsPerItem} Lambda invocations in all per item (emulator, ${e.offeredPerSec}/s, ${e.items} items)`).join('; ')}. Measured by the emulator at its own steps (plain inserts, AWS durations): ${(r.emulatorCostRatioAtRate ?? []).map((e) => `${e.offeredPerSec}/s ${e.ratio}×`).join(', ')}.</p>
<h3>Batching windows: cost against lag</h3>
<p class="muted">Each point: the stream / queue batching windows (seconds), client-helper inserts. Lambda takes whole seconds; a window adds up to itself to the lag.${windows.length ? '' : ''}</p>
${tradePlot}`;
}

// ---- plots ----

interface Axis {
  readonly min: number;
  readonly max: number;
  readonly log?: boolean;
  readonly label: string;
}

function scale(a: Axis, from: number, to: number): (v: number) => number {
  if (a.log) {
    const lo = Math.log10(a.min);
    const hi = Math.log10(a.max);
    return (v) => from + ((Math.log10(Math.max(v, a.min)) - lo) / (hi - lo)) * (to - from);
  }
  return (v) => from + ((v - a.min) / (a.max - a.min || 1)) * (to - from);
}

function ticks(a: Axis): number[] {
  if (a.log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(a.min)); e <= Math.ceil(Math.log10(a.max)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= a.min && v <= a.max) out.push(v);
      }
    }
    return out;
  }
  const span = a.max - a.min;
  const step = niceStep(span / 6);
  const out: number[] = [];
  for (let v = Math.ceil(a.min / step) * step; v <= a.max + 1e-9; v += step) out.push(Math.round(v * 1000) / 1000);
  return out;
}

function niceStep(raw: number): number {
  const e = 10 ** Math.floor(Math.log10(raw || 1));
  const f = raw / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

function frame(
  x: Axis,
  y: Axis,
  body: (sx: (v: number) => number, sy: (v: number) => number) => string,
  legend: { name: string; color: string; dash?: boolean }[],
): string {
  // The legend sits above the plot, its entries flowing left to right (about 6 px per character).
  let lx = M.l;
  let ly = 10;
  const leg = legend
    .map((l) => {
      const width = 40 + l.name.length * 6;
      if (lx + width > W - M.r && lx > M.l) {
        lx = M.l;
        ly += 16;
      }
      const g = `<g transform="translate(${lx},${ly})"><line x1="0" x2="22" y1="0" y2="0" stroke="${l.color}" stroke-width="2.5"${l.dash ? ' stroke-dasharray="5 3"' : ''}/><text x="28" y="4">${esc(l.name)}</text></g>`;
      lx += width;
      return g;
    })
    .join('');
  const top = ly + 14;
  const sx = scale(x, M.l, W - M.r);
  const sy = scale(y, H - M.b, top);
  const grid = ticks(y)
    .map(
      (v) =>
        `<line x1="${M.l}" x2="${W - M.r}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#eee"/><text x="${M.l - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${label(v)}</text>`,
    )
    .join('');
  const xt = ticks(x)
    .map(
      (v) =>
        `<line x1="${sx(v).toFixed(1)}" x2="${sx(v).toFixed(1)}" y1="${H - M.b}" y2="${H - M.b + 4}" stroke="#999"/><text x="${sx(v).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle">${label(v)}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>${grid}
<line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#999"/><line x1="${M.l}" x2="${M.l}" y1="${top}" y2="${H - M.b}" stroke="#999"/>${xt}
<text x="${(M.l + W - M.r) / 2}" y="${H - 6}" text-anchor="middle">${esc(x.label)}</text>
<text transform="translate(14,${(top + H - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(y.label)}</text>
${body(sx, sy)}${leg}</svg>`;
}

function polyline(points: [number, number][], color: string, dash = false, width = 1.8): string {
  if (points.length === 0) return '';
  return `<polyline fill="none" stroke="${color}" stroke-width="${width}"${dash ? ' stroke-dasharray="5 3"' : ''} points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`;
}

function lagOverTime(r: ReportInput): string {
  const pairs = Object.keys(r.lagSeries);
  const all = pairs.flatMap((p) => r.lagSeries[p]!);
  if (all.length === 0) return '<p>no data</p>';
  const maxT = Math.max(...r.loadSteps.map((s) => s.endSec + s.drainSeconds), ...all.map((x) => x[0] + 1));
  const lags = all.flatMap((x) => [x[1], x[2]]).filter((v) => v > 0);
  const y: Axis = { min: Math.max(10, niceFloor(Math.min(...lags))), max: niceCeil(Math.max(...lags) * 1.2), log: true, label: 'lag, ms (log)' };
  const x: Axis = { min: 0, max: Math.ceil(maxT), label: 'run time, s' };
  const legend = pairs.flatMap((p, i) => [
    { name: `${p} p50`, color: COLORS[i % COLORS.length]! },
    { name: `${p} p99`, color: COLORS[i % COLORS.length]!, dash: true },
  ]);
  return frame(
    x,
    y,
    (sx, sy) => {
      const bands = r.loadSteps
        .map(
          (s, i) =>
            `<rect x="${sx(s.startSec).toFixed(1)}" y="${sy(y.max).toFixed(1)}" width="${Math.max(1, sx(s.endSec) - sx(s.startSec)).toFixed(1)}" height="${(H - M.b - sy(y.max)).toFixed(1)}" fill="${s.path === 'helper' ? '#fff4e0' : s.stable ? (i % 2 ? '#f3f6fb' : '#eaf0f8') : '#fdecea'}"/>` +
            `<text x="${((sx(s.startSec) + sx(s.endSec)) / 2).toFixed(1)}" y="${H - M.b - 6}" text-anchor="middle" fill="#555">${s.offeredPerSec}/s${s.path === 'helper' ? ' helper' : ''}</text>`,
        )
        .join('');
      const lines = pairs
        .map((p, i) => {
          const pts = r.lagSeries[p]!;
          const color = COLORS[i % COLORS.length]!;
          return (
            polyline(
              pts.map((q) => [sx(q[0] + 0.5), sy(q[1])]),
              color,
            ) +
            polyline(
              pts.map((q) => [sx(q[0] + 0.5), sy(q[2])]),
              color,
              true,
              1.2,
            )
          );
        })
        .join('');
      return bands + lines;
    },
    legend,
  );
}

function lagCdf(r: ReportInput): string {
  const paths = Object.keys(r.lagQuantiles);
  const curves: { name: string; color: string; dash: boolean; pts: [number, number][] }[] = [];
  const pairs = [...new Set(paths.flatMap((p) => Object.keys(r.lagQuantiles[p]!)))];
  for (const path of paths) {
    for (const pair of Object.keys(r.lagQuantiles[path]!)) {
      curves.push({
        name: `${pair} ${path === 'helper' ? 'client helper' : 'plain'}`,
        color: COLORS[pairs.indexOf(pair) % COLORS.length]!,
        dash: path === 'helper',
        pts: r.lagQuantiles[path]![pair]!,
      });
    }
  }
  const vals = curves.flatMap((c) => c.pts.map((p) => p[1])).filter((v) => v > 0);
  if (vals.length === 0) return '<p>no data</p>';
  const x: Axis = { min: Math.max(10, niceFloor(Math.min(...vals))), max: niceCeil(Math.max(...vals)), log: true, label: 'lag, ms (log)' };
  const y: Axis = { min: 0, max: 100, label: 'items with lag ≤ x, %' };
  return frame(
    x,
    y,
    (sx, sy) =>
      curves
        .map((c) =>
          polyline(
            c.pts.map(([p, v]) => [sx(v), sy(p * 100)]),
            c.color,
            c.dash,
          ),
        )
        .join(''),
    curves.map((c) => ({ name: c.name, color: c.color, dash: c.dash })),
  );
}

function throughputChart(r: ReportInput): string {
  const steps = r.loadSteps.filter((s) => s.path === 'plain');
  if (steps.length === 0) return '';
  const maxX = Math.max(...steps.map((s) => s.offeredPerSec)) * 1.05;
  const x: Axis = { min: 0, max: Math.ceil(maxX), label: 'offered load, items/s (plain PutItem in the source region)' };
  const y: Axis = { min: 0, max: Math.ceil(maxX), label: 'items/s' };
  const tput = frame(
    x,
    y,
    (sx, sy) =>
      polyline(
        [
          [sx(0), sy(0)],
          [sx(x.max), sy(x.max)],
        ],
        '#bbb',
        true,
        1,
      ) +
      polyline(
        steps.map((s) => [sx(s.offeredPerSec), sy(s.achievedWritesPerSec)]),
        COLORS[2]!,
      ) +
      polyline(
        steps.map((s) => [sx(s.offeredPerSec), sy(s.throughputItemsPerSec)]),
        COLORS[0]!,
      ) +
      steps
        .map(
          (s) =>
            `<circle cx="${sx(s.offeredPerSec).toFixed(1)}" cy="${sy(s.throughputItemsPerSec).toFixed(1)}" r="4" fill="${s.stable ? COLORS[0] : COLORS[1]}"/>`,
        )
        .join(''),
    [
      { name: 'applied per target region (red: unstable step)', color: COLORS[0]! },
      { name: 'written in the source', color: COLORS[2]! },
      { name: 'offered', color: '#bbb', dash: true },
    ],
  );
  const lags = steps.flatMap((s) => [s.lagMs.p50 ?? 0, s.lagMs.p99 ?? 0]).filter((v) => v > 0);
  const ly: Axis = { min: Math.max(10, niceFloor(Math.min(...lags))), max: niceCeil(Math.max(...lags)), log: true, label: 'lag, ms (log)' };
  const lag = frame(
    x,
    ly,
    (sx, sy) =>
      polyline(
        steps.filter((s) => s.lagMs.p50).map((s) => [sx(s.offeredPerSec), sy(s.lagMs.p50!)]),
        COLORS[0]!,
      ) +
      polyline(
        steps.filter((s) => s.lagMs.p99).map((s) => [sx(s.offeredPerSec), sy(s.lagMs.p99!)]),
        COLORS[1]!,
        true,
      ) +
      steps
        .map((s) =>
          s.lagMs.p50
            ? `<circle cx="${sx(s.offeredPerSec).toFixed(1)}" cy="${sy(s.lagMs.p50).toFixed(1)}" r="3.5" fill="${s.stable ? COLORS[0] : COLORS[1]}"/>`
            : '',
        )
        .join(''),
    [
      { name: 'lag p50', color: COLORS[0]! },
      { name: 'lag p99', color: COLORS[1]!, dash: true },
    ],
  );
  return tput + lag;
}

function niceFloor(v: number): number {
  const e = 10 ** Math.floor(Math.log10(Math.max(v, 1e-9)));
  return v / e >= 5 ? 5 * e : v / e >= 2 ? 2 * e : e;
}
function niceCeil(v: number): number {
  const e = 10 ** Math.floor(Math.log10(Math.max(v, 1e-9)));
  return v / e <= 1 ? e : v / e <= 2 ? 2 * e : v / e <= 5 ? 5 * e : 10 * e;
}

function label(v: number): string {
  if (v >= 10_000) return `${v / 1000}k`;
  return String(Math.round(v * 100) / 100);
}

function fmt(v: Num): string {
  return v === null ? '–' : String(v);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
