import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RegionSyncConfig } from './schema.ts';

/** Environment variable naming the config module; the CLI and tests use it to pick another file. */
export const CONFIG_ENV = 'REGIONSYNC_CONFIG';
/** The config file read when neither an explicit path nor {@link CONFIG_ENV} names one, relative to the working directory. */
export const DEFAULT_CONFIG_FILE = 'regionsync.config.ts';

/** Absolute path of the config module: `explicit` (e.g. `--config`), else the file {@link CONFIG_ENV} names, else {@link DEFAULT_CONFIG_FILE}, resolved against the working directory. */
export function configPath(explicit?: string): string {
  return path.resolve(explicit ?? process.env[CONFIG_ENV] ?? DEFAULT_CONFIG_FILE);
}

/**
 * Imports the config module (its default export) through tsx's own loader, wherever the file is:
 * a plain `import()` treats a `.ts` file outside a `"type": "module"` package as CommonJS, and
 * Node then fails with ERR_REQUIRE_CYCLE_MODULE instead of loading it.
 */
export async function loadConfig(file?: string): Promise<RegionSyncConfig> {
  const p = configPath(file);
  if (!existsSync(p)) throw new Error(`config file ${p} does not exist (pass --config FILE or set ${CONFIG_ENV})`);
  // Loaded here, not with this module: a CDK app importing the library (Replication) never needs tsx.
  const { tsImport } = await import('tsx/esm/api');
  const mod = (await tsImport(pathToFileURL(p).href, import.meta.url)) as { default?: RegionSyncConfig & { __esModule?: boolean; default?: RegionSyncConfig } };
  // A file loaded as CommonJS arrives as its module object: the config is that object's default.
  const config = mod.default?.__esModule ? mod.default.default : mod.default;
  if (!config) throw new Error(`${p} has no default export (export default defineConfig({...}))`);
  return config;
}
