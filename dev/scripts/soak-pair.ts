/**
 * Reproduces one interleaving the chaos soak reported, many times, without faults:
 * `npx tsx dev/scripts/soak-pair.ts --first ttl@ca-west-1 --second condUpdate@eu-south-2 --gap 30 [--n 100] [--seed S] [--endpoint URL]`.
 *
 * Deploys soak.config.ts like the soak, then for each of n fresh keys runs the first operation and,
 * `gap` ms after it started, the second (patterns of soak-workload.ts), a few keys at a time; then
 * waits for convergence and applies the soak's loss check, printing each lost key's history.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamodb } from '../../src/ops/aws.ts';
import { waitConverged } from '../cli/demo.ts';
import { bringUp } from '../cli/up.ts';
import { seededRandom } from '../random.ts';
import { startMoto, type MotoServer } from '../local/moto.ts';
import { finalOf, lossOf, PATTERNS, Workload, type Pattern } from './soak-workload.ts';
import { sleep } from '../../src/core/concurrency.ts';

const CONFIG = path.resolve(import.meta.dirname, 'soak.config.ts');
const ITEMS = 'soak_items';
const REGIONS = ['ca-west-1', 'eu-south-2', 'ap-southeast-4'];

function parseOp(s: string | undefined, name: string): { pattern: Pattern; region: string } {
  const [pattern, region] = (s ?? '').split('@');
  if (!PATTERNS.includes(pattern as Pattern) || !REGIONS.includes(region!))
    throw new Error(`--${name} must be PATTERN@REGION (${PATTERNS.join('|')} @ ${REGIONS.join('|')}), got "${s}"`);
  return { pattern: pattern as Pattern, region: region! };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      first: { type: 'string' },
      second: { type: 'string' },
      gap: { type: 'string', default: '30' },
      n: { type: 'string', default: '100' },
      seed: { type: 'string', default: '1' },
      endpoint: { type: 'string' },
    },
  });
  const first = parseOp(values.first, 'first');
  const second = parseOp(values.second, 'second');
  const gap = Number(values.gap);
  const n = Number(values.n);
  let moto: MotoServer | undefined;
  const stateDir = await mkdtemp(path.join(tmpdir(), 'regionsync-soak-pair-'));
  let endpoint = values.endpoint;
  if (!endpoint) {
    moto = await startMoto();
    endpoint = moto.endpoint;
  }
  const running = await bringUp({ endpoint, configFile: CONFIG, stateDir, log: () => {} });
  const db = (r: string) => dynamodb({ endpoint: endpoint! }, r);
  try {
    const workload = new Workload(db, ITEMS, seededRandom(Number(values.seed)));
    const t0 = Date.now();
    const one = async (i: number) => {
      const key = `pair-${i}`;
      const other = () => `pair-x${i}-${Math.floor(Math.random() * 4)}`;
      const started = Date.now();
      const a = workload.run(first.pattern, first.region, key, other);
      await sleep(Math.max(0, started + gap - Date.now()));
      await Promise.all([a, workload.run(second.pattern, second.region, key, other)]);
    };
    for (let i = 0; i < n; i += 4) await Promise.all([0, 1, 2, 3].filter((j) => i + j < n).map((j) => one(i + j)));
    const items = running.config.tables.find((t) => t.name === ITEMS)!;
    const cmp = await waitConverged({ endpoint }, items, 120_000);
    for (const d of cmp.divergent) console.error(`divergent ${JSON.stringify(d)}`);
    let lost = 0;
    const now = Date.now();
    for (const [key, writes] of workload.writes) {
      if (!key.startsWith('pair-') || key.startsWith('pair-x')) continue;
      const finals = [];
      let why: string | undefined;
      for (const region of REGIONS) {
        const item = (await db(region).send(new GetItemCommand({ TableName: ITEMS, Key: { pk: { S: key } }, ConsistentRead: true }))).Item;
        finals.push(`${region}: ${item ? JSON.stringify(item) : 'absent'}`);
        why ??= lossOf(finalOf(item), writes, workload.attempts.get(key) ?? [], now);
      }
      if (!why) continue;
      lost++;
      console.error(`lost ${key}: ${why}`);
      for (const w of writes)
        console.error(
          `  ${String(w.startAt - t0).padStart(7)}..${String(w.ackAt - t0).padStart(7)} ms  ${w.region.padEnd(14)} ${w.pattern.padEnd(10)} ${JSON.stringify(w.value)}`,
        );
      for (const f of finals) console.error(`  final ${f}`);
    }
    console.log(
      `soak-pair: ${values.first} then ${values.second} ${gap} ms later, ${n} keys (${PATTERNS.map(
        (p) => `${p} ${workload.stats.acked[p]}/${workload.stats.refused[p]}`,
      )
        .filter((s) => !s.endsWith(' 0/0'))
        .join(', ')} acked/refused): divergent keys = ${cmp.divergent.length}, lost writes = ${lost}`,
    );
    return cmp.divergent.length === 0 && lost === 0 ? 0 : 1;
  } finally {
    await running.stop();
    await moto?.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
