/**
 * The configuration a user writes in `regionsync.config.ts`: regions and, per table, its key
 * schema and where it replicates. Validated by `validateConfig` before anything is synthesized.
 */

export type KeyType = 'string' | 'number' | 'binary';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

export interface RegionConfig {
  /** AWS region name, e.g. `us-east-1`. */
  readonly region: string;
  /**
   * Account the region's stack deploys to.
   * @default the CDK's default account (CDK_DEFAULT_ACCOUNT), or environment-agnostic when unknown
   */
  readonly account?: string;
}

export interface TableConfig {
  /** Table name, the same in every region. */
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  /** @default no sort key */
  readonly sortKey?: KeyAttribute;
  /** @default 'PAY_PER_REQUEST' */
  readonly billingMode?: 'PAY_PER_REQUEST' | 'PROVISIONED';
  /** Provisioned read/write capacity units; only with billingMode PROVISIONED. @default 5 each */
  readonly readCapacity?: number;
  readonly writeCapacity?: number;
  /** Regions the table lives and replicates in (at least two). @default every configured region */
  readonly regions?: readonly string[];
  /**
   * How long a tombstone (a deleted item's versioned marker) is kept, in seconds. Must exceed the
   * longest a change can wait before it is applied (stream plus dead-letter retention), or a
   * late older write could resurrect a deleted item.
   * @default 1_296_000 (15 days: stream retention + the 14-day dead-letter retention, so even a redriven message cannot resurrect)
   */
  readonly tombstoneTtlSeconds?: number;
  /** The table's TTL attribute; tombstones expire through it. @default '_rs_exp' */
  readonly ttlAttribute?: string;
  /** Keep the table when its stack is deleted. @default true */
  readonly retainOnDelete?: boolean;
}

export interface RegionSyncConfig {
  /** Prefix of every stack and queue name. @default 'regionsync' */
  readonly appName?: string;
  readonly regions: readonly (RegionConfig | string)[];
  readonly tables: readonly TableConfig[];
}

/** The configuration with every default filled in; what the CDK app consumes. */
export interface ResolvedTableConfig {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  readonly readCapacity: number;
  readonly writeCapacity: number;
  readonly regions: readonly string[];
  readonly tombstoneTtlSeconds: number;
  readonly ttlAttribute: string;
  readonly retainOnDelete: boolean;
}

export interface ResolvedConfig {
  readonly appName: string;
  readonly regions: readonly RegionConfig[];
  readonly tables: readonly ResolvedTableConfig[];
}

/** Typed identity so a config file gets completion and type checks: `export default defineConfig({...})`. */
export function defineConfig(config: RegionSyncConfig): RegionSyncConfig {
  return config;
}
