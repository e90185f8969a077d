import { Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ResolvedConfig } from '../config/schema.ts';
import { ReplicatedTable } from '../constructs/replicated-table.ts';

export interface RegionStackProps extends StackProps {
  readonly config: ResolvedConfig;
  /** The region this stack deploys to (also its `env.region`). */
  readonly region: string;
}

/** Everything regionsync runs in one region: a ReplicatedTable per table that lives there. */
export class RegionStack extends Stack {
  public readonly tables: ReadonlyMap<string, ReplicatedTable>;

  constructor(scope: Construct, id: string, props: RegionStackProps) {
    super(scope, id, props);
    const tables = new Map<string, ReplicatedTable>();
    for (const table of props.config.tables.filter((t) => t.regions.includes(props.region))) {
      // Construct IDs are the table names: stable across deploys, so resources are never replaced by a re-ordering.
      tables.set(table.name, new ReplicatedTable(this, table.name, { appName: props.config.appName, table, region: props.region, regions: props.config.regions }));
    }
    this.tables = tables;
    Tags.of(this).add('regionsync:app', props.config.appName);
  }
}
