import { deadLetterQueueName, inboundQueueName } from '../../core/contract.ts';
import { existsSync, readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { StrategySpec } from '../../core/contract.ts';
import { ConfigError } from '../../core/errors.ts';
import { KNOWN_REGIONS } from './regions.ts';
import { tableMonitoring, validateMonitoring } from './monitoring.ts';
import { batchingWindowsFor, DEFAULT_LAG_BUDGET_MS, modelledP99Ms } from '../../core/batching.ts';
import { checkSelection } from '../../core/selection.ts';
import { DEFAULT_MAX_CLOCK_OFFSET_SECONDS } from '../../core/clock-bound.ts';
import {
  CRDT_KINDS,
  KEY_TYPES,
  regionSyncConfigSchema,
  type RegionConfig,
  type RegionSyncConfig,
  type ResolvedConfig,
  type ResolvedTableConfig,
  type TableConfig,
} from './schema.ts';
import { unknownKeyProblems } from './unknown-keys.ts';
import { DEAD_LETTER_RETENTION_SECONDS, STREAM_RETENTION_SECONDS } from './retention.ts';

export { DEAD_LETTER_RETENTION_SECONDS, STREAM_RETENTION_SECONDS };
/**
 * Shortest `tombstoneTtlSeconds` accepted: the longest a change can wait before it is applied,
 * stream retention (1 day) + dead-letter queue retention (14 days; a message redriven from it must
 * still find the tombstone, or a late older write could resurrect the deleted item).
 */
export const MIN_TOMBSTONE_TTL_SECONDS = DEAD_LETTER_RETENTION_SECONDS + STREAM_RETENTION_SECONDS;
/** A table's `tombstoneTtlSeconds` when it sets none: the minimum, 15 days. */
export const DEFAULT_TOMBSTONE_TTL_SECONDS = MIN_TOMBSTONE_TTL_SECONDS;
const QUEUE_NAME = /^[a-zA-Z0-9_-]{1,80}$/;

const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;
const APP_NAME = /^[a-zA-Z][a-zA-Z0-9-]{0,29}$/;
/** An IAM role ARN in any partition. */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const ACCOUNT = /^\d{12}$/;

/**
 * Checks the whole configuration and fills in defaults. Collects every problem before throwing,
 * each naming its field path and the bad value, so one run shows everything to fix.
 */
export function validateConfig(input: RegionSyncConfig): ResolvedConfig {
  const problems: string[] = [];
  const bad = (path: string, value: unknown, why: string) => problems.push(`${path}: ${why} (got ${JSON.stringify(value)})`);

  if (typeof input !== 'object' || input === null) throw new ConfigError([`config: must be an object (got ${JSON.stringify(input)})`]);
  // Unknown settings first (a typo must not quietly turn a feature off), then every value.
  problems.push(...unknownKeyProblems(regionSyncConfigSchema, input));
  const appName = input.appName ?? 'regionsync';
  if (typeof appName !== 'string' || !APP_NAME.test(appName)) bad('appName', appName, 'must start with a letter and hold at most 30 letters, digits or dashes');

  const regions: RegionConfig[] = [];
  if (!Array.isArray(input.regions)) {
    bad('regions', input.regions, 'must be a list of regions');
  } else {
    input.regions.forEach((r, i) => {
      const rc: RegionConfig = typeof r === 'string' ? { region: r } : r;
      const path = `regions[${i}]`;
      if (typeof rc?.region !== 'string' || !KNOWN_REGIONS.includes(rc.region)) {
        bad(typeof r === 'string' ? path : `${path}.region`, rc?.region, 'unknown AWS region name');
        return;
      }
      if (rc.account !== undefined && !ACCOUNT.test(rc.account)) bad(`${path}.account`, rc.account, 'must be a 12-digit AWS account id');
      if (rc.credentials !== undefined) {
        const c = rc.credentials;
        if (typeof c !== 'object' || c === null || (c.profile === undefined && c.roleArn === undefined))
          bad(`${path}.credentials`, c, 'must name a profile, a roleArn, or both');
        else {
          if (c.profile !== undefined && (typeof c.profile !== 'string' || c.profile.trim() === ''))
            bad(`${path}.credentials.profile`, c.profile, 'must be a profile name from your AWS config');
          if (c.roleArn !== undefined && (typeof c.roleArn !== 'string' || !ROLE_ARN.test(c.roleArn)))
            bad(`${path}.credentials.roleArn`, c.roleArn, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
        }
      }
      if (regions.some((x) => x.region === rc.region)) bad(path, rc.region, 'region listed twice');
      else regions.push(rc);
    });
    if (input.regions.length < 2) bad('regions', input.regions, 'replication needs at least two regions');
  }
  const regionNames = regions.map((r) => r.region);

  const maxClockOffsetSeconds = checkClockOffset(input.maxClockOffsetSeconds, 'maxClockOffsetSeconds', DEFAULT_MAX_CLOCK_OFFSET_SECONDS, bad);
  const tables: ResolvedTableConfig[] = [];
  if (!Array.isArray(input.tables) || input.tables.length === 0) {
    bad('tables', input.tables, 'must list at least one table');
  } else {
    const seen = new Set<string>();
    input.tables.forEach((t, i) => {
      const resolved = validateTable(t, `tables[${i}]`, regionNames, bad, problems, maxClockOffsetSeconds);
      if (resolved && typeof appName === 'string') {
        const queues = [inboundQueueName(appName, resolved.name), deadLetterQueueName(appName, resolved.name)];
        if (queues.some((q) => !QUEUE_NAME.test(q))) {
          bad(
            `tables[${i}].name`,
            resolved.name,
            `regionsync derives SQS queue names from it ("${queues[0]}"), which allow only letters, digits, - and _ and at most 80 characters`,
          );
        }
      }
      if (!resolved) return;
      if (seen.has(resolved.name)) bad(`tables[${i}].name`, resolved.name, 'duplicate table name');
      seen.add(resolved.name);
      tables.push(resolved);
    });
  }
  const monitoring = validateMonitoring(input, regionNames, bad);
  const stackLayout = input.stackLayout ?? 'single';
  if (stackLayout !== 'single' && stackLayout !== 'per-table') bad('stackLayout', input.stackLayout, "must be 'single' or 'per-table'");
  if (input.tracing !== undefined && typeof input.tracing !== 'boolean') bad('tracing', input.tracing, 'must be true or false');
  const config = { appName, regions, tables, monitoring, stackLayout, tracing: input.tracing ?? false };
  if (problems.length === 0) {
    // A window the lag alarm cannot tell from an outage: it would fire on every quiet minute.
    tables.forEach((t, i) => {
      const lagP99ThresholdMs = tableMonitoring(config, t.name).lagP99ThresholdMs;
      const windowed = t.batchingWindowSeconds.stream + t.batchingWindowSeconds.queue > 0;
      if (windowed && modelledP99Ms(t.batchingWindowSeconds) >= lagP99ThresholdMs) {
        bad(
          `tables[${i}].${t.lagBudgetMs !== DEFAULT_LAG_BUDGET_MS ? 'lagBudgetMs' : 'batchingWindowSeconds'}`,
          t.lagBudgetMs !== DEFAULT_LAG_BUDGET_MS ? t.lagBudgetMs : t.batchingWindowSeconds,
          `batching windows of ${t.batchingWindowSeconds.stream} s + ${t.batchingWindowSeconds.queue} s make the lag p99 about ${modelledP99Ms(t.batchingWindowSeconds)} ms, at or above the table's lag alarm (lagP99ThresholdMs ${lagP99ThresholdMs}): raise the alarm's threshold in monitoring`,
        );
      }
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function validateTable(
  t: TableConfig,
  path: string,
  regionNames: readonly string[],
  bad: (path: string, value: unknown, why: string) => void,
  problems: string[],
  appClockOffsetSeconds: number,
): ResolvedTableConfig | undefined {
  if (typeof t !== 'object' || t === null) {
    bad(path, t, 'must be an object');
    return undefined;
  }
  if (typeof t.name !== 'string' || !TABLE_NAME.test(t.name)) bad(`${path}.name`, t.name, 'must be 3-255 characters of letters, digits, _ . or -');
  for (const which of ['partitionKey', 'sortKey'] as const) {
    const k = t[which];
    if (k === undefined) {
      if (which === 'partitionKey') bad(`${path}.partitionKey`, k, 'key attribute missing: every table needs a partition key');
      continue;
    }
    if (typeof k.name !== 'string' || k.name === '') bad(`${path}.${which}.name`, k.name, 'key attribute name missing');
    else if (k.name.startsWith('_rs_')) bad(`${path}.${which}.name`, k.name, 'names starting with _rs_ are reserved for regionsync metadata');
    if (!KEY_TYPES.includes(k.type)) bad(`${path}.${which}.type`, k.type, `must be one of ${KEY_TYPES.join(', ')}`);
  }
  if (t.sortKey && t.sortKey.name === t.partitionKey?.name) bad(`${path}.sortKey.name`, t.sortKey.name, 'must differ from the partition key');
  const billingMode = t.billingMode ?? 'PAY_PER_REQUEST';
  if (billingMode !== 'PAY_PER_REQUEST' && billingMode !== 'PROVISIONED') bad(`${path}.billingMode`, billingMode, 'must be PAY_PER_REQUEST or PROVISIONED');
  for (const cap of ['readCapacity', 'writeCapacity'] as const) {
    const v = t[cap];
    if (v === undefined) continue;
    if (billingMode !== 'PROVISIONED') bad(`${path}.${cap}`, v, 'only applies with billingMode PROVISIONED');
    else if (!Number.isInteger(v) || v < 1) bad(`${path}.${cap}`, v, 'must be a whole number of at least 1');
  }
  const regions = t.regions ?? regionNames;
  if (!Array.isArray(regions)) bad(`${path}.regions`, regions, 'must be a list of region names');
  else {
    regions.forEach((r, j) => {
      if (!regionNames.includes(r)) bad(`${path}.regions[${j}]`, r, `not one of the configured regions (${regionNames.join(', ')})`);
    });
    if (new Set(regions).size !== regions.length) bad(`${path}.regions`, regions, 'a region is listed twice');
    if (regions.length < 2) bad(`${path}.regions`, regions, 'a replicated table needs at least two regions');
    const partitions = new Set(regions.map(partitionOf));
    if (partitions.size > 1) bad(`${path}.regions`, regions, `spans AWS partitions (${[...partitions].join(', ')}): SQS and IAM do not cross partitions`);
  }
  const tombstoneTtlSeconds = t.tombstoneTtlSeconds ?? DEFAULT_TOMBSTONE_TTL_SECONDS;
  if (!Number.isInteger(tombstoneTtlSeconds) || tombstoneTtlSeconds < MIN_TOMBSTONE_TTL_SECONDS) {
    bad(
      `${path}.tombstoneTtlSeconds`,
      tombstoneTtlSeconds,
      `must be a whole number of seconds of at least ${MIN_TOMBSTONE_TTL_SECONDS} (queue retention + stream retention), or a late older write could resurrect a deleted item`,
    );
  }
  const ttlAttribute = t.ttlAttribute ?? '_rs_exp';
  if (typeof ttlAttribute !== 'string' || ttlAttribute === '') bad(`${path}.ttlAttribute`, ttlAttribute, 'must be an attribute name');
  else if (ttlAttribute === t.partitionKey?.name || ttlAttribute === t.sortKey?.name) bad(`${path}.ttlAttribute`, ttlAttribute, 'must not be a key attribute');
  const resolution = validateResolution(t, path, bad);
  const log = t.conflictLog ?? {};
  if (typeof log !== 'object' || log === null) bad(`${path}.conflictLog`, log, 'must be an object { enabled?, retentionDays? }');
  const retentionDays = log.retentionDays ?? 30;
  if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 3650)
    bad(`${path}.conflictLog.retentionDays`, retentionDays, 'must be a whole number of days from 1 to 3650');
  if (t.replicateTtlDeletes !== undefined && typeof t.replicateTtlDeletes !== 'boolean')
    bad(`${path}.replicateTtlDeletes`, t.replicateTtlDeletes, 'must be true or false');
  const windows = t.batchingWindowSeconds ?? {};
  if (typeof windows !== 'object' || windows === null) bad(`${path}.batchingWindowSeconds`, windows, 'must be an object { stream?, queue? }');
  for (const [which, v] of Object.entries(windows ?? {})) {
    if (which !== 'stream' && which !== 'queue') continue; // an unknown setting (unknown-keys.ts)
    // Lambda accepts whole seconds from 0 to 300 on both stream and SQS mappings.
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 300)
      bad(`${path}.batchingWindowSeconds.${which}`, v, 'must be a whole number of seconds from 0 to 300');
  }
  const lagBudgetMs = t.lagBudgetMs ?? DEFAULT_LAG_BUDGET_MS;
  if (typeof lagBudgetMs !== 'number' || !Number.isInteger(lagBudgetMs) || lagBudgetMs < DEFAULT_LAG_BUDGET_MS || lagBudgetMs > 600_000)
    bad(
      `${path}.lagBudgetMs`,
      lagBudgetMs,
      `must be a whole number of milliseconds from ${DEFAULT_LAG_BUDGET_MS} to 600000 (the replication lag p99 the table accepts)`,
    );
  const parallelizationFactor = t.parallelizationFactor ?? 1;
  if (!Number.isInteger(parallelizationFactor) || parallelizationFactor < 1 || parallelizationFactor > 10)
    bad(`${path}.parallelizationFactor`, parallelizationFactor, "must be a whole number from 1 to 10 (Lambda's ParallelizationFactor)");
  // Windows set by hand win over the budget's; both set, they must agree.
  const budgeted = batchingWindowsFor(lagBudgetMs);
  const batchingWindowSeconds = { stream: windows?.stream ?? budgeted.stream, queue: windows?.queue ?? budgeted.queue };
  if (t.lagBudgetMs !== undefined && t.batchingWindowSeconds !== undefined && modelledP99Ms(batchingWindowSeconds) > lagBudgetMs) {
    bad(
      `${path}.batchingWindowSeconds`,
      windows,
      `windows of ${batchingWindowSeconds.stream} s + ${batchingWindowSeconds.queue} s make the modelled lag p99 ${modelledP99Ms(batchingWindowSeconds)} ms, above lagBudgetMs ${lagBudgetMs}: set one of the two`,
    );
  }
  const maxClockOffsetSeconds = checkClockOffset(t.maxClockOffsetSeconds, `${path}.maxClockOffsetSeconds`, appClockOffsetSeconds, bad);
  const tableRegions = Array.isArray(regions) ? regions : [];
  const key = { partitionKey: t.partitionKey?.name, ...(t.sortKey ? { sortKey: t.sortKey.name } : {}) };
  for (const problem of checkSelection(t.replicate, `${path}.replicate`, { regions: tableRegions, key, strategy: resolution.strategy.strategy }))
    problems.push(problem);
  const names: Record<string, string> = Object.fromEntries(tableRegions.map((r) => [r, t.name]));
  if (t.names !== undefined) {
    if (typeof t.names !== 'object' || t.names === null || Array.isArray(t.names)) bad(`${path}.names`, t.names, 'must map region names to table names');
    else {
      for (const [r, n] of Object.entries(t.names)) {
        if (!tableRegions.includes(r)) bad(`${path}.names.${r}`, r, `not one of the table's regions (${tableRegions.join(', ')})`);
        else if (typeof n !== 'string' || !TABLE_NAME.test(n)) bad(`${path}.names.${r}`, n, 'must be 3-255 characters of letters, digits, _ . or -');
        else names[r] = n;
      }
    }
  }
  if (t.adoptIn !== undefined) {
    if (!Array.isArray(t.adoptIn)) bad(`${path}.adoptIn`, t.adoptIn, "must be a list of the table's regions");
    else
      t.adoptIn.forEach((r, j) => {
        if (!tableRegions.includes(r)) bad(`${path}.adoptIn[${j}]`, r, `not one of the table's regions (${tableRegions.join(', ')})`);
      });
  }
  return {
    ...resolution,
    ...(t.replicate !== undefined ? { selection: t.replicate } : {}),
    ...(Array.isArray(t.adoptIn) && t.adoptIn.length > 0 ? { adoptIn: [...new Set(t.adoptIn)] } : {}),
    ...(t.names !== undefined ? { names } : {}),
    ...(log.enabled === false ? {} : { conflictLogRetentionSeconds: retentionDays * 86_400 }),
    replicateTtlDeletes: t.replicateTtlDeletes ?? false,
    batchingWindowSeconds,
    lagBudgetMs,
    parallelizationFactor,
    maxClockOffsetSeconds,
    name: t.name,
    partitionKey: t.partitionKey,
    ...(t.sortKey ? { sortKey: t.sortKey } : {}),
    billingMode,
    readCapacity: t.readCapacity ?? 5,
    writeCapacity: t.writeCapacity ?? 5,
    regions: Array.isArray(regions) ? regions : [],
    tombstoneTtlSeconds,
    ttlAttribute,
    retainOnDelete: t.retainOnDelete ?? true,
  };
}

/**
 * The clock bound, in seconds. Below 0.5 s honest application hosts (NTP: tens of ms, worse on a
 * bad day) would see their writes restamped and changes held back; above an hour it bounds
 * nothing a conflict cares about, and exceeds what the applier's retries can hold (27 min).
 */
function checkClockOffset(value: unknown, path: string, fallback: number, bad: (path: string, value: unknown, why: string) => void): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0.5 || value > 3600) {
    bad(path, value, "must be a number of seconds from 0.5 to 3600: how far ahead of a region's clock a version may be before it is held back");
    return fallback;
  }
  return value;
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** Checks `conflictResolution`; a custom resolver's module must exist and export the function. */
function validateResolution(
  t: TableConfig,
  path: string,
  bad: (path: string, value: unknown, why: string) => void,
): { strategy: StrategySpec; resolver?: { file: string; exportName: string } } {
  const c = t.conflictResolution ?? { strategy: 'lww' as const };
  const at = `${path}.conflictResolution`;
  switch (c.strategy) {
    case 'lww':
    case 'fields':
      return { strategy: { strategy: c.strategy } };
    case 'merge': {
      if (typeof c.attributes !== 'object' || c.attributes === null || Object.keys(c.attributes).length === 0) {
        bad(`${at}.attributes`, c.attributes, 'the merge strategy needs at least one attribute, e.g. { likes: "counter" }');
        return { strategy: { strategy: 'fields' } };
      }
      for (const [name, kind] of Object.entries(c.attributes)) {
        if (!CRDT_KINDS.includes(kind)) bad(`${at}.attributes.${name}`, kind, `must be one of ${CRDT_KINDS.join(', ')}`);
        if (name === t.partitionKey?.name || name === t.sortKey?.name) bad(`${at}.attributes.${name}`, kind, 'a key attribute cannot merge');
        if (name.startsWith('_rs_')) bad(`${at}.attributes.${name}`, kind, 'names starting with _rs_ are reserved for regionsync metadata');
      }
      return { strategy: { strategy: 'merge', attributes: c.attributes } };
    }
    case 'custom': {
      const [file, exportName = 'default'] = String(c.resolver ?? '').split('#');
      const absolute = file ? resolvePath(file) : '';
      if (!file || !existsSync(absolute)) {
        bad(`${at}.resolver`, c.resolver, 'must name an existing module, e.g. "resolvers/orders.ts#resolveOrder"');
      } else if (
        exportName !== 'default' &&
        !new RegExp(`export\\s+(const|function|let|async\\s+function)\\s+${exportName}\\b|export\\s*\\{[^}]*\\b${exportName}\\b`).test(
          readFileSync(absolute, 'utf8'),
        )
      ) {
        bad(`${at}.resolver`, c.resolver, `${file} does not export "${exportName}"`);
      }
      return { strategy: { strategy: 'custom' }, resolver: { file: absolute, exportName } };
    }
    default:
      bad(`${at}.strategy`, (c as { strategy?: unknown }).strategy, 'must be one of lww, fields, merge, custom');
      return { strategy: { strategy: 'lww' } };
  }
}
