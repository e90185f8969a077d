/**
 * `Replication`: regionsync in a CDK app, one construct. `new Replication(app, 'Sync', { appName,
 * regions, tables })` validates the configuration and adds one stack per region under itself.
 */
import { CfnElement, DefaultStackSynthesizer, Names } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct, type IConstruct } from 'constructs';
import { ConfigError } from '../core/errors.ts';
import { stackName } from '../core/contract.ts';
import type { RegionSyncConfig, ResolvedConfig } from './config/schema.ts';
import { validateConfig } from './config/validate.ts';
import { RegionStack } from './stacks/region-stack.ts';

/** How a {@link Replication} is synthesized (account, bootstrap check, emulator), beside what it replicates. */
export interface ReplicationOptions {
  /** Account for regions whose config names none. @default process.env.CDK_DEFAULT_ACCOUNT */
  readonly defaultAccount?: string;
  /**
   * Add the CDK's bootstrap-version check (an SSM parameter) to each template. Emulators that
   * cannot update a stack with that SSM parameter (moto) deploy without it.
   * @default true
   */
  readonly bootstrapVersionRule?: boolean;
  /**
   * Deploying to an emulator: one stack per region whatever `stackLayout` says (moto replaces a
   * nested stack on every update, tables included) and no resource limit (emulators enforce none).
   * @default false
   */
  readonly emulator?: boolean;
  /**
   * Tables your app already defines in stacks of its own, by table name (as in `tables`) and
   * region: regionsync replicates each as it is instead of creating it (it never replaces or
   * deletes it). Each must be in that region, have an explicit `tableName` (the table's name there)
   * and a stream with `NEW_AND_OLD_IMAGES`; a table that exists outside the CDK app is adopted
   * instead (`adoptIn`).
   * @default none: regionsync creates every table (or adopts it)
   */
  readonly existingTables?: Readonly<Record<string, Readonly<Record<string, dynamodb.ITable>>>>;
}

/**
 * Properties of {@link Replication}: what to replicate where (the fields of a `regionsync.config.ts`,
 * each documented with its default in src/infra/config/schema.ts and docs/configuration.md:
 * `appName`, `regions`, `tables`, `monitoring`, `maxClockOffsetSeconds`, `stackLayout`, `tracing`)
 * and how to synthesize it ({@link ReplicationOptions}).
 */
export interface ReplicationProps extends Readonly<RegionSyncConfig>, ReplicationOptions {}

const OPTION_KEYS = ['defaultAccount', 'bootstrapVersionRule', 'emulator', 'existingTables'] as const;

/**
 * Active-active replication of DynamoDB tables across regions: one {@link RegionStack} per region
 * that holds a table, each with the region's tables, their shipper and applier functions, queues,
 * tombstones, alarms and dashboards.
 *
 * The props are validated before anything is added: a bad value throws a ConfigError naming the
 * key and the value (every problem at once). The stacks' CloudFormation names are
 * `<appName>-<region>` wherever the construct sits in the app, and the resources inside keep
 * their logical IDs, so an app deployed by an earlier regionsync (or by `buildApp`) updates in place.
 *
 * @example
 * new Replication(app, 'Sync', {
 *   appName: 'shop',
 *   regions: ['us-east-1', 'eu-west-1'],
 *   tables: [{ name: 'orders', partitionKey: { name: 'pk', type: 'string' } }],
 * });
 */
export class Replication extends Construct {
  /** The stacks, by region, in the order of `regions` (regions without a table get none). */
  public readonly stacks: ReadonlyMap<string, RegionStack>;
  /** The configuration after validation, with every default filled in. */
  public readonly config: ResolvedConfig;

  constructor(scope: Construct, id: string, props: ReplicationProps) {
    // Validated before the construct joins the tree: a bad config leaves nothing behind.
    const options: ReplicationOptions = props;
    const input = Object.fromEntries(Object.entries(props).filter(([k]) => !(OPTION_KEYS as readonly string[]).includes(k))) as RegionSyncConfig;
    const resolved = validateConfig(input);
    for (const [name, byRegion] of Object.entries(options.existingTables ?? {})) {
      const table = resolved.tables.find((t) => t.name === name);
      if (!table) throw new ConfigError([`existingTables.${name}: no table of that name in tables (${resolved.tables.map((t) => t.name).join(', ')})`]);
      for (const region of Object.keys(byRegion)) {
        if (!table.regions.includes(region))
          throw new ConfigError([`existingTables.${name}.${region}: not one of the table's regions (${table.regions.join(', ')})`]);
        if (table.adoptIn?.includes(region))
          throw new ConfigError([`existingTables.${name}.${region}: the table is also adopted there (adoptIn): give one or the other`]);
      }
    }
    super(scope, id);
    // Emulators enforce no resource limit (the context applies to every stack below this node).
    if (options.emulator) this.node.setContext('@aws-cdk/core:stackResourceLimit', 0);
    const defaultAccount = options.defaultAccount ?? process.env.CDK_DEFAULT_ACCOUNT;
    // Fill in the default account everywhere, so a shipper addresses another region's queue in the
    // account that region really deploys to, not in its own. Emulators (moto) cannot update nested
    // stacks in place: one stack per region there.
    this.config = {
      ...resolved,
      ...(options.emulator ? { stackLayout: 'single' as const } : {}),
      regions: resolved.regions.map((r) => ((r.account ?? defaultAccount) ? { ...r, account: r.account ?? defaultAccount } : r)),
    };
    const stacks = new Map<string, RegionStack>();
    for (const r of this.config.regions) {
      if (!this.config.tables.some((t) => t.regions.includes(r.region))) continue;
      const name = stackName(this.config.appName, r.region);
      stacks.set(
        r.region,
        // The construct ID and the explicit stack name are the CloudFormation stack name of a
        // top-level stack, so the stack keeps its name wherever this construct is.
        new RegionStack(this, name, {
          stackName: name,
          config: this.config,
          region: r.region,
          env: { region: r.region, ...(r.account ? { account: r.account } : {}) },
          description: `regionsync: replicated tables in ${r.region}`,
          enforceResourceLimit: !options.emulator,
          existingTables: new Map(
            Object.entries(options.existingTables ?? {}).flatMap(([name, byRegion]) => (byRegion[r.region] ? [[name, byRegion[r.region]!] as const] : [])),
          ),
          ...(options.bootstrapVersionRule === false ? { synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }) } : {}),
        }),
      );
    }
    this.stacks = stacks;
    this.keepLogicalIds();
  }

  /**
   * Logical IDs are paths from the stack down, so most do not change when the stacks move under
   * this construct. Those of event source mappings do: the CDK names a mapping after its source's
   * unique ID, a path from the app's root (`DynamoDBEventSource:<stack><table>Table<hash>`), and a
   * mapping with a new logical ID is replaced, not updated. Rename every such ID back to what it
   * is with the stack a child of the app (as buildApp made them before this construct), so an
   * app deployed then updates in place.
   */
  private keepLogicalIds(): void {
    const depth = this.node.scopes.length;
    // The unique ID of every construct under here, and what it is with the stack at the app's root.
    const legacy = new Map<string, string>();
    for (const c of this.node.findAll()) {
      if (c === this) continue;
      legacy.set(Names.nodeUniqueId(c.node), uniqueIdOf(c.node.scopes.slice(depth).map((s) => s.node.id)));
    }
    for (const c of this.node.findAll()) {
      if (!(c instanceof CfnElement)) continue;
      const stack = c.stack;
      const scopes = c.node.scopes;
      const components = scopes.slice(scopes.indexOf(stack) + 1).map((s) => s.node.id);
      const kept = components.map((id) => {
        const at = id.lastIndexOf(':');
        return at < 0 ? id : `${id.slice(0, at + 1)}${legacy.get(id.slice(at + 1)) ?? id.slice(at + 1)}`;
      });
      if (kept.every((id, i) => id === components[i])) continue;
      stack.renameLogicalId(stack.getLogicalId(c), uniqueIdOf(kept));
    }
  }
}

/** The CDK's unique ID of a construct path (Names.nodeUniqueId of a construct at that path). */
function uniqueIdOf(path: readonly string[]): string {
  let node: IConstruct = new Construct(undefined as unknown as Construct, '');
  for (const id of path) node = new Construct(node, id);
  return Names.nodeUniqueId(node.node);
}
