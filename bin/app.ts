/** The CDK app: `npx cdk synth|deploy`. Reads regionsync.config.ts (or the file in REGIONSYNC_CONFIG). */
import { App } from 'aws-cdk-lib';
import { buildApp, ConfigError, loadConfig } from '../lib/index.ts';

const app = new App();
try {
  // `-c regionsync:bootstrapVersionRule=false` (set by `regionsync up` for emulators).
  const bootstrapVersionRule = String(app.node.tryGetContext('regionsync:bootstrapVersionRule') ?? 'true') !== 'false';
  // `-c regionsync:emulator=true` (set by deploys to an endpoint): see BuildAppOptions.emulator.
  const emulator = String(app.node.tryGetContext('regionsync:emulator') ?? 'false') === 'true';
  buildApp(app, await loadConfig(), { bootstrapVersionRule, emulator });
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
app.synth();
