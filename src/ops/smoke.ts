/**
 * `regionsync smoke`: the end-to-end check to run on a real account after `cdk deploy`, where the
 * emulator proves nothing about IAM, queue policies or alarm delivery. With plain SDK calls, as an
 * application makes them, on one new key of the table:
 *   1. PutItem in the first region → the item appears in every other region;
 *   2. UpdateItem in another region → the update appears everywhere (the other direction);
 *   3. DeleteItem in the first region → the key is absent everywhere (deletes are absences).
 * Each step waits up to a timeout and reports, per region, how long the change took to appear
 * (strongly consistent reads, polled). The key is deleted everywhere at the end whatever happened.
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { toWire } from '../core/codec.ts';
import { dynamodb } from './aws.ts';
import { physicalTableName, type KeyAttribute } from '../infra/config/schema.ts';
import type { OpsTable } from './ship.ts';
import { sleep } from '../core/concurrency.ts';

/** What {@link smokeTest} checks: the table, where the key is written, and how long to wait. */
export interface SmokeOptions {
  readonly ops: OpsTable;
  /** Where the item is created and deleted. @default the table's first region */
  readonly from?: string;
  /** How long each step may take to reach every region, ms. @default 60000 */
  readonly timeoutMs?: number;
  /** Time between reads, ms. @default 200 */
  readonly pollMs?: number;
}

/** One step of the smoke test: where the application's call was made, and when each other region saw it. */
export interface SmokeStep {
  readonly step: 'create' | 'update' | 'delete';
  /** Where the application's call was made. */
  readonly region: string;
  /** Per other region: ms until the change was seen there, or null if it was not within the timeout. */
  readonly seenAfterMs: Readonly<Record<string, number | null>>;
  readonly ok: boolean;
}

/**
 * The result of {@link smokeTest}: the key used (wire JSON), the steps run, and `ok` when all three
 * reached every region.
 */
export interface SmokeReport {
  readonly table: string;
  readonly key: Record<string, unknown>;
  readonly steps: readonly SmokeStep[];
  readonly ok: boolean;
}

/**
 * Runs the three steps above on one new key, stopping at the first that does not reach every region in
 * time; the key is then deleted in every region, whatever happened.
 */
export async function smokeTest(o: SmokeOptions): Promise<SmokeReport> {
  const { table } = o.ops;
  const from = o.from ?? table.regions[0]!;
  if (!table.regions.includes(from)) throw new Error(`--from: table ${table.name} does not replicate in ${from} (its regions: ${table.regions.join(', ')})`);
  const other = table.regions.find((r) => r !== from)!;
  const clients = new Map(table.regions.map((r) => [r, dynamodb(o.ops.target, r)] as const));
  const nameIn = (region: string) => physicalTableName(table, region);
  const run = randomBytes(6).toString('hex');
  const key: Record<string, AttributeValue> = {
    [table.partitionKey.name]: keyValue(table.partitionKey, `regionsync-smoke-${run}`),
    ...(table.sortKey ? { [table.sortKey.name]: keyValue(table.sortKey, 'smoke') } : {}),
  };
  const steps: SmokeStep[] = [];
  const read = async (region: string) =>
    (await clients.get(region)!.send(new GetItemCommand({ TableName: nameIn(region), Key: key, ConsistentRead: true }))).Item;
  /** Waits in every region but `region` until `seen` holds; ms per region, null on timeout. */
  const waitEverywhere = async (
    region: string,
    seen: (item: Record<string, AttributeValue> | undefined) => boolean,
  ): Promise<Record<string, number | null>> => {
    const started = Date.now();
    const deadline = started + (o.timeoutMs ?? 60_000);
    const out: Record<string, number | null> = {};
    await Promise.all(
      table.regions
        .filter((r) => r !== region)
        .map(async (r) => {
          for (;;) {
            if (seen(await read(r))) return void (out[r] = Date.now() - started);
            if (Date.now() > deadline) return void (out[r] = null);
            await sleep(o.pollMs ?? 200);
          }
        }),
    );
    return out;
  };
  const record = (step: SmokeStep['step'], region: string, seenAfterMs: Record<string, number | null>) => {
    const s = { step, region, seenAfterMs, ok: Object.values(seenAfterMs).every((ms) => ms !== null) };
    steps.push(s);
    return s.ok;
  };

  try {
    await clients.get(from)!.send(new PutItemCommand({ TableName: nameIn(from), Item: { ...key, smoke: { S: 'created' } } }));
    if (!record('create', from, await waitEverywhere(from, (i) => i?.smoke?.S === 'created'))) return report();
    await clients.get(other)!.send(
      new UpdateItemCommand({
        TableName: nameIn(other),
        Key: key,
        UpdateExpression: 'SET smoke = :u',
        ExpressionAttributeValues: { ':u': { S: 'updated' } },
      }),
    );
    if (!record('update', other, await waitEverywhere(other, (i) => i?.smoke?.S === 'updated'))) return report();
    await clients.get(from)!.send(new DeleteItemCommand({ TableName: nameIn(from), Key: key }));
    // Absent: no item (its tombstone is kept in the tombstone table, whatever the strategy).
    record('delete', from, await waitEverywhere(from, (i) => i === undefined));
    return report();
  } finally {
    await cleanUp(clients, nameIn, key);
  }

  function report(): SmokeReport {
    return { table: table.name, key: toWire(key), steps, ok: steps.length === 3 && steps.every((s) => s.ok) };
  }
}

function keyValue(attribute: KeyAttribute, text: string): AttributeValue {
  if (attribute.type === 'number') return { N: String(Date.now() * 1000 + Math.floor(Math.random() * 1000)) };
  if (attribute.type === 'binary') return { B: new TextEncoder().encode(text) };
  return { S: text };
}

/** Deletes the smoke key in every region, whatever the steps did (best effort: a failure is reported by the steps). */
async function cleanUp(clients: ReadonlyMap<string, DynamoDBClient>, nameIn: (region: string) => string, key: Record<string, AttributeValue>): Promise<void> {
  await Promise.all([...clients].map(([region, client]) => client.send(new DeleteItemCommand({ TableName: nameIn(region), Key: key })).catch(() => undefined)));
}
