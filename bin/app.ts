/** The CDK app: `npx cdk synth|deploy`. Reads regionsync.config.ts (or the file in REGIONSYNC_CONFIG). */
import { App } from 'aws-cdk-lib';
import { APP_REPLICATION_ID, ConfigError, loadConfig, Replication } from '../lib/index.ts';

const app = new App();
try {
  // `-c regionsync:bootstrapVersionRule=false` (set by `regionsync up` for emulators).
  const bootstrapVersionRule = String(app.node.tryGetContext('regionsync:bootstrapVersionRule') ?? 'true') !== 'false';
  // `-c regionsync:emulator=true` (set by deploys to an endpoint): see ReplicationOptions.emulator.
  const emulator = String(app.node.tryGetContext('regionsync:emulator') ?? 'false') === 'true';
  // The same public construct a user's own CDK app adds (docs/library.md), here from the config file.
  new Replication(app, APP_REPLICATION_ID, { ...(await loadConfig()), bootstrapVersionRule, emulator });
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
app.synth();
