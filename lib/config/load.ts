import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RegionSyncConfig } from './schema.ts';

/** Environment variable naming the config module; the CLI and tests use it to pick another file. */
export const CONFIG_ENV = 'REGIONSYNC_CONFIG';
export const DEFAULT_CONFIG_FILE = 'regionsync.config.ts';

export function configPath(explicit?: string): string {
  return path.resolve(explicit ?? process.env[CONFIG_ENV] ?? DEFAULT_CONFIG_FILE);
}

/** Imports the config module (its default export). Needs a TypeScript-aware loader (tsx). */
export async function loadConfig(file?: string): Promise<RegionSyncConfig> {
  const p = configPath(file);
  const mod = (await import(pathToFileURL(p).href)) as { default?: RegionSyncConfig };
  if (!mod.default) throw new Error(`${p} has no default export (export default defineConfig({...}))`);
  return mod.default;
}
