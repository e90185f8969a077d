// A CDK app of your own, with regionsync as a library: `npx cdk synth`, `npx cdk deploy --all`.
// Plain JavaScript, so it needs no TypeScript toolchain; in TypeScript it reads the same.
import { App } from 'aws-cdk-lib';
import { Replication } from 'regionsync';

const app = new App();

new Replication(app, 'Sync', {
  appName: 'example',
  regions: ['us-east-2', 'eu-south-1'],
  tables: [
    {
      // Whole item, last writer wins: the default.
      name: 'carts',
      partitionKey: { name: 'cartId', type: 'string' },
    },
    {
      // Per attribute: concurrent updates to different attributes both survive.
      name: 'accounts',
      partitionKey: { name: 'accountId', type: 'string' },
      conflictResolution: { strategy: 'fields' },
    },
  ],
  // Deploying to an emulator (moto, LocalStack): `-c regionsync:emulator=true`, as this repo's own app.
  emulator: app.node.tryGetContext('regionsync:emulator') === 'true',
  bootstrapVersionRule: app.node.tryGetContext('regionsync:bootstrapVersionRule') !== 'false',
});

app.synth();
