import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { CONFLICT_LOG } from '../../core/conflicts.ts';
import { conflictTableName } from '../../core/contract.ts';

/** Properties of {@link ConflictLog}. */
export interface ConflictLogProps {
  readonly appName: string;
  /**
   * Keep the records when the stack is deleted.
   * @default true
   */
  readonly retainOnDelete?: boolean;
}

/**
 * One table per region recording every conflict the appliers resolved there: key, both versions
 * and values, the result and the strategy. Partitioned by table, sorted by time; records expire
 * through TTL after each table's retention period.
 */
export class ConflictLog extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ConflictLogProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: conflictTableName(props.appName),
      partitionKey: { name: CONFLICT_LOG.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: CONFLICT_LOG.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: CONFLICT_LOG.ttl,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.retainOnDelete === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
  }
}
