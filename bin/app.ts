/** The CDK app: `npx cdk synth|deploy`. Reads regionsync.config.ts (or the file in REGIONSYNC_CONFIG). */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app.ts';
import { loadConfig } from '../lib/config/load.ts';
import { ConfigError } from '../lambda/core/errors.ts';

const app = new App();
try {
  buildApp(app, await loadConfig());
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
app.synth();
