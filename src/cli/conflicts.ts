/**
 * `regionsync conflicts --table T [--region R] [--limit N] [--json] [--endpoint URL]`: the
 * conflicts the appliers resolved, newest first, with both sides and the result. Unlike Cosmos
 * DB's conflict feed this covers every strategy, last-writer-wins included.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { COMMON_OPTIONS, defineCommand, UsageError } from './command.ts';
import { loadResolvedConfig } from './ops-common.ts';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { CONFLICT_LOG } from '../core/conflicts.ts';
import { conflictTableName } from '../core/contract.ts';
import { dynamodb, targetOf, type Target } from '../ops/aws.ts';

/**
 * One resolved conflict from a region's conflict log: both sides and the result, each with its version,
 * origin region, whether it is a delete, and the item when recorded.
 */
export interface ConflictEntry {
  readonly region: string;
  readonly detectedAt: string;
  readonly key: Record<string, unknown>;
  readonly strategy: string;
  readonly local: { version: string; origin: string; deleted: boolean; item?: Record<string, unknown> };
  readonly incoming: { version: string; origin: string; deleted: boolean; item?: Record<string, unknown> };
  readonly result: { version: string; origin: string; deleted: boolean; item?: Record<string, unknown> };
}

/**
 * The newest `limit` conflicts of `table` across `regions`: each region's conflict log is queried newest
 * first (up to `limit` each) and the entries merged, newest first.
 */
export async function listConflicts(t: Target, appName: string, table: string, regions: readonly string[], limit: number): Promise<ConflictEntry[]> {
  const perRegion = await Promise.all(
    regions.map(async (region) => {
      const out = await dynamodb(t, region).send(
        new QueryCommand({
          TableName: conflictTableName(appName),
          KeyConditionExpression: '#t = :t',
          ExpressionAttributeNames: { '#t': CONFLICT_LOG.partitionKey },
          ExpressionAttributeValues: { ':t': { S: table } },
          ScanIndexForward: false,
          Limit: limit,
        }),
      );
      return (out.Items ?? []).map((raw) => {
        // biome-ignore lint/suspicious/noExplicitAny: a conflict record as stored (untyped JSON of both sides)
        const r = unmarshall(raw) as Record<string, any>;
        // biome-ignore lint/suspicious/noExplicitAny: one side of a stored conflict record (untyped JSON)
        const side = (s: any) => ({ version: s?.version ?? '', origin: s?.origin ?? '', deleted: Boolean(s?.deleted), ...(s?.item ? { item: s.item } : {}) });
        return {
          region,
          detectedAt: new Date(Number(r.detectedAt)).toISOString(),
          key: r.key as Record<string, unknown>,
          strategy: String(r.strategy),
          local: side(r.local),
          incoming: side(r.incoming),
          result: side(r.result),
        } satisfies ConflictEntry;
      });
    }),
  );
  return perRegion
    .flat()
    .sort((a, b) => (a.detectedAt < b.detectedAt ? 1 : -1))
    .slice(0, limit);
}

/** `regionsync conflicts`: prints {@link listConflicts} for a table, as lines or JSON. */
export const conflictsCommand = defineCommand({
  name: 'conflicts',
  summary: 'list the conflicts resolved for a table, newest first: both sides and the result',
  description: `The conflicts the appliers resolved (the table's conflict log), with both sides and the result.
Unlike Cosmos DB's conflict feed this covers every strategy, last-writer-wins included.`,
  options: {
    ...COMMON_OPTIONS,
    table: { ...COMMON_OPTIONS.table, required: true, description: 'the table (its logical name in the config)' },
    region: { type: 'string', value: 'R', description: "one region's log (default: every region of the table)" },
    limit: { type: 'string', value: 'N', default: '50', description: 'at most N conflicts per region' },
  },
  run: async (values) => {
    const config = await loadResolvedConfig(values);
    const table = config.tables.find((x) => x.name === values.table);
    if (!table) throw new UsageError(`--table: no table "${values.table}" in the config (have: ${config.tables.map((x) => x.name).join(', ')})`);
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, got ${values.limit}`);
    const regions = values.region ? [values.region] : table.regions;
    const entries = await listConflicts(targetOf(config, values.endpoint), config.appName, table.name, regions, limit);
    if (values.json) {
      console.log(JSON.stringify({ table: table.name, strategy: table.strategy.strategy, conflicts: entries }, null, 2));
      return 0;
    }
    if (entries.length === 0) {
      console.log(`no conflicts recorded for ${table.name} in ${regions.join(', ')}`);
      return 0;
    }
    console.log(`${entries.length} conflict(s) for ${table.name} (${table.strategy.strategy}), newest first:`);
    for (const e of entries) {
      const key = Object.entries(e.key)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',');
      const show = (s: ConflictEntry['local']) => `${s.origin}@${s.version.slice(0, 22)}${s.deleted ? ' (delete)' : ''}`;
      console.log(`  ${e.detectedAt}  ${e.region.padEnd(15)} ${key.padEnd(24)} local ${show(e.local)}  vs incoming ${show(e.incoming)}`);
      console.log(`      → ${e.strategy}: ${e.result.deleted ? 'deleted' : JSON.stringify(e.result.item ?? {})}`);
    }
    return 0;
  },
});
