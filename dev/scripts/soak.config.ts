import { defineConfig } from '../../src/infra/config/schema.ts';

// The chaos soak (soak/soak.ts): its own app, tables and regions, so it can share an emulator.
export default defineConfig({
  appName: 'soak',
  regions: ['ca-west-1', 'eu-south-2', 'ap-southeast-4'],
  tables: [
    // An application TTL attribute (TTL items are part of the workload); tombstones expire through it too.
    { name: 'soak_items', partitionKey: { name: 'pk', type: 'string' }, ttlAttribute: 'expiresAt' },
    { name: 'soak_counters', partitionKey: { name: 'pk', type: 'string' }, conflictResolution: { strategy: 'merge', attributes: { n: 'counter' } } },
  ],
});
