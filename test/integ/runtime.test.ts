/**
 * End to end: the local runtime against moto, with resources made here (not by the CDK app):
 * region A is deployed through CloudFormation the way the CDK deploys (code in the CDK assets
 * bucket, Code.S3Bucket an Fn::Sub), region B with direct SDK calls (code in another bucket).
 * The probe function reports each event it gets to a probe queue in its region.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zipSync, strToU8 } from 'fflate';
import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateEventSourceMappingCommand, CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, PutObjectCommand, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startMoto, isDispatchDisabled, type MotoServer } from '../../dev/local/moto.ts';
import { startRuntime, type LocalRuntime } from '../../dev/local/runtime.ts';
import type { DeployedFunction } from '../../dev/local/discovery.ts';
import { queueDepth } from '../../src/ops/queue-depth.ts';
import { eventually } from '../support/eventually.ts';
import { sleep } from '../../src/core/concurrency.ts';

// Regions nobody else's tests use: the runtime runs every function in the regions it is given.
const REGION_A = 'me-central-1';
const REGION_B = 'ap-northeast-3';
const ACCOUNT = '123456789012';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const run = Math.random().toString(36).slice(2, 8);

const PROBE_HANDLER = `
const { SQSClient, GetQueueUrlCommand, SendMessageCommand } = require('@aws-sdk/client-sqs');
const sqs = new SQSClient({});
// Another function's environment must never show up here.
const previousWriter = process.env.LAST_WRITER;
process.env.LAST_WRITER = process.env.AWS_LAMBDA_FUNCTION_NAME;
let probeUrl;
exports.handler = async (event, context) => {
  const records = event.Records || [];
  const failures = [];
  for (const r of records) {
    const text = r.eventSource === 'aws:sqs' ? r.body : JSON.stringify(r.dynamodb);
    if (text.includes('throw-once') && !globalThis.thrown) {
      globalThis.thrown = true;
      throw new Error('throw-once');
    }
    if (text.includes('fail-once') && r.attributes && r.attributes.ApproximateReceiveCount === '1') {
      failures.push({ itemIdentifier: r.messageId });
    }
  }
  console.log(JSON.stringify({ probe: context.functionName, records: records.length }));
  probeUrl ??= (await sqs.send(new GetQueueUrlCommand({ QueueName: process.env.PROBE_QUEUE }))).QueueUrl;
  await sqs.send(new SendMessageCommand({
    QueueUrl: probeUrl,
    MessageBody: JSON.stringify({
      fn: context.functionName, mark: process.env.MARK, region: process.env.AWS_REGION,
      endpoint: process.env.AWS_ENDPOINT_URL, previousWriter, requestId: context.awsRequestId,
      remaining: context.getRemainingTimeInMillis(), event,
    }),
  }));
  return { batchItemFailures: failures };
};
`;

interface Probe {
  fn: string;
  mark: string;
  region: string;
  endpoint: string;
  previousWriter?: string;
  remaining: number;
  event: { Records: Array<Record<string, any>> };
}

let moto: MotoServer | undefined;
let endpoint: string;
let stateDir: string;
let runtime: LocalRuntime | undefined;
const logLines: string[] = [];
const probes: Probe[] = [];
const probeQueues: Array<{ url: string; region: string }> = [];
let collecting = true;
let collector: Promise<void> | undefined;

const fixture = {
  table: '',
  streamFn: '',
  queueFn: '',
  inlineFn: `inline-${run}`,
  workQueueUrl: '',
};

function clients(region: string) {
  const config = { endpoint, region, credentials };
  return {
    cfn: new CloudFormationClient(config),
    ddb: new DynamoDBClient(config),
    lambda: new LambdaClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
    sqs: new SQSClient(config),
  };
}

/** Uploads the probe bundle; `variant` changes its bytes (so its SHA-256) without changing what it does. */
async function putZip(region: string, bucket: string, key: string, variant: string): Promise<string> {
  const zip = zipSync({ 'index.js': strToU8(`// ${variant}\n${PROBE_HANDLER}`) });
  const { s3 } = clients(region);
  await s3
    .send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }))
    .catch((err) => {
      if (!/BucketAlready/.test(String(err?.name))) throw err;
    });
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: zip }));
  return key;
}

async function deployRegionA(): Promise<string> {
  const { cfn } = clients(REGION_A);
  const key = await putZip(REGION_A, `cdk-hnb659fds-assets-${ACCOUNT}-${REGION_A}`, `probe-${run}.zip`, 'a');
  const stackName = `runtime-test-${run}`;
  const template = {
    Resources: {
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
        },
      },
      Table: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        },
      },
      Probe: { Type: 'AWS::SQS::Queue', Properties: {} },
      StreamFn: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
          Code: { S3Bucket: { 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' }, S3Key: key },
          Timeout: 10,
          MemorySize: 256,
          Environment: { Variables: { MARK: 'stream', PROBE_QUEUE: { 'Fn::GetAtt': ['Probe', 'QueueName'] } } },
        },
      },
      StreamMapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          FunctionName: { Ref: 'StreamFn' },
          EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] },
          StartingPosition: 'TRIM_HORIZON',
          BatchSize: 10,
          MaximumRetryAttempts: 5,
          BisectBatchOnFunctionError: true,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        },
      },
    },
  };
  await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify(template), Capabilities: ['CAPABILITY_IAM'] }));
  const status = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]?.StackStatus;
  expect(status).toBe('CREATE_COMPLETE');
  const resources = (await cfn.send(new ListStackResourcesCommand({ StackName: stackName }))).StackResourceSummaries ?? [];
  const physical = (id: string): string => resources.find((r) => r.LogicalResourceId === id)?.PhysicalResourceId ?? '';
  fixture.table = physical('Table');
  fixture.streamFn = physical('StreamFn');
  probeQueues.push({ url: physical('Probe').replace(/^https?:\/\/[^/]+/, endpoint), region: REGION_A });
  return `arn:aws:iam::${ACCOUNT}:role/${physical('Role')}`;
}

async function deployRegionB(roleArn: string): Promise<void> {
  const { lambda, sqs } = clients(REGION_B);
  const bucket = `my-code-${run}`;
  // Same key as region A's package, other bytes: discovery must pick the object by its SHA-256.
  const key = await putZip(REGION_B, bucket, `probe-${run}.zip`, 'b');
  const probe = await sqs.send(new CreateQueueCommand({ QueueName: `probe-${run}` }));
  probeQueues.push({ url: probe.QueueUrl!, region: REGION_B });
  const work = await sqs.send(new CreateQueueCommand({ QueueName: `work-${run}`, Attributes: { VisibilityTimeout: '2' } }));
  fixture.workQueueUrl = work.QueueUrl!;
  const workArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: work.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  fixture.queueFn = `queue-fn-${run}`;
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: fixture.queueFn,
      Runtime: 'nodejs20.x',
      Role: roleArn,
      Handler: 'index.handler',
      Code: { S3Bucket: bucket, S3Key: key },
      Timeout: 5,
      Environment: { Variables: { MARK: 'queue', PROBE_QUEUE: `probe-${run}` } },
    }),
  );
  await lambda.send(
    new CreateEventSourceMappingCommand({
      FunctionName: fixture.queueFn,
      EventSourceArn: workArn,
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    }),
  );
  // Inline code: moto keeps no copy the runtime can fetch; its mapping must be skipped, not fatal.
  const inlineQueue = await sqs.send(new CreateQueueCommand({ QueueName: `inline-${run}` }));
  const inlineArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: inlineQueue.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: fixture.inlineFn,
      Runtime: 'nodejs20.x',
      Role: roleArn,
      Handler: 'index.handler',
      Code: { ZipFile: zipSync({ 'index.js': strToU8(PROBE_HANDLER) }) },
    }),
  );
  await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: fixture.inlineFn, EventSourceArn: inlineArn }));
}

/** Drains the probe queues into `probes` until the suite ends. */
async function collect(): Promise<void> {
  const readers = probeQueues.map(({ url, region }) => ({ url, sqs: clients(region).sqs }));
  while (collecting) {
    await Promise.all(
      readers.map(async ({ url, sqs }) => {
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        const messages = res.Messages ?? [];
        for (const m of messages) probes.push(JSON.parse(m.Body!) as Probe);
        if (messages.length) {
          await sqs.send(
            new DeleteMessageBatchCommand({ QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
          );
        }
      }),
    );
  }
}

async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; probes so far: ${JSON.stringify(probes.map((p) => p.fn))}`);
    await sleep(100);
  }
}

const streamRecords = (): Array<Record<string, any>> => probes.filter((p) => p.fn === fixture.streamFn).flatMap((p) => p.event.Records);
const queueRecords = (): Array<Record<string, any>> => probes.filter((p) => p.fn === fixture.queueFn).flatMap((p) => p.event.Records);
const keyOf = (r: Record<string, any>): string => r.dynamodb.Keys.pk.S;

async function start(): Promise<LocalRuntime> {
  const rt = await startRuntime({
    endpoint,
    regions: [REGION_A, REGION_B],
    stateDir,
    idlePollMs: 100,
    retryBaseMs: 50,
    logger: (level, message) => logLines.push(`${level}: ${message}`),
    onLog: (fn, line) => logLines.push(`${fn}: ${line}`),
  });
  await rt.ready;
  return rt;
}

beforeAll(async () => {
  endpoint = process.env.REGIONSYNC_TEST_ENDPOINT ?? '';
  if (!endpoint) {
    moto = await startMoto();
    endpoint = moto.endpoint;
  }
  if ((await isDispatchDisabled(endpoint)) === false) {
    throw new Error(`moto at ${endpoint} was not started through dev/local/moto_bootstrap.py: its own mapping dispatch drops stream records`);
  }
  stateDir = await mkdtemp(join(tmpdir(), 'regionsync-runtime-'));
  const roleArn = await deployRegionA();
  await deployRegionB(roleArn);
  collector = collect();
  runtime = await start();
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  collecting = false;
  await collector?.catch(() => undefined);
  await moto?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
}, 30_000);

describe('local runtime', () => {
  it('discovers functions, their configuration, code and mappings in every region', () => {
    const fns = runtime!.functions;
    const byName = (name: string): DeployedFunction => fns.find((f) => f.name === name)!;
    const streamFn = byName(fixture.streamFn);
    expect(streamFn).toMatchObject({ region: REGION_A, handler: 'index.handler', timeoutSeconds: 10, memoryMb: 256 });
    expect(streamFn.environment).toMatchObject({ MARK: 'stream' });
    expect(streamFn.code).toMatchObject({ source: 's3', bucket: `cdk-hnb659fds-assets-${ACCOUNT}-${REGION_A}` });
    expect(streamFn.mappings).toHaveLength(1);
    expect(streamFn.mappings[0]).toMatchObject({
      source: 'dynamodb',
      enabled: true,
      batchSize: 10,
      startingPosition: 'TRIM_HORIZON',
      reportBatchItemFailures: true,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 5,
    });

    const queueFn = byName(fixture.queueFn);
    expect(queueFn.region).toBe(REGION_B);
    expect(queueFn.code).toMatchObject({ source: 's3', bucket: `my-code-${run}` });
    expect(queueFn.mappings[0]).toMatchObject({ source: 'sqs', batchSize: 10, reportBatchItemFailures: true });

    const inline = byName(fixture.inlineFn);
    expect(inline.code).toBeUndefined();
    expect(inline.codeError).toMatch(/ZipFile/);
    const inlineStats = runtime!.stats().find((s) => s.functionName === fixture.inlineFn)!;
    expect(inlineStats.state).toBe('skipped');
    expect(
      runtime!
        .stats()
        .filter((s) => s.functionName !== fixture.inlineFn)
        .every((s) => s.state === 'running'),
    ).toBe(true);
  });

  it('delivers DynamoDB stream records in the Lambda event shape', { timeout: 30_000 }, async () => {
    const { ddb } = clients(REGION_A);
    const TableName = fixture.table;
    await ddb.send(
      new PutItemCommand({
        TableName,
        Item: {
          pk: { S: 'shape' },
          s: { S: 'text' },
          n: { N: '42.5' },
          b: { B: new Uint8Array([0, 1, 2, 255]) },
          bs: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] },
          ss: { SS: ['x', 'y'] },
          ns: { NS: ['1', '2'] },
          l: { L: [{ S: 'a' }, { B: new Uint8Array([9]) }] },
          m: { M: { inner: { B: new Uint8Array([7, 7]) }, flag: { BOOL: true } } },
          nul: { NULL: true },
        },
      }),
    );
    await ddb.send(
      new UpdateItemCommand({
        TableName,
        Key: { pk: { S: 'shape' } },
        UpdateExpression: 'SET s = :s',
        ExpressionAttributeValues: { ':s': { S: 'changed' } },
      }),
    );
    await ddb.send(new DeleteItemCommand({ TableName, Key: { pk: { S: 'shape' } } }));

    const records = await waitFor('3 stream records', () => {
      const rs = streamRecords().filter((r) => keyOf(r) === 'shape');
      return rs.length >= 3 ? rs : undefined;
    });
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    const [insert, modify, remove] = records as [Record<string, any>, Record<string, any>, Record<string, any>];
    const streamArn = runtime!.functions.find((f) => f.name === fixture.streamFn)!.mappings[0]!.eventSourceArn;

    expect(Object.keys(insert)).toEqual(['eventID', 'eventName', 'eventVersion', 'eventSource', 'awsRegion', 'dynamodb', 'eventSourceARN']);
    expect(insert).toMatchObject({ eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: REGION_A, eventSourceARN: streamArn });
    expect(typeof insert.eventID).toBe('string');
    const d = insert.dynamodb;
    expect(Object.keys(d)).toEqual(['ApproximateCreationDateTime', 'Keys', 'NewImage', 'SequenceNumber', 'SizeBytes', 'StreamViewType']);
    // Seconds with the emulator's millisecond precision kept (plain writes are versioned from it).
    expect(Number.isInteger(Math.round(d.ApproximateCreationDateTime * 1000))).toBe(true);
    expect(Math.abs(d.ApproximateCreationDateTime * 1000 - Math.round(d.ApproximateCreationDateTime * 1000))).toBeLessThan(1e-3);
    expect(Math.abs(d.ApproximateCreationDateTime - Date.now() / 1000)).toBeLessThan(60);
    expect(d.Keys).toEqual({ pk: { S: 'shape' } });
    expect(d.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
    expect(typeof d.SequenceNumber).toBe('string');
    expect(typeof d.SizeBytes).toBe('number');
    expect(d.NewImage).toEqual({
      pk: { S: 'shape' },
      s: { S: 'text' },
      n: { N: '42.5' },
      b: { B: Buffer.from([0, 1, 2, 255]).toString('base64') },
      bs: { BS: ['AQ==', 'AgM='] },
      ss: { SS: ['x', 'y'] },
      ns: { NS: ['1', '2'] },
      l: { L: [{ S: 'a' }, { B: 'CQ==' }] },
      m: { M: { inner: { B: 'Bwc=' }, flag: { BOOL: true } } },
      nul: { NULL: true },
    });

    expect(modify.dynamodb.OldImage.s).toEqual({ S: 'text' });
    expect(modify.dynamodb.NewImage.s).toEqual({ S: 'changed' });
    expect(remove.dynamodb.NewImage).toBeUndefined();
    expect(remove.dynamodb.OldImage.s).toEqual({ S: 'changed' });
    const seqs = records.map((r) => BigInt(r.dynamodb.SequenceNumber));
    expect(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!).toBe(true);
  });

  it('retries a stream batch whose invocation threw, without losing or skipping records', { timeout: 30_000 }, async () => {
    const { ddb } = clients(REGION_A);
    await ddb.send(new PutItemCommand({ TableName: fixture.table, Item: { pk: { S: 'throw-once' } } }));
    await ddb.send(new PutItemCommand({ TableName: fixture.table, Item: { pk: { S: 'after-throw' } } }));
    await waitFor('the records after the failure', () => streamRecords().some((r) => keyOf(r) === 'after-throw'));
    expect(streamRecords().filter((r) => keyOf(r) === 'throw-once')).toHaveLength(1);
    const stats = runtime!.stats().find((s) => s.functionName === fixture.streamFn)!;
    expect(stats.failures).toBeGreaterThanOrEqual(1);
    expect(stats.discarded).toBe(0);
  });

  it('delivers SQS messages, deletes them, and leaves only the reported failures to come back', { timeout: 30_000 }, async () => {
    const { sqs } = clients(REGION_B);
    for (const body of ['ok-1', 'fail-once', 'ok-2']) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: fixture.workQueueUrl,
          MessageBody: body,
          MessageAttributes: {
            kind: { DataType: 'String', StringValue: 'test' },
            blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
          },
        }),
      );
    }
    const retried = await waitFor('the failed message to come back', () =>
      queueRecords().find((r) => r.body === 'fail-once' && r.attributes.ApproximateReceiveCount === '2'),
    );
    expect(retried).toBeDefined();
    const bodies = queueRecords().map((r) => r.body);
    expect(bodies.filter((b) => b === 'ok-1')).toHaveLength(1);
    expect(bodies.filter((b) => b === 'ok-2')).toHaveLength(1);
    expect(bodies.filter((b) => b === 'fail-once')).toHaveLength(2);

    const record = queueRecords().find((r) => r.body === 'ok-1')!;
    const queueArn = `arn:aws:sqs:${REGION_B}:${ACCOUNT}:work-${run}`;
    expect(record).toMatchObject({ eventSource: 'aws:sqs', eventSourceARN: queueArn, awsRegion: REGION_B });
    expect(Object.keys(record.attributes)).toEqual(
      expect.arrayContaining(['ApproximateReceiveCount', 'SentTimestamp', 'SenderId', 'ApproximateFirstReceiveTimestamp']),
    );
    expect(record.messageAttributes).toEqual({
      kind: { stringValue: 'test', stringListValues: [], binaryListValues: [], dataType: 'String' },
      blob: { binaryValue: 'AQID', stringListValues: [], binaryListValues: [], dataType: 'Binary' },
    });
    expect(record.md5OfBody).toBe(createHash('md5').update('ok-1').digest('hex'));

    const left = await eventually(
      () => queueDepth(sqs, fixture.workQueueUrl),
      (n) => n === 0,
      10_000,
      200,
    );
    expect(left).toBe(0);
  });

  it('gives each function its own environment, region and emulator endpoint', async () => {
    const stream = await waitFor('a stream probe', () => probes.find((p) => p.fn === fixture.streamFn));
    const queue = await waitFor('a queue probe', () => probes.find((p) => p.fn === fixture.queueFn));
    expect(stream).toMatchObject({ mark: 'stream', region: REGION_A, endpoint });
    expect(queue).toMatchObject({ mark: 'queue', region: REGION_B, endpoint });
    expect(probes.every((p) => p.previousWriter === undefined)).toBe(true);
    expect(stream.remaining).toBeGreaterThan(0);
    expect(stream.remaining).toBeLessThanOrEqual(10_000);
    // Function output reaches onLog.
    expect(logLines.some((l) => l.startsWith(`${fixture.streamFn}: {"probe"`))).toBe(true);
  });

  it('resumes a stream from its checkpoint after a restart instead of replaying it', { timeout: 30_000 }, async () => {
    await runtime!.stop();
    const { ddb } = clients(REGION_A);
    const before = streamRecords().length;
    await ddb.send(new PutItemCommand({ TableName: fixture.table, Item: { pk: { S: 'while-stopped' } } }));
    runtime = await start();
    await waitFor('the record written while stopped', () => streamRecords().some((r) => keyOf(r) === 'while-stopped'));
    await sleep(500); // room for any replay to show up
    const after = streamRecords().slice(before);
    expect(after.map(keyOf)).toEqual(['while-stopped']);
  });
});
