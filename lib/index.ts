/**
 * regionsync's CDK side, for a CDK app (the package's main export, `import { Replication } from
 * 'regionsync'`): the `Replication` construct, the configuration (`defineConfig`, and the config
 * file's loader), `buildApp` (a Replication of a config file, for this repo's bin/app.ts), and the
 * constructs it composes. The code lives in src/infra; this is the one module an app imports. What
 * applications import at run time is src/client/index.ts (`regionsync/client`); the functions'
 * entry points are in lambda/.
 */
export { Replication, type ReplicationOptions, type ReplicationProps } from '../src/infra/replication.ts';
export { buildApp, APP_REPLICATION_ID, type BuildAppOptions } from '../src/infra/app.ts';
export { configPath, loadConfig, CONFIG_ENV, DEFAULT_CONFIG_FILE } from '../src/infra/config/load.ts';
export {
  defineConfig,
  physicalTableName,
  type ConflictResolutionConfig,
  type MonitoringConfig,
  type RegionConfig,
  type RegionSyncConfig,
  type StackLayout,
  type TableConfig,
} from '../src/infra/config/schema.ts';
export { RegionStack, type RegionStackProps } from '../src/infra/stacks/region-stack.ts';
export { ReplicatedTable, type ReplicatedTableProps } from '../src/infra/constructs/replicated-table.ts';
export { TombstoneTable, type TombstoneTableProps } from '../src/infra/constructs/tombstone-table.ts';
export { ConfigError } from '../src/core/errors.ts';
