import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Aws, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as events from 'aws-cdk-lib/aws-events';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  conflictTableName,
  backlogQueueName,
  deadLetterQueueName,
  DRAIN_BACKLOG_EVENT,
  DRAIN_BACKLOG_EVERY_MINUTES,
  ENV,
  inboundQueueName,
  METRICS,
  shipperRoleName,
  streamFailureQueueName,
  type FunctionSettings,
  type ReplicationTarget,
} from '../../core/contract.ts';
import { physicalTableName, type KeyType, type RegionConfig, type ResolvedTableConfig } from '../config/schema.ts';
import { shipperStreamFilterPatterns } from '../../core/echo-filter.ts';
import { localOnlyAttributes } from '../../core/selection.ts';
import type { TombstoneTable } from './tombstone-table.ts';
import { assertEsbuild, BUNDLE_HANDLER, functionEntry, handlerCode, SOURCE_EXTENSION } from './handler-code.ts';
import { PROJECT_ROOT } from '../../project-root.ts';
import { DEAD_LETTER_RETENTION_SECONDS } from '../config/retention.ts';
import { adoptedStreamContextKey } from '../config/adoption.ts';
import { ConfigError } from '../../core/errors.ts';

/**
 * Largest change message body the shipper packs. SQS accepts 1 MiB but bills every 64 KB chunk
 * as one request, so bigger messages do not cost less; 256 KiB keeps an applier batch of 10
 * messages well under Lambda's 6 MB invocation payload. A single change above it (an item near
 * DynamoDB's 400 KB limit) travels alone, up to SQS's 1 MiB.
 */
export const PACKED_MESSAGE_BYTES = 256 * 1024;
/**
 * Bounds of the shipper's stream mapping. AWS's defaults (MaximumRetryAttempts and
 * MaximumRecordAgeInSeconds -1: "failed records are retried until the record expires", Lambda
 * developer guide, "Lambda parameters for Amazon DynamoDB event source mappings",
 * services-ddb-params.html; ranges 0..10,000 retries, -1 or 60..604,800 s of age) let one record
 * block its shard for the stream's 24 h retention. With bounds, Lambda discards a batch it gives up
 * on and sends an invocation record naming it (shard, first and last sequence number) to the
 * on-failure destination ("Retaining discarded records for a DynamoDB event source",
 * services-dynamodb-errors.html); the records themselves stay in the stream only until 24 h.
 *  - 100 retries: bisecting (which does not use retries) corners a bad record first; the records the
 *    shipper can never process it parks itself (src/functions/shipper/oversize.ts), so what remains is
 *    transient (throttling, 5xx), and 100 invocations, each with the SDK's own backoff, outlast it.
 *  - 6 hours of record age: leaves 18 of the stream's 24 hours to redrive what the on-failure
 *    record names (`regionsync redrive --stream-failures`) before the stream drops it.
 */
export const STREAM_RETRY_ATTEMPTS = 100;
/** Oldest record the shipper's stream mapping still delivers (why 6 hours: {@link STREAM_RETRY_ATTEMPTS}). */
export const STREAM_MAX_RECORD_AGE = Duration.hours(6);
/** AWS recommends a queue visibility timeout of at least six times the consumer's timeout. */
const APPLIER_TIMEOUT = Duration.seconds(30);

/** Properties of {@link ReplicatedTable}. */
export interface ReplicatedTableProps {
  readonly appName: string;
  readonly table: ResolvedTableConfig;
  /** This stack's region. */
  readonly region: string;
  /** Every configured region with its account, to address the other regions' queues. */
  readonly regions: readonly RegionConfig[];
  /**
   * The table, when the app already defines it in a stack of its own (same region): replicated as it
   * is, never created, replaced or deleted by regionsync. It must have a stream with
   * NEW_AND_OLD_IMAGES and an explicit name, the table's physical name in this region.
   * @default the table is created here (or adopted, `adoptIn`)
   */
  readonly existingTable?: dynamodb.ITable;
  /**
   * Stream records per shipper invocation: larger batches pack more changes per SQS message.
   * @default 500
   */
  readonly shipperBatchSize?: number;
  /**
   * Lambda memory for shipper and applier, in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * The region's conflict log table; conflicts are recorded there when the table keeps a log.
   * @default no conflict log
   */
  readonly conflictLog?: dynamodb.ITable;
  /**
   * The region's tombstone table: deleted items are kept there, not in the table, so the
   * application never reads them (merging strategies keep a deleted item's merge state there too).
   * @default tombstones stay in the table, where the application reads them
   */
  readonly tombstones?: TombstoneTable;
  /**
   * Times the applier may fail a message before it moves to the dead-letter queue.
   * @default 10
   */
  readonly maxReceiveCount?: number;
  /**
   * X-Ray tracing of the shipper and applier: active tracing on both functions, and every AWS SDK
   * call a subsegment (Powertools Tracer, in a bundle of its own: untraced functions never load it).
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Times the stream mapping retries a failed batch (after bisecting it) before it sends the
   * on-failure record to the stream-failures queue and moves on. 0..10,000.
   * @default STREAM_RETRY_ATTEMPTS (100)
   */
  readonly streamRetryAttempts?: number;
  /**
   * Oldest stream record the mapping still sends to the shipper; older ones go to the
   * stream-failures queue. 60 s .. 24 h (the stream keeps records 24 h; a redrive needs them there).
   * @default STREAM_MAX_RECORD_AGE (6 hours)
   */
  readonly streamMaxRecordAge?: Duration;
}

/**
 * One replicated table in one region: the table and its stream, the shipper that sends its
 * changes to the other regions, and the inbound queue, dead-letter queue and applier that
 * receive the other regions' changes.
 */
export class ReplicatedTable extends Construct {
  /** The table: created by this stack, or imported when it is adopted in this region (`adoptIn`). */
  public readonly table: dynamodb.ITable;
  public readonly shipper: lambda.Function;
  public readonly applier: lambda.Function;
  public readonly inboundQueue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  /** Changes an unreachable target region could not take, kept 14 days until the shipper drains them. */
  public readonly backlogQueue: sqs.Queue;
  /**
   * Stream records that did not replicate: the shipper's stream mapping's on-failure destination
   * (Lambda's records of discarded batches) and the records the shipper parks itself (an item with
   * no room for regionsync's metadata). Kept 14 days; `regionsync redrive --stream-failures`.
   */
  public readonly streamFailureQueue: sqs.Queue;
  private readonly resolver?: { readonly file: string; readonly exportName: string };
  private readonly tracing: boolean;

  constructor(scope: Construct, id: string, props: ReplicatedTableProps) {
    super(scope, id);
    const { table: cfg, region, appName } = props;
    this.resolver = cfg.resolver;
    this.tracing = props.tracing ?? false;
    const shipperBatchSize = props.shipperBatchSize ?? 500;
    const memorySize = props.memorySize ?? 512;
    const maxReceiveCount = props.maxReceiveCount ?? 10;
    if (!cfg.regions.includes(region))
      throw new Error(`ReplicatedTable: table "${cfg.name}" does not replicate in region "${region}" (its regions: ${cfg.regions.join(', ')})`);
    if (!Number.isInteger(shipperBatchSize) || shipperBatchSize < 1 || shipperBatchSize > 10_000) {
      throw new Error(`ReplicatedTable: shipperBatchSize must be 1..10000, got ${shipperBatchSize}`);
    }
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10_240)
      throw new Error(`ReplicatedTable: memorySize must be 128..10240 MB, got ${memorySize}`);
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1)
      throw new Error(`ReplicatedTable: maxReceiveCount must be a positive integer, got ${maxReceiveCount}`);
    const streamRetryAttempts = props.streamRetryAttempts ?? STREAM_RETRY_ATTEMPTS;
    const streamMaxRecordAge = props.streamMaxRecordAge ?? STREAM_MAX_RECORD_AGE;
    if (!Number.isInteger(streamRetryAttempts) || streamRetryAttempts < 0 || streamRetryAttempts > 10_000) {
      throw new Error(`ReplicatedTable: streamRetryAttempts must be 0..10000, got ${streamRetryAttempts}`);
    }
    // Lambda accepts up to 7 days, but a record older than the stream's 24 h is gone: nothing left to redrive.
    if (streamMaxRecordAge.toSeconds() < 60 || streamMaxRecordAge.toSeconds() > 86_400) {
      throw new Error(`ReplicatedTable: streamMaxRecordAge must be 60 s .. 24 h, got ${streamMaxRecordAge.toSeconds()} s`);
    }

    // AWS::DynamoDB::Table, not TableV2's AWS::DynamoDB::GlobalTable: native replicas must stay
    // off (regionsync is the replication), and the plain resource deploys on every emulator.
    // An adopted table already exists with its data: imported, never created, replaced or deleted.
    this.table = props.existingTable
      ? checkedExistingTable(props.existingTable, cfg, region)
      : cfg.adoptIn?.includes(region)
        ? this.adoptedTable(cfg, region)
        : this.createdTable(cfg, region);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: deadLetterQueueName(appName, cfg.name),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(DEAD_LETTER_RETENTION_SECONDS),
    });
    const inboundVisibility = Duration.seconds(APPLIER_TIMEOUT.toSeconds() * 6 + cfg.batchingWindowSeconds.queue);
    this.inboundQueue = new sqs.Queue(this, 'InboundQueue', {
      queueName: inboundQueueName(appName, cfg.name),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
      // AWS: at least 6 × the function timeout plus the batching window, or messages Lambda is
      // still gathering become visible again (duplicates, receive counts toward the DLQ).
      visibilityTimeout: inboundVisibility,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    // Region isolation: an outage of one target outlasting the stream's 24 h loses nothing. The
    // shipper drains it itself (an SQS event source), so visibility covers its 60 s timeout.
    this.backlogQueue = new sqs.Queue(this, 'BacklogQueue', {
      queueName: backlogQueueName(appName, cfg.name),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(DEAD_LETTER_RETENTION_SECONDS),
      visibilityTimeout: Duration.seconds(6 * 60),
    });
    Validations.of(this.backlogQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'The backlog holds changes until their target region is back; a message has no poison form (it is a body the target queue took before), so it is retried for the whole 14-day retention rather than dead-lettered.',
    });

    this.streamFailureQueue = new sqs.Queue(this, 'StreamFailureQueue', {
      queueName: streamFailureQueueName(appName, cfg.name),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(DEAD_LETTER_RETENTION_SECONDS),
    });
    Validations.of(this.streamFailureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the dead-letter (on-failure) destination of the shipper's stream mapping; its messages are read only by regionsync redrive, which deletes each when done.",
    });

    const key = { partitionKey: cfg.partitionKey.name, ...(cfg.sortKey ? { sortKey: cfg.sortKey.name } : {}) };
    const targets: ReplicationTarget[] = cfg.regions
      .filter((r) => r !== region)
      .map((r) => ({ region: r, queueUrl: queueUrl(r, accountOf(props.regions, r), inboundQueueName(appName, cfg.name)) }));
    const common = {
      tableName: physicalTableName(cfg, region),
      logicalTable: cfg.name,
      region,
      key,
      tombstoneTtlSeconds: cfg.tombstoneTtlSeconds,
      ttlAttribute: cfg.ttlAttribute,
      maxMessageBytes: PACKED_MESSAGE_BYTES,
      strategy: cfg.strategy,
      replicateTtlDeletes: cfg.replicateTtlDeletes,
      ...(props.tombstones ? { tombstoneTable: props.tombstones.table.tableName } : {}),
      ...(cfg.selection ? { selection: cfg.selection } : {}),
      // The applier holds a change from the future back with its message's retries: the 2nd to the
      // last receive are one visibility timeout apart each (retention, 4 days, is not the limit).
      clockBound: { maxOffsetMs: Math.round(cfg.maxClockOffsetSeconds * 1000), holdMs: (maxReceiveCount - 1) * inboundVisibility.toSeconds() * 1000 },
    } satisfies Partial<FunctionSettings>;
    // Reads of the table's items (test/infra/iam-observed.test.ts derives them from the calls the
    // functions make). Merging strategies read the item before they write it. The shipper of a
    // table with a tombstone table reads after an application's delete, for an older replicated
    // copy to remove. A last-writer-wins applier reads only where the pair of regions keeps
    // attributes apart (keep-local.ts).
    const merging = cfg.strategy.strategy !== 'lww';
    const shipperReads = merging || props.tombstones ? ['dynamodb:GetItem'] : [];
    const keepsLocal = cfg.regions.some((origin) => origin !== region && localOnlyAttributes(cfg.selection, region, origin, key) !== undefined);
    const applierReads = merging || keepsLocal ? ['dynamodb:GetItem'] : [];
    // With a tombstone table, regionsync removes items itself (a delete's second step, a put taken
    // back): it marks them first (UpdateItem), then deletes them (src/functions/shared/remove-item.ts).
    const removals = props.tombstones ? ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'] : [];

    this.shipper = this.makeFunction(
      'Shipper',
      'shipper',
      memorySize,
      Duration.seconds(60),
      { ...common, targets, backlogQueueUrl: this.backlogQueue.queueUrl, streamFailureQueueUrl: this.streamFailureQueue.queueUrl },
      shipperRoleName(appName, cfg.name, region),
    );
    this.shipper.addEventSource(
      new DynamoEventSource(this.table, {
        // TRIM_HORIZON: the table and its shipper are created together; nothing written before
        // the mapping starts may be missed.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: shipperBatchSize,
        ...(cfg.batchingWindowSeconds.stream > 0 ? { maxBatchingWindow: Duration.seconds(cfg.batchingWindowSeconds.stream) } : {}),
        // Failed batches are split to isolate a bad record, retried within bounds (see
        // STREAM_RETRY_ATTEMPTS), and then named in the stream-failures queue, so one record can
        // never hold up its shard; `regionsync redrive --stream-failures` replays them.
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: streamRetryAttempts,
        maxRecordAge: streamMaxRecordAge,
        // SqsDlq grants the shipper's role sqs:SendMessage on this queue only (Lambda sends the
        // on-failure record with the function's execution role); the shipper parks records there too.
        onFailure: new SqsDlq(this.streamFailureQueue),
        // 1 unless the table sets more: a factor splits even small batches (more invocations, more messages).
        parallelizationFactor: cfg.parallelizationFactor,
        // The applier's writes come back on this stream; these filters drop them before they cost
        // an invocation, and never drop an application write (see src/core/echo-filter.ts).
        filters: shipperStreamFilterPatterns({ name: cfg.partitionKey.name, type: STREAM_KEY_TYPE[cfg.partitionKey.type] }).map((p) =>
          lambda.FilterCriteria.filter(p),
        ),
      }),
    );
    // The backlog: parked by the shipper when a target fails, drained by it (drain.ts) when it is
    // back, on a schedule: an SQS event source would long-poll the nearly always empty queue all
    // month (~$0.26 a queue); a rule every minute costs ~$0.04 (one invocation and one receive).
    // L1 resources with IDs of their own: the L2 target names its permission after the rule's path
    // from the app's root, which would change under the Replication construct (replication.ts).
    const drainSchedule = new events.CfnRule(this, 'DrainBacklogSchedule', {
      description: `regionsync: drains the ${cfg.name} backlog in ${region} once its target regions are back`,
      scheduleExpression: events.Schedule.rate(Duration.minutes(DRAIN_BACKLOG_EVERY_MINUTES)).expressionString,
      state: 'ENABLED',
      // A missed minute is retried by the next one.
      targets: [{ id: 'Shipper', arn: this.shipper.functionArn, input: JSON.stringify(DRAIN_BACKLOG_EVENT), retryPolicy: { maximumRetryAttempts: 0 } }],
    });
    new lambda.CfnPermission(this, 'DrainBacklogInvoke', {
      action: 'lambda:InvokeFunction',
      functionName: this.shipper.functionArn,
      principal: 'events.amazonaws.com',
      sourceArn: drainSchedule.attrArn,
    });
    this.backlogQueue.grantSendMessages(this.shipper);
    this.backlogQueue.grantConsumeMessages(this.shipper);
    // Item-level writes on this table only: last writer wins stamps a plain write (UpdateItem);
    // merging strategies fold it into the item's state (PutItem), tombstones included.
    this.shipper.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [...new Set([...(merging ? [] : ['dynamodb:UpdateItem']), 'dynamodb:PutItem', ...shipperReads, ...removals])],
        resources: [this.table.tableArn],
      }),
    );
    props.tombstones?.grantRows(this.shipper, cfg.name, merging ? 'merged' : 'lww');
    if (targets.length > 0) {
      this.shipper.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['sqs:SendMessage'],
          resources: cfg.regions.filter((r) => r !== region).map((r) => queueArn(r, accountOf(props.regions, r), inboundQueueName(appName, cfg.name))),
        }),
      );
    }

    const sourceRegions = cfg.regions.filter((r) => r !== region);
    this.applier = this.makeFunction('Applier', 'applier', memorySize, APPLIER_TIMEOUT, {
      ...common,
      sourceRegions,
      deadLetterQueueUrl: this.deadLetterQueue.queueUrl,
      ...(props.conflictLog && cfg.conflictLogRetentionSeconds
        ? { conflictLog: { tableName: conflictTableName(appName), retentionSeconds: cfg.conflictLogRetentionSeconds } }
        : {}),
    });
    // With a window, Lambda gathers up to BatchSize messages (above SQS's 10 per receive) or its 6 MB
    // payload, whichever comes first: ~22 full 256 KiB messages, or 100 small ones.
    const queueWindow = cfg.batchingWindowSeconds.queue;
    // On an upgrade the shipper's code must learn a new writer marker before the applier writes it
    // (else it would take the applier's write for a local one and ship it back): update it first.
    this.applier.node.addDependency(this.shipper);
    this.applier.addEventSource(
      new SqsEventSource(this.inboundQueue, {
        batchSize: queueWindow > 0 ? 100 : 10,
        reportBatchItemFailures: true,
        ...(queueWindow > 0 ? { maxBatchingWindow: Duration.seconds(queueWindow) } : {}),
      }),
    );
    this.applier.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:PutItem', ...applierReads, ...removals], resources: [this.table.tableArn] }));
    props.tombstones?.grantRows(this.applier, cfg.name, merging ? 'merged' : 'lww');
    if (props.conflictLog && cfg.conflictLogRetentionSeconds) {
      this.applier.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [props.conflictLog.tableArn] }));
    }
    this.deadLetterQueue.grantSendMessages(this.applier);

    // Shippers in other accounts need the queue's permission as well as their own. Admit the
    // account with a condition on the shipper's fixed role name: a principal naming a role that
    // does not exist yet would be rejected, and stacks deploy in any order.
    for (const source of sourceRegions) {
      const account = props.regions.find((r) => r.region === source)?.account;
      const own = props.regions.find((r) => r.region === region)?.account;
      if (!account || account === own) continue;
      this.inboundQueue.addToResourcePolicy(
        new iam.PolicyStatement({
          actions: ['sqs:SendMessage'],
          principals: [new iam.AccountPrincipal(account)],
          resources: [this.inboundQueue.queueArn],
          conditions: { ArnEquals: { 'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::${account}:role/${shipperRoleName(appName, cfg.name, source)}` } },
        }),
      );
    }

    Validations.of(this.shipper.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'dynamodb:ListStreams supports no resource-level permissions and the stream event source mapping needs it; every other action is scoped to this table, its stream or the named queues.',
    });
  }

  /** The table, created by this stack (the usual case). */
  private createdTable(cfg: ResolvedTableConfig, region: string): dynamodb.Table {
    return new dynamodb.Table(this, 'Table', {
      tableName: physicalTableName(cfg, region),
      partitionKey: { name: cfg.partitionKey.name, type: attributeType(cfg.partitionKey.type) },
      ...(cfg.sortKey ? { sortKey: { name: cfg.sortKey.name, type: attributeType(cfg.sortKey.type) } } : {}),
      billingMode: cfg.billingMode === 'PROVISIONED' ? dynamodb.BillingMode.PROVISIONED : dynamodb.BillingMode.PAY_PER_REQUEST,
      ...(cfg.billingMode === 'PROVISIONED' ? { readCapacity: cfg.readCapacity, writeCapacity: cfg.writeCapacity } : {}),
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: cfg.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: cfg.retainOnDelete ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }

  /**
   * The table adopted in `region` (`adoptIn`): it exists already, so it is imported by name with
   * the stream ARN `regionsync adopt` recorded in the CDK context. Without that ARN the synth fails
   * naming the command, rather than deploying a shipper that reads no stream.
   */
  private adoptedTable(cfg: ResolvedTableConfig, region: string): dynamodb.ITable {
    const tableName = physicalTableName(cfg, region);
    const key = adoptedStreamContextKey(region, tableName);
    const streamArn: unknown = this.node.tryGetContext(key);
    if (typeof streamArn !== 'string' || !/^arn:[^:]+:dynamodb:[^:]+:[^:]*:table\/[^/]+\/stream\/.+$/.test(streamArn)) {
      throw new ConfigError([
        `tables (${cfg.name}).adoptIn: the table ${tableName} in ${region} is adopted, but the CDK context holds no stream ARN for it (key "${key}", got ${JSON.stringify(streamArn)}): ` +
          `run \`regionsync adopt --table ${cfg.name}\` first (it enables the stream with NEW_AND_OLD_IMAGES and records the ARN in cdk.context.json)`,
      ]);
    }
    return dynamodb.Table.fromTableAttributes(this, 'Table', { tableName, tableStreamArn: streamArn });
  }

  /**
   * The handler module to bundle. A table with a custom resolver gets a generated entry that
   * imports the user's resolver and passes it to the handler factory, so esbuild bundles both.
   */
  private entryFor(dir: string): string {
    const resolver = this.resolver;
    if (!resolver) return functionEntry(this.tracing ? `${dir as 'shipper' | 'applier'}-traced` : (dir as 'shipper' | 'applier'));
    // Installed from the package, esbuild is an optional peer dependency: name the table that needs it.
    assertEsbuild(`table ${this.node.id} (custom resolver ${path.basename(resolver.file)}#${resolver.exportName})`);
    const factory = dir === 'shipper' ? 'createShipperHandler' : 'createApplierHandler';
    // Under the working directory (the user's project), never inside the installed package.
    const file = path.join(
      process.cwd(),
      '.regionsync',
      'generated',
      `${this.node.path.replace(/[^A-Za-z0-9]+/g, '-')}-${dir}${this.tracing ? '-traced' : ''}.ts`,
    );
    // regionsync's own modules: the TypeScript sources in the checkout, the compiled JS in the package.
    const own = (...segments: string[]) => JSON.stringify(`${path.join(PROJECT_ROOT, 'src', ...segments)}${SOURCE_EXTENSION}`);
    const importName = resolver.exportName === 'default' ? 'resolver' : `{ ${resolver.exportName} as resolver }`;
    mkdirSync(path.dirname(file), { recursive: true });
    // Written aside and renamed: a synth running at the same time (another test run, another
    // deploy) reads the whole file or the previous one, never half of it.
    const staging = `${file}.${process.pid}.tmp`;
    writeFileSync(
      staging,
      [
        "// Generated by regionsync at synth: the handler with this table's resolver. Do not edit.",
        `import ${importName} from ${JSON.stringify(resolver.file)};`,
        `import { ${factory} } from ${own('functions', dir, 'create-handler')};`,
        ...(this.tracing
          ? [
              `import { tracedClients } from ${own('functions', 'shared', 'tracing')};`,
              `export const handler = ${factory}({ resolver, instrumentClient: tracedClients('regionsync-${dir}') });`,
            ]
          : [`export const handler = ${factory}({ resolver });`]),
        '',
      ].join('\n'),
    );
    renameSync(staging, file);
    return file;
  }

  private makeFunction(id: string, dir: string, memorySize: number, timeout: Duration, settings: FunctionSettings, roleName?: string): lambda.Function {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    // Our own role instead of AWSLambdaBasicExecutionRole, which allows writing every log group.
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), ...(roleName ? { roleName } : {}) });
    logGroup.grantWrite(role);
    return new lambda.Function(this, id, {
      role,
      // Bundled once for every table that shares the entry (handler-code.ts); settings come from the environment.
      code: handlerCode(this.entryFor(dir)),
      handler: BUNDLE_HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      // arm64: about 20% cheaper per GB-second than x86 for the same work.
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      logGroup,
      ...(this.tracing ? { tracing: lambda.Tracing.ACTIVE } : {}),
      environment: {
        [ENV.settings]: JSON.stringify(settings),
        [ENV.metricsNamespace]: METRICS.namespace,
        [ENV.serviceName]: `regionsync-${dir}`,
        // The bundle is minified and ships its source map: stack traces in the logs name our files and lines.
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
  }
}

/** A key attribute's type letter in stream images (what the echo filter matches on). */
const STREAM_KEY_TYPE: Record<KeyType, 'S' | 'N' | 'B'> = { string: 'S', number: 'N', binary: 'B' };

function attributeType(t: KeyType): dynamodb.AttributeType {
  return t === 'number' ? dynamodb.AttributeType.NUMBER : t === 'binary' ? dynamodb.AttributeType.BINARY : dynamodb.AttributeType.STRING;
}

function accountOf(regions: readonly RegionConfig[], region: string): string {
  return regions.find((r) => r.region === region)?.account ?? Aws.ACCOUNT_ID;
}

function queueUrl(region: string, account: string, name: string): string {
  return `https://sqs.${region}.${Aws.URL_SUFFIX}/${account}/${name}`;
}

function queueArn(region: string, account: string, name: string): string {
  return `arn:${Aws.PARTITION}:sqs:${region}:${account}:${name}`;
}

/**
 * A table the app defines itself, checked before anything uses it: in this region, named as the
 * config names the table there (the functions, the CLI and the dashboards address it by that name),
 * with the stream the shipper needs. Each problem names the table and what to change.
 */
function checkedExistingTable(table: dynamodb.ITable, cfg: ResolvedTableConfig, region: string): dynamodb.ITable {
  const where = `existingTables.${cfg.name}.${region}`;
  const tableRegion = Stack.of(table).region;
  if (!Token.isUnresolved(tableRegion) && tableRegion !== region) throw new ConfigError([`${where}: the table's stack is in ${tableRegion}, not ${region}`]);
  const expected = physicalTableName(cfg, region);
  const cfn = table.node.defaultChild as dynamodb.CfnTable | undefined;
  // A Table's tableName is a reference even when given: its name as declared is on the CfnTable.
  const name = Token.isUnresolved(table.tableName) ? cfn?.tableName : table.tableName;
  if (name === undefined || Token.isUnresolved(name))
    throw new ConfigError([`${where}: give the table an explicit tableName ("${expected}"): regionsync addresses it by name in every tool`]);
  if (name !== expected)
    throw new ConfigError([
      `${where}: the table is named "${name}", the config names it "${expected}" in ${region} (set names.${region} in the table's config)`,
    ]);
  if (!table.tableStreamArn) throw new ConfigError([`${where}: the table has no stream; define it with stream: StreamViewType.NEW_AND_OLD_IMAGES`]);
  const view = cfn?.streamSpecification;
  const viewType = view && !Token.isUnresolved(view) ? (view as dynamodb.CfnTable.StreamSpecificationProperty).streamViewType : undefined;
  if (viewType !== undefined && viewType !== dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
    throw new ConfigError([
      `${where}: the table's stream has view type ${viewType}; regionsync needs NEW_AND_OLD_IMAGES (the old image tells the shipper what a write replaced)`,
    ]);
  return table;
}
