/** What the operations commands (verify, repair, backfill, replay) share: options, config, output. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { validateConfig } from '../infra/config/validate.ts';
import { configPath, loadConfig } from '../infra/config/load.ts';
import { opsTable, type OpsTable } from '../ops/ship.ts';
import { targetOf } from '../ops/aws.ts';

export const COMMON_OPTIONS = {
  endpoint: { type: 'string' },
  config: { type: 'string' },
  table: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

/** Parses a command's arguments; usage errors are thrown as UsageError (exit 2). */
export function parseCommand<O extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw new UsageError(`regionsync ${command}: ${(e as Error).message}`);
  }
}

export class UsageError extends Error {}

export async function loadOpsTable(command: string, values: { config?: string; table?: string; endpoint?: string }): Promise<OpsTable> {
  const config = validateConfig(await loadConfig(configPath(values.config)));
  const tableName = values.table ?? (config.tables.length === 1 ? config.tables[0]!.name : undefined);
  if (!tableName) throw new UsageError(`regionsync ${command}: --table is required (tables: ${config.tables.map((t) => t.name).join(', ')})`);
  try {
    return opsTable(config, tableName, targetOf(config, values.endpoint));
  } catch (e) {
    throw new UsageError(`regionsync ${command}: --table: ${(e as Error).message}`);
  }
}

export function positiveNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got "${value}"`);
  return n;
}

export function positiveInteger(name: string, value: string | undefined): number | undefined {
  const n = positiveNumber(name, value);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return n;
}

export function regionList(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
}

/** Runs a command body: usage errors print the message and the command's usage and exit 2. */
export async function runOps(usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${e.message}\n\n${usage}`);
      return 2;
    }
    throw e;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
