/**
 * Handler CPU per item: the real Shipper and Applier, with real AWS SDK clients (so request
 * serialization, signing and response parsing count, as they do in Lambda), whose HTTP handler
 * answers from the in-memory DynamoDB and SQS fakes of the property tests instead of a network.
 * The fakes' own time is measured and subtracted. Next to it, the floor: JSON-parsing the same
 * input events and serializing the same output payloads, which no implementation can avoid.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { Applier } from '../../src/functions/applier/applier.ts';
import { decodeMessage } from '../../src/core/change.ts';
import { META } from '../../src/core/contract.ts';
import { encodeVersion, HybridLogicalClock } from '../../src/core/version.ts';
import { advance, vectorAttribute } from '../../src/core/vector.ts';
import { Shipper } from '../../src/functions/shipper/shipper.ts';
import { settingsFor, silentLogger, silentMetrics } from '../../test/support/cluster.ts';
import { FakeSqs, FakeTable } from '../../test/support/fakes.ts';
import { makeItem } from './load.ts';

export interface CpuResult {
  /** Microseconds of handler CPU per item (plain writes: the shipper stamps each). */
  readonly shipper: number;
  /** Shipper on items written through the client helper (nothing to stamp). */
  readonly shipperHelper: number;
  /** Applier, per item per target region. */
  readonly applier: number;
  /** JSON floor for shipper + applier: parse the input events, serialize the output payloads. */
  readonly floor: number;
  readonly floorShipper: number;
  readonly floorApplier: number;
  readonly items: number;
  readonly itemBytes: number;
  /** Records per shipper invocation and messages per applier invocation in the run. */
  readonly shipperBatch: number;
  readonly applierBatch: number;
}

const KEY = { partitionKey: 'pk', sortKey: 'sk' };
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];

/** An SDK HTTP handler answering from the fakes; records the CPU spent inside them. */
class InMemoryHttp {
  backendMicros = 0;
  /** `backend` does its work synchronously and returns an already settled promise. */
  constructor(private readonly backend: (target: string, input: Record<string, unknown>) => Promise<{ status: number; body: unknown }>) {}

  async handle(request: { headers: Record<string, string>; body?: unknown }): Promise<{ response: unknown }> {
    let t = process.cpuUsage();
    const target = request.headers['x-amz-target'] ?? '';
    const raw = request.body ?? '{}';
    // The SDK's JSON body is a Uint8Array (decoded as bytes: its string methods are deprecated).
    const text = typeof raw === 'string' ? raw : new TextDecoder().decode(raw as Uint8Array);
    const pending = this.backend(target, JSON.parse(text) as Record<string, unknown>);
    this.charge(process.cpuUsage(t));
    const out = await pending;
    t = process.cpuUsage();
    const body = Buffer.from(JSON.stringify(out.body ?? {}));
    this.charge(process.cpuUsage(t));
    return {
      response: {
        statusCode: out.status,
        headers: { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(body.length) },
        body: Readable.from([body]),
      },
    };
  }
  private charge(used: NodeJS.CpuUsage): void {
    this.backendMicros += used.user + used.system;
  }
  updateHttpClientConfig(): void {}
  httpHandlerConfigs(): Record<string, unknown> {
    return {};
  }
}

export async function measureCpu(opts: { items: number; itemBytes: number; batch?: number }): Promise<CpuResult> {
  const batch = opts.batch ?? 500;
  // Warm up the JIT and the SDK on a small run, then measure.
  await run(Math.min(opts.items, 1000), opts.itemBytes, batch);
  return run(opts.items, opts.itemBytes, batch);
}

async function run(items: number, itemBytes: number, batch: number): Promise<CpuResult> {
  const [source, ...targets] = REGIONS as [string, ...string[]];
  const plain = await shipperRun(source, items, itemBytes, batch, 'plain');
  const helper = await shipperRun(source, items, itemBytes, batch, 'helper');
  const applier = await applierRun(targets[0]!, plain.bodies, plain.queueBodies);
  return {
    shipper: plain.cpuMicros / items,
    shipperHelper: helper.cpuMicros / items,
    applier: applier.cpuMicros / items,
    floorShipper: plain.floorMicros / items,
    floorApplier: applier.floorMicros / items,
    floor: (plain.floorMicros + applier.floorMicros) / items,
    items,
    itemBytes,
    shipperBatch: batch,
    applierBatch: applier.batch,
  };
}

function makeDynamo(region: string, table: FakeTable): { client: DynamoDBClient; http: InMemoryHttp } {
  const http = new InMemoryHttp((target, input) => {
    const op = target.split('.')[1] ?? '';
    const make = {
      PutItem: (i: never) => new PutItemCommand(i),
      UpdateItem: (i: never) => new UpdateItemCommand(i),
      DeleteItem: (i: never) => new DeleteItemCommand(i),
      GetItem: (i: never) => new GetItemCommand(i),
    }[op];
    if (!make) throw new Error(`cpu bench: no fake for DynamoDB ${op}`);
    // The fake's dispatch has no await inside: its work is done when it returns.
    return table.dispatch(make(input as never)).then(
      (result) => ({ status: 200, body: result }),
      (e: { name: string; Item?: unknown }) => ({
        status: 400,
        body: { __type: `com.amazonaws.dynamodb.v20120810#${e.name}`, message: 'The conditional request failed', ...(e.Item ? { Item: e.Item } : {}) },
      }),
    );
  });
  return { client: new DynamoDBClient({ region, credentials: { accessKeyId: 'cpu', secretAccessKey: 'cpu' }, requestHandler: http as never }), http };
}

function makeSqs(region: string, sqs: FakeSqs): { client: SQSClient; http: InMemoryHttp } {
  const fake = sqs.client as { send(c: unknown): Promise<unknown> };
  const http = new InMemoryHttp(async (target, input) => {
    const op = target.split('.')[1];
    if (op === 'SendMessageBatch') {
      const entries = (input.Entries as { Id: string; MessageBody: string }[]) ?? [];
      void fake.send(new SendMessageBatchCommand(input as never));
      return { status: 200, body: { Successful: entries.map((e) => ({ Id: e.Id, MessageId: e.Id, MD5OfMessageBody: md5(e.MessageBody) })), Failed: [] } };
    }
    if (op === 'SendMessage') {
      void fake.send(new SendMessageCommand(input as never));
      return { status: 200, body: { MessageId: 'm', MD5OfMessageBody: md5(String(input.MessageBody)) } };
    }
    throw new Error(`cpu bench: no fake for SQS ${op}`);
  });
  // As in the handler: the client is bound to its region, the queue URL is not an endpoint.
  return {
    client: new SQSClient({ region, useQueueUrlAsEndpoint: false, credentials: { accessKeyId: 'cpu', secretAccessKey: 'cpu' }, requestHandler: http as never }),
    http,
  };
}

function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

/** Plain writes (or helper writes) in the source table, then the shipper over their stream records. */
async function shipperRun(region: string, items: number, itemBytes: number, batch: number, path: 'plain' | 'helper') {
  const table = new FakeTable(region, KEY);
  const clock = new HybridLogicalClock(region);
  for (let i = 0; i < items; i++) {
    const item = { ...makeItem('pk', `cpu-${i}`, 1_764_000_000_000 + i, itemBytes), sk: { S: 's' } };
    if (path === 'helper') {
      const version = clock.next();
      Object.assign(item, {
        [META.version]: { S: encodeVersion(version) },
        [META.writer]: { S: 'app' },
        ...vectorAttribute(advance({}, version), encodeVersion(version)),
      });
    }
    table.appPut(item);
  }
  const records = table.stream.slice();
  const sqs = new FakeSqs();
  const dynamo = makeDynamo(region, table);
  const sqsClient = makeSqs(region, sqs);
  const shipper = new Shipper(settingsFor(region, REGIONS), {
    dynamodb: dynamo.client,
    sqsFor: () => sqsClient.client,
    logger: silentLogger(),
    metrics: silentMetrics(),
  });
  // Lambda hands the handler a parsed event: the parse is part of an invocation's CPU.
  const events = chunk(records, batch).map((r) => JSON.stringify({ Records: r }));
  const before = process.cpuUsage();
  for (const json of events) await shipper.handle(JSON.parse(json) as { Records: DynamoDBRecord[] });
  const used = process.cpuUsage(before);
  const cpuMicros = used.user + used.system - dynamo.http.backendMicros - sqsClient.http.backendMicros;
  // A run that did not do the work would measure nothing: check it did.
  if (path === 'plain' && table.calls.update !== items) throw new Error(`cpu bench: expected ${items} stamps, the shipper made ${table.calls.update}`);
  const queueBodies = sqs.sent.filter((m) => m.queueUrl.endsWith(REGIONS[1]!)).map((m) => m.body);

  // The floor: parse the same events, serialize the same changes into message bodies.
  const changes = queueBodies.flatMap((b) => decodeMessage(b).changes);
  const floorStart = process.cpuUsage();
  for (const json of events) JSON.parse(json);
  for (const group of chunk(changes, 200)) JSON.stringify({ schema: 1, changes: group });
  const f = process.cpuUsage(floorStart);
  return { cpuMicros, floorMicros: f.user + f.system, bodies: sqs.sent.map((m) => m.body), queueBodies };
}

/** The applier in one target over the messages the shipper sent there, 10 per invocation as configured. */
async function applierRun(region: string, _all: readonly string[], bodies: readonly string[]) {
  const table = new FakeTable(region, KEY);
  const sqs = new FakeSqs();
  const dynamo = makeDynamo(region, table);
  const sqsClient = makeSqs(region, sqs);
  const applier = new Applier(settingsFor(region, REGIONS), {
    dynamodb: dynamo.client,
    sqs: sqsClient.client,
    logger: silentLogger(),
    metrics: silentMetrics(),
  });
  const records: SQSRecord[] = bodies.map((body, i) => ({
    messageId: `m${i}`,
    receiptHandle: `r${i}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: md5(body),
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${region}:123456789012:inbound`,
    awsRegion: region,
  }));
  const events = chunk(records, 10).map((r) => JSON.stringify({ Records: r }));
  const before = process.cpuUsage();
  for (const json of events) {
    const res = await applier.handle(JSON.parse(json) as { Records: SQSRecord[] });
    if (res.batchItemFailures.length > 0) throw new Error(`cpu bench: applier failed ${res.batchItemFailures.length} message(s)`);
  }
  const used = process.cpuUsage(before);
  const cpuMicros = used.user + used.system - dynamo.http.backendMicros - sqsClient.http.backendMicros;
  const shipped = bodies.reduce((n, b) => n + decodeMessage(b).changes.length, 0);
  if (table.items.size !== shipped || shipped === 0) throw new Error(`cpu bench: ${shipped} changes shipped, ${table.items.size} applied`);

  const floorStart = process.cpuUsage();
  for (const json of events) {
    const event = JSON.parse(json) as { Records: { body: string }[] };
    for (const r of event.Records) {
      for (const c of decodeMessage(r.body).changes) JSON.stringify({ TableName: 'items', Item: { ...c.item, [META.version]: { S: c.version } } });
    }
  }
  const f = process.cpuUsage(floorStart);
  return { cpuMicros, floorMicros: f.user + f.system, batch: records.length / Math.max(1, events.length) };
}

function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
