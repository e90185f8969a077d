/**
 * `npm start`: the whole system on one machine. Starts moto, deploys every region stack with the
 * real CDK deploy, runs the deployed functions in the local runtime, writes a small workload with
 * plain AWS SDK calls (puts, an update, a delete, and conflicting writes to the same keys in two
 * regions at once), then shows what replicated, how fast, which write won each conflict, and
 * exits 0 only if every region holds the same table.
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { startMoto } from '../local/moto.ts';
import { META, METRICS } from '../../src/core/contract.ts';
import { physicalTableName, type ResolvedTableConfig } from '../../src/infra/config/schema.ts';
import { compareTable, type Comparison, type Item } from '../../src/ops/compare.ts';
import { percentile } from '../../src/ops/emf.ts';
import { dynamodb, type Target } from '../../src/ops/aws.ts';
import { listConflicts } from '../../src/cli/conflicts.ts';
import { bringUp, type ConsoleSettings } from './up.ts';
import { serveConsole, untilStopped } from '../../src/cli/console.ts';
import { sleep } from '../../src/core/concurrency.ts';

export interface DemoOptions {
  readonly configFile?: string;
  /** Use this emulator instead of starting moto. */
  readonly endpoint?: string;
  readonly verbose?: boolean;
  readonly itemsPerRegion?: number;
  readonly conflicts?: number;
  /** After the demo, keep everything running and serve the ops console until Ctrl-C (`npm start -- --console`). */
  readonly console?: ConsoleSettings;
}

export async function demoCommand(opts: DemoOptions): Promise<number> {
  const started = Date.now();
  const moto = opts.endpoint ? undefined : await startMoto();
  const endpoint = opts.endpoint ?? moto!.endpoint;
  console.log(`regionsync demo: emulator at ${endpoint}${moto ? ' (moto, started for this run)' : ''}`);
  let running: Awaited<ReturnType<typeof bringUp>> | undefined;
  try {
    running = await bringUp({ endpoint, configFile: opts.configFile, verbose: opts.verbose, ...(opts.console ? { alarms: true } : {}) });
    console.log(`ready: local runtime running ${running.runtime!.functions.length} functions in ${running.regions.join(', ')}\n`);
    const target: Target = { endpoint };
    let allConverged = true;
    for (const table of running.config.tables) {
      const ok = await demoTable(target, running.config.appName, table, opts, running.metrics);
      allConverged &&= ok;
    }
    const lags = running.metrics.values(METRICS.names.replicationLag);
    const stale = running.metrics.sum(METRICS.names.changesStale);
    console.log(
      `\napplier-measured replication lag (write in source → applied in target): p50 ${fmt(percentile(lags, 50))} ms, p99 ${fmt(percentile(lags, 99))} ms, max ${fmt(Math.max(...lags))} ms over ${lags.length} changes; ${stale} stale or duplicate changes skipped`,
    );
    console.log(
      allConverged
        ? `\nconverged: every region holds the same tables (${((Date.now() - started) / 1000).toFixed(1)} s in all)`
        : '\nDIVERGED: regions differ (see above)',
    );
    if (opts.console) {
      const server = await serveConsole({ config: running.config, endpoint, ...opts.console });
      console.log(`\nconsole: ${server.url} (the dashboards of ${running.config.appName}, live; the environment keeps running until Ctrl-C)`);
      console.log(`  write to it: AWS_ENDPOINT_URL=${endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws dynamodb put-item ...`);
      const signal = await untilStopped();
      console.log(`${signal}: stopping`);
      await server.close();
    }
    return allConverged ? 0 : 1;
  } finally {
    await running?.stop();
    await moto?.stop();
  }
}

async function demoTable(
  t: Target,
  appName: string,
  table: ResolvedTableConfig,
  opts: DemoOptions,
  metrics: { sum(n: string, m?: Record<string, string>): number },
): Promise<boolean> {
  const regions = table.regions;
  const [a, b] = regions as [string, string];
  const perRegion = opts.itemsPerRegion ?? 5;
  const conflicts = opts.conflicts ?? 5;
  console.log(`table ${table.name} (${regions.join(' ⇄ ')})`);

  // 1. Plain puts in every region, then time until each is visible everywhere else.
  const writes: { key: Item; region: string; at: number; marker: string }[] = [];
  for (const region of regions) {
    for (let i = 0; i < perRegion; i++) {
      const key = makeKey(table, `${region}-${i}`);
      const marker = `${region}-${i}-${Date.now()}`;
      writes.push({ key, region, at: Date.now(), marker });
      await dynamodb(t, region).send(
        new PutItemCommand({
          TableName: physicalTableName(table, region),
          Item: { ...key, status: { S: 'new' }, placedIn: { S: region }, marker: { S: marker }, amount: { N: String(10 * (i + 1)) } },
        }),
      );
    }
  }
  const lags = await Promise.all(
    writes.flatMap((w) =>
      regions.filter((r) => r !== w.region).map((r) => waitVisible(t, r, physicalTableName(table, r), w.key, (item) => item?.marker?.S === w.marker, w.at)),
    ),
  );
  const seen = lags.filter((x): x is number => x !== undefined);
  console.log(
    `  1. ${writes.length} plain PutItem calls: ${seen.length}/${lags.length} copies visible in the other region(s); end-to-end p50 ${fmt(percentile(seen, 50))} ms, max ${fmt(Math.max(...seen))} ms`,
  );

  // 2. An update in the second region of an item written in the first; a delete in the first of one from the second.
  const updated = writes.find((w) => w.region === a)!;
  const deleted = writes.find((w) => w.region === b)!;
  const t2 = Date.now();
  await dynamodb(t, b).send(
    new UpdateItemCommand({
      TableName: physicalTableName(table, b),
      Key: updated.key,
      UpdateExpression: 'SET #s = :s',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': { S: 'shipped' } },
    }),
  );
  await dynamodb(t, a).send(new DeleteItemCommand({ TableName: physicalTableName(table, a), Key: deleted.key }));
  const updLag = await waitVisible(t, a, physicalTableName(table, a), updated.key, (item) => item?.status?.S === 'shipped', t2);
  const delLag = await waitVisible(t, b, physicalTableName(table, b), deleted.key, (item) => item === undefined || item[META.deleted]?.BOOL === true, t2);
  console.log(`  2. UpdateItem in ${b} reached ${a} in ${fmt(updLag)} ms; DeleteItem in ${a} reached ${b} in ${fmt(delLag)} ms`);

  // 3. Conflicts: the same keys written in both regions at the same moment, as the table's strategy sees them.
  const keys = Array.from({ length: conflicts }, (_, i) => makeKey(table, `conflict-${i}`));
  const scene = await conflictScene(t, table, keys, a, b);
  const comparison = await waitConverged(t, table, 30_000);
  console.log(`  3. ${conflicts} keys written concurrently in ${a} and ${b} (${table.strategy.strategy}): ${await scene()}`);
  const logged = table.conflictLogRetentionSeconds ? await listConflicts(t, appName, table.name, table.regions, 1000) : [];
  const staleHere = metrics.sum(METRICS.names.changesStale, { [METRICS.dimensions.table]: table.name });
  console.log(
    `     ${logged.length} conflicts recorded in the conflict log (npx regionsync conflicts --table ${table.name}); ${staleHere} stale or duplicate changes skipped`,
  );

  // 4. The tables, side by side.
  console.log(
    `  4. ${comparison.keys} keys; live items ${Object.entries(comparison.liveItems)
      .map(([r, n]) => `${r}: ${n}`)
      .join(', ')}; divergent keys: ${comparison.divergent.length}`,
  );
  await printSample(t, table, a);
  for (const d of comparison.divergent.slice(0, 10)) console.log(`     DIVERGENT ${d.key}: ${JSON.stringify(d.byRegion)}`);
  return comparison.divergent.length === 0;
}

/** Writes the concurrent changes for the table's strategy; returns a function describing the outcome once converged. */
async function conflictScene(t: Target, table: ResolvedTableConfig, keys: Item[], a: string, b: string): Promise<() => Promise<string>> {
  const put = (region: string, item: Item) => dynamodb(t, region).send(new PutItemCommand({ TableName: physicalTableName(table, region), Item: item }));
  const update = (region: string, key: Item, expression: string, values: Item) =>
    dynamodb(t, region).send(
      new UpdateItemCommand({ TableName: physicalTableName(table, region), Key: key, UpdateExpression: expression, ExpressionAttributeValues: values }),
    );
  const read = async (key: Item) =>
    (await dynamodb(t, a).send(new GetItemCommand({ TableName: physicalTableName(table, a), Key: key, ConsistentRead: true }))).Item;
  const strategy = table.strategy;
  if (strategy.strategy === 'fields') {
    // Different attributes of the same item, concurrently: both must survive.
    await Promise.all(keys.map((key) => put(a, { ...key, email: { S: 'old@example.com' }, city: { S: 'Paris' } })));
    await waitConverged(t, table, 30_000);
    await Promise.all(
      keys.flatMap((key) => [update(a, key, 'SET email = :v', { ':v': { S: 'new@example.com' } }), update(b, key, 'SET city = :v', { ':v': { S: 'Lyon' } })]),
    );
    return async () => {
      const both = (await Promise.all(keys.map(read))).filter((i) => i?.email?.S === 'new@example.com' && i?.city?.S === 'Lyon').length;
      return `email changed in ${a} and city in ${b} at once — both kept in ${both}/${keys.length} items, in every region`;
    };
  }
  if (strategy.strategy === 'merge') {
    const counter = Object.entries(strategy.attributes).find(([, k]) => k === 'counter')?.[0];
    const set = Object.entries(strategy.attributes).find(([, k]) => k === 'set')?.[0];
    await Promise.all(
      keys.flatMap((key) => [
        ...(counter ? [update(a, key, `ADD ${counter} :n`, { ':n': { N: '2' } }), update(b, key, `ADD ${counter} :n`, { ':n': { N: '3' } })] : []),
        ...(set ? [update(a, key, `ADD ${set} :s`, { ':s': { SS: [a] } }), update(b, key, `ADD ${set} :s`, { ':s': { SS: [b] } })] : []),
      ]),
    );
    return async () => {
      const items = await Promise.all(keys.map(read));
      const sums = counter ? items.filter((i) => i?.[counter]?.N === '5').length : 0;
      const unions = set ? items.filter((i) => (i?.[set]?.SS ?? []).length === 2).length : 0;
      return [
        counter ? `+2 in ${a} and +3 in ${b} added up to 5 in ${sums}/${keys.length} items` : '',
        set ? `set adds from both regions kept in ${unions}/${keys.length}` : '',
      ]
        .filter(Boolean)
        .join('; ');
    };
  }
  // lww and custom: whole items written in both regions at once.
  await Promise.all(
    keys.flatMap((key) =>
      [a, b].map((region) =>
        put(region, {
          ...key,
          status: { S: `written in ${region}` },
          writtenIn: { S: region },
          body: { S: region === a ? 'short note' : `a longer note written in ${region}` },
        }),
      ),
    ),
  );
  return async () => {
    const winners: Record<string, number> = {};
    for (const key of keys) {
      const w = (await read(key))?.writtenIn?.S ?? 'none';
      winners[w] = (winners[w] ?? 0) + 1;
    }
    const outcome = Object.entries(winners)
      .map(([r, n]) => `${n} from ${r}`)
      .join(', ');
    return strategy.strategy === 'custom'
      ? `the table's resolver decided, the same in every region — ${outcome}`
      : `last writer (by version) won everywhere — ${outcome}`;
  };
}

async function printSample(t: Target, table: ResolvedTableConfig, region: string): Promise<void> {
  const { scanAll } = await import('../../src/ops/compare.ts');
  const items = (await scanAll(t, region, physicalTableName(table, region))).slice(0, 8);
  for (const item of items) {
    const key = [table.partitionKey.name, table.sortKey?.name]
      .filter(Boolean)
      .map((k) => show(item[k!]))
      .join('/');
    const state = item[META.deleted]?.BOOL ? '(tombstone)' : item.status ? show(item.status) : '';
    console.log(`     ${key.padEnd(36)} ${state.padEnd(22)} version ${item[META.version]?.S ?? '-'}`);
  }
}

async function waitVisible(
  t: Target,
  region: string,
  tableName: string,
  key: Item,
  done: (item: Item | undefined) => boolean,
  since: number,
  timeoutMs = 30_000,
): Promise<number | undefined> {
  const client = dynamodb(t, region);
  while (Date.now() - since < timeoutMs) {
    const out = await client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
    if (done(out.Item)) return Date.now() - since;
    await sleep(25);
  }
  return undefined;
}

export async function waitConverged(t: Target, table: ResolvedTableConfig, timeoutMs: number): Promise<Comparison> {
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  let last: Comparison;
  do {
    last = await compareTable(t, table);
    streak = last.divergent.length === 0 ? streak + 1 : 0;
    // Two agreeing scans in a row: a single one could catch replicas equal mid-flight.
    if (streak >= 2) return last;
    await sleep(300);
  } while (Date.now() < deadline);
  return last;
}

function makeKey(table: ResolvedTableConfig, id: string): Item {
  const key: Item = { [table.partitionKey.name]: keyValue(table.partitionKey.type, id) };
  if (table.sortKey) key[table.sortKey.name] = keyValue(table.sortKey.type, 'v1');
  return key;
}

function keyValue(type: string, id: string): AttributeValue {
  if (type === 'number') return { N: String([...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000_007, 7)) };
  if (type === 'binary') return { B: Buffer.from(id) };
  return { S: id };
}

function show(v: AttributeValue | undefined): string {
  if (!v) return '';
  return v.S ?? v.N ?? (v.B ? Buffer.from(v.B).toString() : JSON.stringify(v));
}

function fmt(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '-' : String(Math.round(n));
}
