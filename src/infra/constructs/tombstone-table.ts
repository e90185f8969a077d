import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { tombstoneTableName } from '../../core/contract.ts';
import { TOMBSTONE_TABLE, tombstoneRowPrefix } from '../../core/tombstones.ts';

/** Properties of {@link TombstoneTable}. */
export interface TombstoneTableProps {
  readonly appName: string;
  /**
   * Keep the tombstones when the stack is deleted.
   * @default false (they expire within `tombstoneTtlSeconds` anyway, and mean nothing without the tables)
   */
  readonly retainOnDelete?: boolean;
}

/**
 * One table per region where the app's tables keep their deleted items' tombstones
 * (src/core/tombstones.ts, src/functions/shared/state-store.ts), so the application's tables hold live items only. Rows expire
 * through TTL after each table's `tombstoneTtlSeconds`. No stream: nothing replicates from it.
 */
export class TombstoneTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: TombstoneTableProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: tombstoneTableName(props.appName),
      partitionKey: { name: TOMBSTONE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TOMBSTONE_TABLE.ttl,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.retainOnDelete ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }

  /**
   * Lets `grantee` read and write the tombstones of one logical table only (`use`: the table's
   * strategy family, which decides the calls, src/functions/shared/remove-item.ts and state-store.ts): IAM's
   * `dynamodb:LeadingKeys` confines it to row keys that start with the table's prefix.
   */
  grantRows(grantee: iam.IGrantable, logicalTable: string, use: 'lww' | 'merged'): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // Last writer wins also moves a row's removal time (UpdateItem); merged states are only read and put.
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', ...(use === 'lww' ? ['dynamodb:UpdateItem'] : [])],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${tombstoneRowPrefix(logicalTable)}*`] } },
      }),
    );
  }
}
