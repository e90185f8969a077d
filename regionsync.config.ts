/**
 * Which tables regionsync replicates, and where. Edit this file, then `npx cdk deploy --all`
 * (or `npm start` to try it locally). Every field is documented in lib/config/schema.ts.
 */
import { defineConfig } from './lib/config/schema.ts';

export default defineConfig({
  appName: 'regionsync',
  regions: ['us-east-1', 'eu-west-1'],
  tables: [
    {
      name: 'orders',
      partitionKey: { name: 'pk', type: 'string' },
      sortKey: { name: 'sk', type: 'string' },
    },
  ],
});
