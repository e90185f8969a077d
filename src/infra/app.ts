import type { App } from 'aws-cdk-lib';
import type { RegionSyncConfig } from './config/schema.ts';
import { Replication, type ReplicationOptions } from './replication.ts';
import type { RegionStack } from './stacks/region-stack.ts';

/** Options of {@link buildApp}: the {@link ReplicationOptions} (account, bootstrap check, emulator). */
export type BuildAppOptions = ReplicationOptions;

/** The construct ID of the {@link Replication} that {@link buildApp} adds (this repo's bin/app.ts uses the same). */
export const APP_REPLICATION_ID = 'RegionSync';

/**
 * Adds a {@link Replication} of `input` to `app` (validating it first: a ConfigError names every
 * bad field) and returns its stacks, one per region that holds a table.
 */
export function buildApp(app: App, input: RegionSyncConfig, options: BuildAppOptions = {}): RegionStack[] {
  return [...new Replication(app, APP_REPLICATION_ID, { ...input, ...options }).stacks.values()];
}
