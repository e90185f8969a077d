import { defineConfig } from '../../src/infra/config/schema.ts';

/** dev/scripts/status-picture.ts: three regions, one table that fences. */
export default defineConfig({
  appName: 'shop',
  regions: ['us-east-1', 'eu-west-1', 'ap-southeast-1'],
  tables: [{ name: 'orders', partitionKey: { name: 'id', type: 'string' }, monitoring: { fence: true } }],
});
