/** regionsync's application-side helpers. Test helpers (fast-check) are in ./testing.ts. */
export {
  RegionSyncClient,
  isTombstone,
  withoutTombstones,
  type ClientTable,
  type PlainItem,
  type RegionSyncClientOptions,
  type WriteResult,
} from './client.ts';
export type { Resolver, ResolverInput } from '../core/resolver.ts';
export * from './await-replicated.ts';
export * from './fencing.ts';
export { regionsyncConsumerFilterPatterns, isRegionsyncBookkeeping, isReplicatedChange } from '../core/consumer-filter.ts';
