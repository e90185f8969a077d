/**
 * The region's write fence (see src/core/fence.ts): the fence table, and the function that
 * the fencing alarms invoke directly (a CloudWatch alarm Lambda action) to set and lift fences.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BUNDLE_HANDLER, functionEntry, handlerCode } from './handler-code.ts';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FENCE_KEY, fenceTableName } from '../../core/fence.ts';
import { FENCE_SETTINGS_ENV, type FenceSettings } from '../../functions/fence/fence.ts';

/** Properties of {@link WriteFence}. */
export interface WriteFenceProps {
  readonly appName: string;
  /** Create the function that alarms invoke; without it only `regionsync fence` sets fences. @default true */
  readonly alarmFunction?: boolean;
}

/**
 * The region's write fence (see the file comment and src/core/fence.ts): the fence table clients
 * read, and unless `alarmFunction` is false the function fencing alarms invoke to set and lift fences.
 */
export class WriteFence extends Construct {
  /** The fence table (`<app>-fence`), never replicated: a fence is about this region. */
  public readonly table: dynamodb.Table;
  /** The function the fencing alarms invoke; absent when `alarmFunction` is false. */
  public readonly function?: lambda.Function;
  /** Add to an alarm's ALARM and OK actions to fence its table while it fires. */
  public readonly action?: cloudwatch.IAlarmAction;

  constructor(scope: Construct, id: string, props: WriteFenceProps) {
    super(scope, id);
    // Never replicated: a fence is about this region. Tiny, and read at most once per cache period per client.
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: fenceTableName(props.appName),
      partitionKey: { name: FENCE_KEY.table, type: dynamodb.AttributeType.STRING },
      sortKey: { name: FENCE_KEY.source, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    if (props.alarmFunction === false) return;

    const logGroup = new logs.LogGroup(this, 'FunctionLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'FunctionRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    const settings: FenceSettings = { appName: props.appName, fenceTable: fenceTableName(props.appName) };
    this.function = new lambda.Function(this, 'Function', {
      role,
      code: handlerCode(functionEntry('fence')),
      handler: BUNDLE_HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      logGroup,
      environment: { [FENCE_SETTINGS_ENV]: JSON.stringify(settings), POWERTOOLS_SERVICE_NAME: 'regionsync-fence', NODE_OPTIONS: '--enable-source-maps' },
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.table.tableArn] }));
    // One permission for every alarm of this app in this region (not one per alarm: a function's
    // resource policy is limited to 20 KB, about 60 such statements).
    const fn = this.function;
    const stack = Stack.of(this);
    fn.addPermission('AlarmInvoke', {
      principal: new iam.ServicePrincipal('lambda.alarms.cloudwatch.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: stack.account,
      sourceArn: `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${props.appName}/*`,
    });
    this.action = { bind: () => ({ alarmActionArn: fn.functionArn }) };
  }
}
