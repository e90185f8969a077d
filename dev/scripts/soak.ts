/**
 * Chaos soak: `npm run soak -- --minutes N [--seed S] [--endpoint URL]`.
 *
 * Deploys soak.config.ts (3 regions, a last-writer-wins table and a `merge` table with a counter)
 * to moto (started here unless --endpoint), runs the functions through the chaos proxy, and for N
 * minutes drives a random workload (puts, updates, deletes, conflicting writes to one key from
 * several regions, counter increments) under a random fault schedule (region cut off, throttling,
 * 5xx, latency between regions, Lambda crashes mid-batch, duplicated and reordered SQS deliveries).
 * The queues' visibility timeout is shortened to 15 s (3 and 6 min as deployed), so that messages
 * of a crashed invocation or a lost delete come back within the run. Then it heals every fault,
 * waits for convergence, and checks:
 *   - every region holds the same items (both tables);
 *   - every acknowledged write is accounted for: a key written from one region only ends with the
 *     last write made to it; a key written from several regions ends with one of the writes made
 *     to it (which one is the conflict rule's choice); every counter equals its acknowledged increments.
 * The seed decides workload and faults (timing still varies), so a failure replays with --seed.
 * Exit 1 on divergence or loss. The last line is a one-line summary.
 */
import { seededRandom } from '../random.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { backlogQueueName, inboundQueueName, tombstoneTableName } from '../../src/core/contract.ts';
import { getTombstoneInput } from '../../src/core/tombstones.ts';
import { dynamodb } from '../../src/ops/aws.ts';
import { waitConverged } from '../cli/demo.ts';
import { bringUp } from '../cli/up.ts';
import { DUPLICATE_OPS, type Fault } from '../local/chaos.ts';
import { setVisibilityTimeout } from '../local/queue-visibility.ts';
import { startMoto, type MotoServer } from '../local/moto.ts';
import { finalOf, lossOf, PATTERNS, Workload } from './soak-workload.ts';
import { sleep } from '../../src/core/concurrency.ts';

const CONFIG = path.resolve(import.meta.dirname, 'soak.config.ts');
const ITEMS = 'soak_items';
const COUNTERS = 'soak_counters';
const REGIONS = ['ca-west-1', 'eu-south-2', 'ap-southeast-4'] as const;
const KEYS = 40;
const HOT_KEYS = 10;
const BIG_KEYS = 4;
/**
 * Big-item writes per run, at most: moto keeps every stream record (old and new image) and every
 * shard iterator in memory, so ~390 KB items without a cap exhaust this machine's 24 GiB in a
 * 30-minute run (seen: moto at 23.8 GB, the machine swapping). Beyond the cap the op is a plain put.
 */
const MAX_BIG_WRITES = 40;
const COUNTER_KEYS = 8;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '1' },
      seed: { type: 'string' },
      endpoint: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got "${values.minutes}"`);
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${values.seed}"`);
  console.log(`soak: seed ${seed}, ${minutes} minute(s), regions ${REGIONS.join(', ')} (replay: npm run soak -- --minutes ${minutes} --seed ${seed})`);
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const log = (l: string) => values.verbose && console.log(l);

  let moto: MotoServer | undefined;
  const stateDir = await mkdtemp(path.join(tmpdir(), 'regionsync-soak-'));
  let endpoint = values.endpoint;
  if (!endpoint) {
    moto = await startMoto();
    endpoint = moto.endpoint;
  }
  const running = await bringUp({ endpoint, configFile: CONFIG, chaos: '', stateDir, log });
  const chaos = running.chaos!;
  const db = (r: string) => dynamodb({ endpoint: endpoint! }, r);
  try {
    const queues = running.config.tables.flatMap((t) => [inboundQueueName(running.config.appName, t.name), backlogQueueName(running.config.appName, t.name)]);
    for (const r of REGIONS) await setVisibilityTimeout(endpoint, r, queues, 15);
    const workload = new Workload(db, ITEMS, rand);
    const increments = new Map<string, number>();
    let ops = 0;
    let failedOps = 0;
    let faults = 0;
    let fresh = 0;
    const t0 = Date.now();

    // The fault schedule: one fault at a time, each held 2–8 s, with quiet gaps between.
    const end = Date.now() + minutes * 60_000;
    const faultLoop = (async () => {
      while (Date.now() < end) {
        await sleep(1000 + rand() * 3000);
        if (Date.now() >= end) break;
        const [a, b] = [pick(REGIONS), pick(REGIONS)];
        const choice = rand();
        // Faults on the operations whose failure the pipeline retries promptly (stream batches,
        // SQS sends and receives): a throttled applier PutItem would wait out the queue's visibility timeout (15 s here, 3 min as deployed).
        const op = pick(['UpdateItem', 'SendMessageBatch', 'ReceiveMessage', 'GetRecords']);
        const service = op === 'UpdateItem' ? 'dynamodb' : op === 'GetRecords' ? 'dynamodbstreams' : 'sqs';
        const fault: Fault =
          choice < 0.25
            ? { kind: 'cut', region: a, scope: 'cross', mode: 'refuse', ms: 0 }
            : choice < 0.4
              ? { kind: 'throttle', region: a, service, op, p: 0.5 }
              : choice < 0.55
                ? { kind: '5xx', region: a, service, op, p: 0.3, status: rand() < 0.5 ? 500 : 503 }
                : choice < 0.65
                  ? { kind: 'latency', from: a, to: b, ms: 100 + Math.floor(rand() * 300), jitter: 100 }
                  : choice < 0.8
                    ? { kind: 'crash', region: a, function: pick(['shipper', 'applier']), p: 0.5, after: 1 + Math.floor(rand() * 3) }
                    : choice < 0.9
                      ? { kind: 'duplicate', region: a, op: pick(DUPLICATE_OPS), p: 0.5 }
                      : { kind: 'reorder', region: a, p: 0.7 };
        const heal = chaos.add(fault);
        faults++;
        log(`fault: ${JSON.stringify(fault)}`);
        await sleep(2000 + rand() * 6000);
        heal();
      }
    })();

    // The workload: several writers; each op waits for its acknowledgement.
    let bigWrites = 0;
    const writer = async () => {
      while (Date.now() < end) {
        const r = rand();
        const region = pick(REGIONS);
        if (r < 0.65) {
          // Now and then a key never written before, so that conditional creates can succeed.
          const isFresh = rand() < 0.04;
          const drawn = workload.pickPattern();
          const pattern = drawn === 'big' && bigWrites >= MAX_BIG_WRITES ? 'put' : drawn;
          if (pattern === 'big') {
            bigWrites++;
            // Big items on keys of their own, from any region (rare).
            ops++;
            await workload.run('big', region, `big-${Math.floor(rand() * BIG_KEYS)}`, () => `big-${Math.floor(rand() * BIG_KEYS)}`);
          } else if (r < 0.45) {
            // A key owned by one region (its last write must win).
            const owner = REGIONS[Math.floor(rand() * REGIONS.length)]!;
            const ownKey = () => `own-${owner}-${Math.floor(rand() * KEYS)}`;
            ops++;
            await workload.run(pattern, owner, isFresh ? `own-${owner}-f${fresh++}` : ownKey(), ownKey);
          } else {
            // Conflicting writes: the same key from two regions at once, each with its own pattern.
            const key = isFresh ? `hot-f${fresh++}` : `hot-${Math.floor(rand() * HOT_KEYS)}`;
            const hotKey = () => `hot-${Math.floor(rand() * HOT_KEYS)}`;
            const other = pick(REGIONS.filter((x) => x !== region));
            const second = workload.pickPattern();
            ops += 2;
            await Promise.all([workload.run(pattern, region, key, hotKey), workload.run(second === 'big' ? 'put' : second, other, key, hotKey)]);
          }
        } else {
          const key = `c-${Math.floor(rand() * COUNTER_KEYS)}`;
          ops++;
          try {
            await db(region).send(
              new UpdateItemCommand({
                TableName: COUNTERS,
                Key: { pk: { S: key } },
                UpdateExpression: 'ADD n :one',
                ExpressionAttributeValues: { ':one': { N: '1' } },
              }),
            );
            increments.set(key, (increments.get(key) ?? 0) + 1);
          } catch (e) {
            // Writes go to the emulator directly (the application is inside its region): a failure here is unexpected.
            failedOps++;
            console.error(`soak: increment failed (not acknowledged): ${(e as Error).message}`);
          }
        }
        await sleep(rand() * 40);
      }
    };
    await Promise.all([faultLoop, writer(), writer(), writer()]);

    // Heal and converge.
    chaos.heal();
    const healedAt = Date.now();
    const tables = running.config.tables;
    const comparisons = [];
    for (const t of tables) comparisons.push(await waitConverged({ endpoint }, t, 300_000));
    const convergeMs = Date.now() - healedAt;
    const divergent = comparisons.flatMap((c) => c.divergent.map((d) => `${c.table} ${d.key}`));
    for (const c of comparisons) {
      // What each region holds of a divergent key, to tell a content difference from a metadata one.
      for (const d of c.divergent.slice(0, 20)) console.error(`soak: divergent ${c.table} ${d.key}: ${JSON.stringify(d.byRegion)}`);
    }

    // Accounting.
    const lost: string[] = [];
    const now = Date.now();
    // The divergent keys of the last-writer-wins table (partition key values): their history is
    // printed as a lost write's is, so that a divergence can be diagnosed from the run's output.
    const divergentItems = new Set(
      comparisons
        .filter((c) => c.table === ITEMS)
        .flatMap((c) => c.divergent.slice(0, 20).map((d) => (JSON.parse(d.key) as { M?: { pk?: { S?: string } } }).M?.pk?.S ?? d.key)),
    );
    const tombstones = tombstoneTableName(running.config.appName);
    const short = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' && x.length > 200 ? `<${x.length} chars>` : x));
    for (const key of new Set([...workload.writes.keys(), ...divergentItems])) {
      const writes = workload.writes.get(key) ?? [];
      const attempts = workload.attempts.get(key) ?? [];
      const finals: string[] = [];
      let why: string | undefined;
      for (const region of REGIONS) {
        const item = (await db(region).send(new GetItemCommand({ TableName: ITEMS, Key: { pk: { S: key } }, ConsistentRead: true }))).Item;
        finals.push(`${region}: ${JSON.stringify(finalOf(item).value)} ${item ? short(item) : 'absent'}`);
        // (A divergent key no acknowledged write touched is reported as divergent, not as lost.)
        const reason = workload.writes.has(key) ? lossOf(finalOf(item), writes, attempts, now) : undefined;
        if (reason) {
          lost.push(`${ITEMS} ${key} in ${region}: ${reason}`);
          why ??= reason;
        }
      }
      if (why || divergentItems.has(key)) {
        // A divergent key: each region's tombstone row too (deleted items live there, not in the table).
        if (divergentItems.has(key)) {
          for (const region of REGIONS) {
            const row = (await db(region).send(new GetItemCommand(getTombstoneInput(tombstones, ITEMS, { pk: { S: key } })))).Item;
            finals.push(`${region} tombstone row: ${row ? short(row) : 'none'}`);
          }
        }
        // The key's history, for the report: every acknowledged write (times in ms since the workload started).
        console.error(`soak: history of ${ITEMS} ${key}${divergentItems.has(key) ? ' (divergent)' : ''} (t0 = ${new Date(t0).toISOString()}):`);
        for (const w of [...writes, ...attempts.map((a) => ({ ...a, failed: true }))].sort((a, b) => a.startAt - b.startAt)) {
          console.error(
            `  ${String(w.startAt - t0).padStart(7)}..${String(w.ackAt - t0).padStart(7)} ms  ${w.region.padEnd(14)} ${w.pattern.padEnd(10)} ${JSON.stringify(w.value)}${'failed' in w ? ' (call failed)' : ''}`,
          );
        }
        for (const f of finals) console.error(`  final ${f}`);
      }
    }
    let incrementsTotal = 0;
    for (const [key, n] of increments) {
      incrementsTotal += n;
      for (const region of REGIONS) {
        const item = (await db(region).send(new GetItemCommand({ TableName: COUNTERS, Key: { pk: { S: key } }, ConsistentRead: true }))).Item;
        const got = Number(item?.n?.N ?? 0);
        if (got !== n) lost.push(`${COUNTERS} ${key} in ${region}: counter ${got}, acknowledged increments ${n}`);
      }
    }
    for (const l of lost.slice(0, 20)) console.error(`soak: lost ${l}`);
    const injected = Object.entries(chaos.injected)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const ok = divergent.length === 0 && lost.length === 0;
    const st = workload.stats;
    const patterns = PATTERNS.map((p) => `${p} ${st.ops[p]}${st.refused[p] ? ` (${st.refused[p]} refused)` : ''}`).join(', ');
    const ackedWrites = PATTERNS.reduce((n, p) => n + st.acked[p], 0);
    failedOps += PATTERNS.reduce((n, p) => n + st.failed[p], 0);
    console.log(
      `soak: operations per pattern: ${patterns}; ${ackedWrites} item writes acknowledged (${PATTERNS.map((p) => `${p} ${st.acked[p]}`).join(', ')}), ${st.unprocessedRetries} batch retries of unprocessed items`,
    );
    console.log(
      `soak ${ok ? 'OK' : 'FAILED'}: seed ${seed}, ${minutes} min, ${ops} operations (${failedOps} failed, ${workload.writes.size} keys, ${ackedWrites} item writes: ${patterns}; ${incrementsTotal} increments), ` +
        `${faults} faults injected (calls affected: ${injected || 'none'}), converged in ${(convergeMs / 1000).toFixed(1)} s, divergent keys = ${divergent.length}, lost writes = ${lost.length}`,
    );
    return ok ? 0 : 1;
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
