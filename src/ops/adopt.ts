/**
 * `regionsync adopt`: brings tables that already exist, with their data, under replication
 * (the table config's `adoptIn`, docs/adopting.md). Three steps, the application writing throughout:
 *   1. {@link prepareAdoption}: in each adopted region, check the table's key schema against the
 *      config, enable its stream (NEW_AND_OLD_IMAGES) if it has none, and return the stream's ARN,
 *      which {@link recordAdoptionContext} writes into cdk.context.json for the synth;
 *   2. deploy (the stacks import the adopted tables and create the missing ones); from then on every
 *      write is replicated, starting with those the stream holds since step 1;
 *   3. {@link backfillAdoption}: what each region held before its stream was enabled is in no
 *      stream, so each region's items are backfilled into every other region (src/ops/backfill.ts:
 *      resumable, through the appliers' conditional writes, so a newer live write always wins; an
 *      item never stamped is stamped at its source first and so gets a version).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeJsonFile } from './json-file.ts';
import { join } from 'node:path';
import { DescribeTableCommand, DescribeTimeToLiveCommand, type TableDescription, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { META } from '../core/contract.ts';
import { sleep } from '../core/concurrency.ts';
import { adoptedStreamContextKey } from '../infra/config/adoption.ts';
import { type KeyAttribute, physicalTableName, type ResolvedTableConfig } from '../infra/config/schema.ts';
import { dynamodb } from './aws.ts';
import { backfill, type BackfillOptions, type BackfillReport } from './backfill.ts';
import type { OpsTable } from './ship.ts';

/** The stream view the shipper needs: the old image tells it what a write replaced. */
const STREAM_VIEW = 'NEW_AND_OLD_IMAGES';
const SCALAR_TYPE = { string: 'S', number: 'N', binary: 'B' } as const;

/** One adopted region after {@link prepareAdoption}. */
export interface AdoptedRegion {
  readonly region: string;
  /** The table's physical name there. */
  readonly tableName: string;
  readonly streamArn: string;
  /** Whether this run enabled the stream (false: it was already enabled with the right view). */
  readonly enabledStream: boolean;
  /** The CDK context entry the synth reads ({@link adoptedStreamContextKey}). */
  readonly contextKey: string;
}

/** A table that cannot be adopted as it is: names the region, the table and what to change. */
export class AdoptionError extends Error {}

/** Options of {@link prepareAdoption}. */
export interface PrepareAdoptionOptions {
  readonly ops: OpsTable;
  /** How long to wait for a stream being enabled to show its ARN, in ms. @default 60000 */
  readonly timeoutMs?: number;
}

/**
 * Step 1: checks each `adoptIn` region's table against the config and enables its stream where it
 * has none. Idempotent: run again, it finds the streams enabled and returns the same ARNs.
 */
export async function prepareAdoption(o: PrepareAdoptionOptions): Promise<AdoptedRegion[]> {
  const { table } = o.ops;
  const regions = table.adoptIn ?? [];
  if (regions.length === 0) throw new AdoptionError(`table ${table.name}: adoptIn lists no region; list the regions where the table already exists`);
  const out: AdoptedRegion[] = [];
  for (const region of regions) {
    const tableName = physicalTableName(table, region);
    const client = dynamodb(o.ops.target, region);
    const described = await describe(client, tableName, region);
    checkKeySchema(table, described, region);
    // A global table's own replicas would replicate every write a second time.
    if ((described.Replicas ?? []).length > 0)
      throw new AdoptionError(
        `${tableName} in ${region} is a DynamoDB global table (replicas in ${described.Replicas!.map((r) => r.RegionName).join(', ')}): remove its replicas first, regionsync is the replication`,
      );
    await checkTtl(client, table, tableName, region);
    const spec = described.StreamSpecification;
    let streamArn = described.LatestStreamArn;
    let enabledStream = false;
    if (spec?.StreamEnabled) {
      // A stream's view type cannot be changed while it is enabled.
      if (spec.StreamViewType !== STREAM_VIEW)
        throw new AdoptionError(
          `${tableName} in ${region}: its stream has view type ${spec.StreamViewType}; regionsync needs ${STREAM_VIEW}. A stream's view type cannot change while it is enabled: disable the stream (its other consumers stop) and run adopt again`,
        );
    } else {
      await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: STREAM_VIEW } }));
      enabledStream = true;
      streamArn = await streamArnOnceEnabled(client, tableName, region, o.timeoutMs ?? 60_000);
    }
    if (!streamArn) throw new AdoptionError(`${tableName} in ${region}: the stream is enabled but DescribeTable shows no LatestStreamArn`);
    out.push({ region, tableName, streamArn, enabledStream, contextKey: adoptedStreamContextKey(region, tableName) });
  }
  return out;
}

/**
 * Writes the adopted streams' ARNs into a CDK context file (cdk.context.json of the CDK app, which
 * `cdk synth` reads), keeping every other entry; never half-written (writeJsonFile).
 */
export async function recordAdoptionContext(file: string, adopted: readonly AdoptedRegion[]): Promise<void> {
  let context: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      context = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new AdoptionError(`${file}: not a JSON context file (${(e as Error).message}); fix it or name another with --context-file`);
    }
  }
  for (const a of adopted) context[a.contextKey] = a.streamArn;
  await writeJsonFile(file, context);
}

/** Options of {@link backfillAdoption}: those of backfill, for every pair of regions. */
export type BackfillAdoptionOptions = Omit<BackfillOptions, 'to' | 'from' | 'onPage' | 'ownVersionsOnly'>;

/**
 * Step 3, after the deploy: backfills each region's items into every other region of the table,
 * one pair at a time (each resumable on its own), each sending only what its source made (or held
 * unstamped): an item another region made is that region's to send. Every region is scanned, the
 * ones that started empty too, for the writes made there before its stream was enabled.
 */
export async function backfillAdoption(o: BackfillAdoptionOptions): Promise<BackfillReport[]> {
  const reports: BackfillReport[] = [];
  const regions = o.ops.table.regions;
  for (const from of regions) {
    for (const to of regions) {
      if (to === from) continue;
      if (o.signal?.aborted) return reports;
      // Progress of its own per source (a backfill's state file is per table and target): the pairs
      // into one target never resume each other's runs, nor a plain `regionsync backfill`.
      const stateDir = join(o.stateDir ?? join('.regionsync', 'backfill'), 'adopt', from);
      reports.push(await backfill({ ...o, from, to, ownVersionsOnly: true, stateDir }));
    }
  }
  return reports;
}

async function describe(client: ReturnType<typeof dynamodb>, tableName: string, region: string): Promise<TableDescription> {
  try {
    const t = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    if (!t) throw new AdoptionError(`${tableName} in ${region}: DescribeTable returned no table`);
    return t;
  } catch (e) {
    if ((e as { name?: string }).name === 'ResourceNotFoundException')
      throw new AdoptionError(
        `${tableName} does not exist in ${region}: adoptIn lists the regions where the table already exists (remove ${region} from it to have regionsync create the table there)`,
      );
    throw e;
  }
}

/** The table's key schema must be the config's: the functions address items by these attributes. */
function checkKeySchema(table: ResolvedTableConfig, t: TableDescription, region: string): void {
  const typeOf = (name: string) => t.AttributeDefinitions?.find((d) => d.AttributeName === name)?.AttributeType;
  const expect = (role: 'HASH' | 'RANGE', key: KeyAttribute | undefined, what: string) => {
    const actual = t.KeySchema?.find((k) => k.KeyType === role)?.AttributeName;
    const want = key ? `${key.name} (${SCALAR_TYPE[key.type]})` : 'none';
    const have = actual ? `${actual} (${typeOf(actual)})` : 'none';
    if (want !== have) throw new AdoptionError(`${t.TableName} in ${region}: its ${what} is ${have}, the config says ${want} (tables ${table.name}.${what})`);
  };
  expect('HASH', table.partitionKey, 'partitionKey');
  expect('RANGE', table.sortKey, 'sortKey');
}

async function streamArnOnceEnabled(client: ReturnType<typeof dynamodb>, tableName: string, region: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    if (t?.LatestStreamArn && t.StreamSpecification?.StreamEnabled && t.TableStatus === 'ACTIVE') return t.LatestStreamArn;
    if (Date.now() > deadline) throw new AdoptionError(`${tableName} in ${region}: the stream was not enabled within ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

/**
 * Every region must expire the same items: the regions regionsync creates get TTL on the table's
 * `ttlAttribute`, so an adopted table must expire by that attribute too (or, for regionsync's own
 * default, need not expire at all). Otherwise items would expire in some regions only, for good.
 */
async function checkTtl(client: ReturnType<typeof dynamodb>, table: ResolvedTableConfig, tableName: string, region: string): Promise<void> {
  const ttl = (await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }))).TimeToLiveDescription;
  const enabled = ttl?.TimeToLiveStatus === 'ENABLED' || ttl?.TimeToLiveStatus === 'ENABLING';
  if (enabled && ttl?.AttributeName !== table.ttlAttribute)
    throw new AdoptionError(
      `${tableName} in ${region} expires items by its TTL attribute ${ttl?.AttributeName}: set tables ${table.name}.ttlAttribute to '${ttl?.AttributeName}', so every region expires the same items`,
    );
  if (!enabled && table.ttlAttribute !== META.expiresAt)
    throw new AdoptionError(
      `${tableName} in ${region} has TTL off, but the config's ttlAttribute is ${table.ttlAttribute}, which the regions regionsync creates expire by: enable TTL on ${table.ttlAttribute} there, or leave ttlAttribute unset`,
    );
}
