/**
 * Which tables regionsync replicates, where, and how concurrent writes resolve. Edit this file,
 * then `npx cdk deploy --all` (or `npm start` to try it locally). Every field is documented in
 * src/infra/config/schema.ts (docs/configuration.md); the strategies in docs/conflict-resolution.md.
 */
import { defineConfig } from './lib/index.ts';

export default defineConfig({
  appName: 'regionsync',
  regions: ['us-east-1', 'eu-west-1'],
  tables: [
    {
      // Whole item, last writer wins (the default, and what Global Tables does), but every conflict is logged.
      name: 'orders',
      partitionKey: { name: 'pk', type: 'string' },
      sortKey: { name: 'sk', type: 'string' },
    },
    {
      // Per attribute: one region changes the email while another changes the address; both stay.
      name: 'profiles',
      partitionKey: { name: 'userId', type: 'string' },
      conflictResolution: { strategy: 'fields' },
    },
    {
      // CRDTs: likes add up across regions, tags are an add-wins set, `best` only goes up.
      name: 'posts',
      partitionKey: { name: 'postId', type: 'string' },
      conflictResolution: { strategy: 'merge', attributes: { likes: 'counter', tags: 'set', best: 'max', history: 'list' } },
    },
    {
      // Your own rule, in code: resolvers/documents.ts.
      name: 'documents',
      partitionKey: { name: 'docId', type: 'string' },
      conflictResolution: { strategy: 'custom', resolver: 'resolvers/documents.ts#resolveDocument' },
    },
  ],
});
