import * as path from 'node:path';
import { CfnOutput, CfnResource, NestedStack, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { DEPLOYED_CONFIG_METADATA, type ResolvedConfig } from '../config/schema.ts';
import { ConflictLog } from '../constructs/conflict-log.ts';
import { ReplicatedTable } from '../constructs/replicated-table.ts';
import { RegionMonitoring } from '../constructs/region-monitoring.ts';
import { TombstoneTable } from '../constructs/tombstone-table.ts';

/** Properties of {@link RegionStack}: the stack's own props, the resolved config and the region. */
export interface RegionStackProps extends StackProps {
  readonly config: ResolvedConfig;
  /** The region this stack deploys to (also its `env.region`). */
  readonly region: string;
  /**
   * Fail the synth when a template would hold more resources than CloudFormation accepts. Off only
   * for emulators, which enforce no such limit.
   * @default true
   */
  readonly enforceResourceLimit?: boolean;
  /**
   * Tables of this region already defined in the app's own stacks, by table name (config name):
   * replicated as they are, not created here (see ReplicatedTableProps.existingTable).
   * @default none: every table is created here (or adopted, `adoptIn`)
   */
  readonly existingTables?: ReadonlyMap<string, dynamodb.ITable>;
}

/** CloudFormation's limit of resources per template (nested stacks each count one in their parent). */
export const MAX_RESOURCES_PER_STACK = 500;

/** Everything regionsync runs in one region: a ReplicatedTable per table that lives there. */
export class RegionStack extends Stack {
  public readonly tables: ReadonlyMap<string, ReplicatedTable>;
  /** The region's conflict log, shared by its tables; absent when none of them keeps one. */
  public readonly conflictLog?: ConflictLog;
  /** Where the region's tables keep tombstones; absent when it has no table. */
  public readonly tombstones?: TombstoneTable;
  /** Alarms, alarm topic, dashboards and write fence (see RegionMonitoring). */
  public readonly monitoring: RegionMonitoring;
  /** `stackLayout: 'per-table'`: each table's nested stack, by table name. */
  public readonly tableStacks: ReadonlyMap<string, NestedStack>;

  constructor(scope: Construct, id: string, props: RegionStackProps) {
    super(scope, id, props);
    const tables = new Map<string, ReplicatedTable>();
    const here = props.config.tables.filter((t) => t.regions.includes(props.region));
    // One conflict log per region, shared by its tables, when any of them keeps one.
    this.conflictLog = here.some((t) => t.conflictLogRetentionSeconds) ? new ConflictLog(this, 'rs:ConflictLog', { appName: props.config.appName }) : undefined;
    // One tombstone table per region, shared by its tables: deleted items are kept there, so the tables hold live items only.
    this.tombstones = here.length > 0 ? new TombstoneTable(this, 'rs:Tombstones', { appName: props.config.appName }) : undefined;
    const tableStacks = new Map<string, NestedStack>();
    for (const table of here) {
      // per-table: the table and everything that serves it in a nested stack named after it ("rs:"
      // cannot start a table name), so tables never move between stacks as tables come and go.
      const scope =
        props.config.stackLayout === 'per-table'
          ? new NestedStack(this, `rs:Stack:${table.name}`, { description: `regionsync: table ${table.name} in ${props.region}` })
          : this;
      if (scope !== this) tableStacks.set(table.name, scope as NestedStack);
      // Construct IDs are the table names: stable across deploys, so resources are never replaced by a re-ordering.
      tables.set(
        table.name,
        new ReplicatedTable(scope, table.name, {
          appName: props.config.appName,
          table,
          ...(props.existingTables?.has(table.name) ? { existingTable: props.existingTables.get(table.name)! } : {}),
          region: props.region,
          regions: props.config.regions,
          tracing: props.config.tracing ?? false,
          ...(this.conflictLog ? { conflictLog: this.conflictLog.table } : {}),
          ...(this.tombstones ? { tombstones: this.tombstones } : {}),
        }),
      );
    }
    this.tables = tables;
    this.tableStacks = tableStacks;
    // "rs:" cannot start a table name, so this ID never collides with a table's.
    this.monitoring = new RegionMonitoring(this, 'rs:Monitoring', {
      config: props.config,
      region: props.region,
      tables,
      ...(tableStacks.size > 0 ? { alarmScope: (name: string) => tableStacks.get(name)! } : {}),
    });
    Tags.of(this).add('regionsync:app', props.config.appName);
    // The operations commands read the app's configuration from here when it lives in someone's own
    // CDK code, not in a config file (`--app`, src/ops/deployed-config.ts): deployedConfigOf.
    this.templateOptions.metadata = { ...this.templateOptions.metadata, [DEPLOYED_CONFIG_METADATA]: deployedConfigOf(props.config) };
    this.addOutputs(props.region);
    if (props.enforceResourceLimit ?? true) this.node.addValidation({ validate: () => this.resourceLimitProblems(props.config.stackLayout ?? 'single') });
  }

  /** A template over CloudFormation's resource limit fails at deploy, after minutes: fail the synth instead. */
  private resourceLimitProblems(layout: string): string[] {
    const counts = new Map<Stack, number>();
    for (const c of this.node.findAll()) {
      if (c instanceof CfnResource) counts.set(Stack.of(c), (counts.get(Stack.of(c)) ?? 0) + 1);
    }
    return [...counts]
      .filter(([, n]) => n > MAX_RESOURCES_PER_STACK)
      .map(
        ([stack, n]) =>
          `stackLayout: stack ${stack.nested ? stack.node.path : stack.stackName} would hold ${n} resources; CloudFormation allows ${MAX_RESOURCES_PER_STACK} per stack` +
          (layout === 'single'
            ? ". Set stackLayout: 'per-table' in the config (each table in a nested stack of its own; see docs/stacks.md before switching a deployed app)."
            : '.'),
      );
  }

  /** What an operator (and `cdk deploy --outputs-file`) reads off a deployed region. */
  private addOutputs(region: string): void {
    for (const [name, rt] of this.tables) {
      new CfnOutput(this, `rs:Out:${name}:Table`, { description: `${name}: the table in ${region}`, value: rt.table.tableName });
      new CfnOutput(this, `rs:Out:${name}:InboundQueueUrl`, {
        description: `${name}: changes from the other regions wait here`,
        value: rt.inboundQueue.queueUrl,
      });
      new CfnOutput(this, `rs:Out:${name}:DeadLetterQueueUrl`, {
        description: `${name}: changes that could not be applied, with their reason`,
        value: rt.deadLetterQueue.queueUrl,
      });
    }
    if (this.monitoring.topic)
      new CfnOutput(this, 'rs:Out:AlarmTopicArn', {
        description: 'every regionsync alarm of this region notifies this topic',
        value: this.monitoring.topic.topic.topicArn,
      });
    for (const d of [this.monitoring.dashboard?.dashboard, this.monitoring.globalDashboard?.dashboard]) {
      if (!d) continue;
      new CfnOutput(this, `rs:Out:${d.node.scope!.node.id}Url`, {
        description: 'the CloudWatch dashboard',
        value: `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${d.dashboardName}`,
      });
    }
  }
}

/**
 * The configuration as the deployed stack keeps it for the operations commands: no secrets are ever
 * in it (credentials are profile names and role ARNs), and what belongs to the deployer's machine
 * is left out or made portable: profile names (the operator's own credentials are used, a role ARN
 * still assumed), and a custom resolver's module path, kept relative to the directory the app was
 * synthesized in (the CLI resolves it against its own working directory).
 */
export function deployedConfigOf(config: ResolvedConfig): unknown {
  return JSON.parse(
    JSON.stringify({
      ...config,
      regions: config.regions.map(({ credentials, ...r }) => (credentials?.roleArn ? { ...r, credentials: { roleArn: credentials.roleArn } } : r)),
      tables: config.tables.map((t) => (t.resolver ? { ...t, resolver: { ...t.resolver, file: path.relative(process.cwd(), t.resolver.file) } } : t)),
    }),
  );
}
