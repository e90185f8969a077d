/** What the operations commands (verify, repair, backfill, replay, redrive, smoke) share: the table from the config, value checks, output. */
import { UsageError } from './command.ts';
import { validateConfig } from '../infra/config/validate.ts';
import { configPath, loadConfig } from '../infra/config/load.ts';
import { opsTable, type OpsTable } from '../ops/ship.ts';
import { targetOf } from '../ops/aws.ts';
import { DeployedConfigError, loadDeployedConfig } from '../ops/deployed-config.ts';
import type { ResolvedConfig } from '../infra/config/schema.ts';

export { UsageError };

/**
 * Loads and validates the config and addresses the command's table (`--table`, or the only one) at
 * `--endpoint`; a missing or unknown table is a UsageError.
 */
export async function loadOpsTable(command: string, values: ConfigSource & { table?: string }): Promise<OpsTable> {
  const config = await loadResolvedConfig(values);
  const tableName = values.table ?? (config.tables.length === 1 ? config.tables[0]!.name : undefined);
  if (!tableName) throw new UsageError(`regionsync ${command}: --table is required (tables: ${config.tables.map((t) => t.name).join(', ')})`);
  try {
    return opsTable(config, tableName, targetOf(config, values.endpoint));
  } catch (e) {
    throw new UsageError(`regionsync ${command}: --table: ${(e as Error).message}`);
  }
}

/** Where a command's configuration comes from: a config file (`--config`, the default), or a deployed app's stacks (`--app`). */
export interface ConfigSource {
  /** The config file. @default regionsync.config.ts, or $REGIONSYNC_CONFIG */
  readonly config?: string | undefined;
  /** A deployed app's name: its configuration is read from its stacks. @default none: the config file */
  readonly app?: string | undefined;
  /** With `app`: a region the app deploys to. @default $AWS_REGION, else $AWS_DEFAULT_REGION */
  readonly 'app-region'?: string | undefined;
  /** An emulator endpoint. @default AWS */
  readonly endpoint?: string | undefined;
}

/**
 * The resolved configuration: the config file's, validated, or with `--app` the one the app deployed
 * (read from its stack in `--app-region`, src/ops/deployed-config.ts). Bad combinations are UsageErrors.
 */
export async function loadResolvedConfig(values: ConfigSource): Promise<ResolvedConfig> {
  if (!values.app) return validateConfig(await loadConfig(configPath(values.config)));
  if (values.config) throw new UsageError('--app and --config are alternatives: give one');
  const region = values['app-region'] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError('--app: name a region the app deploys to with --app-region (or set AWS_REGION)');
  try {
    return await loadDeployedConfig(values.endpoint ? { endpoint: values.endpoint } : {}, values.app, region);
  } catch (e) {
    if (e instanceof DeployedConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** An option's value as a positive number, undefined when absent; anything else is a UsageError. */
export function positiveNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got "${value}"`);
  return n;
}

/** An option's value as a positive whole number, undefined when absent; anything else is a UsageError. */
export function positiveInteger(name: string, value: string | undefined): number | undefined {
  const n = positiveNumber(name, value);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return n;
}

/** A comma-separated list of regions (spaces trimmed, empty entries dropped), undefined when absent. */
export function regionList(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
}

/** Prints a result as indented JSON on stdout (`--json`). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
