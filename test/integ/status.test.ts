/**
 * Operations on moto, through the real CDK deploy and the local runtime (which turns the
 * functions' EMF lines into CloudWatch metrics, as CloudWatch Logs does): the monitoring
 * resources deploy, lag and DLQ metrics appear per pair, `regionsync status --json` reports
 * them, the write fence is set by its alarm function and by `regionsync fence`, and
 * awaitReplicated waits for the other region.
 */
import * as path from 'node:path';
import { GetMetricDataCommand, ListDashboardsCommand } from '@aws-sdk/client-cloudwatch';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deadLetterQueueName, inboundQueueName, META } from '../../src/core/contract.ts';
import { alarmName, AWS_METRICS, METRICS, pairDimensions } from '../../src/core/metrics.ts';
import { awaitReplicated, ReplicationTimeoutError, ReplicationWaiter } from '../../src/client/await-replicated.ts';
import { FencedError, WriteFence } from '../../src/client/fencing.ts';
import { cloudformation, dynamodb, cloudwatch as cloudwatchOf, sqs as sqsOf } from '../../src/ops/aws.ts';
import { fenceMain } from '../../src/cli/fence.ts';
import { statusMain } from '../../src/cli/status.ts';
import { bringUp, type Running } from '../../dev/cli/up.ts';
import type { StatusReport } from '../../src/ops/status.ts';
import { eventually } from '../support/eventually.ts';
import { readTombstoneRow } from '../support/tombstones.ts';

const CONFIG = path.resolve(import.meta.dirname, 'fixtures/monitoring.config.ts');
const APP = 'integ6';
const TABLE = 'integ6_orders';
const [A, B] = ['ap-south-1', 'sa-east-1'] as const;
const WRITES = 4;

let endpoint: string;
let running: Running;
const silent = () => undefined;
const key = (id: string): Record<string, AttributeValue> => ({ pk: { S: id } });

/** One statistic of one metric over the last 10 minutes, from the emulator's CloudWatch. */
async function metric(region: string, namespace: string, name: string, dims: Record<string, string>, stat: string): Promise<number | undefined> {
  const cw = cloudwatchOf({ endpoint }, region);
  const now = Date.now();
  const out = await cw.send(
    new GetMetricDataCommand({
      StartTime: new Date(now - 600_000),
      EndTime: new Date(now + 60_000),
      MetricDataQueries: [
        {
          Id: 'm',
          MetricStat: {
            Metric: { Namespace: namespace, MetricName: name, Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value })) },
            Period: 660,
            Stat: stat,
          },
        },
      ],
    }),
  );
  cw.destroy();
  return out.MetricDataResults?.[0]?.Values?.[0];
}

async function status(): Promise<{ code: number; report: StatusReport }> {
  let text = '';
  const code = await statusMain(['--endpoint', endpoint, '--config', CONFIG, '--json', '--window', '10'], (s) => (text += s));
  return { code, report: JSON.parse(text) as StatusReport };
}

const pairOf = (r: StatusReport, source: string, target: string) => r.pairs.find((p) => p.source === source && p.target === target)!;

function sqsIn(region: string): SQSClient {
  return sqsOf({ endpoint }, region);
}

async function queueUrl(region: string, name: string): Promise<string> {
  return (await sqsIn(region).send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
}

beforeAll(async () => {
  endpoint = inject('endpoint');
  running = await bringUp({ endpoint, configFile: CONFIG, log: silent });
});

afterAll(async () => {
  await running?.stop();
});

describe('monitoring resources on moto', () => {
  it('each region deploys its alarm topic, write fence table and function, and its dashboard; the global dashboard exists once', async () => {
    // Act
    const resources = await Promise.all(
      [A, B].map(
        async (r) => (await cloudformation({ endpoint }, r).send(new ListStackResourcesCommand({ StackName: `${APP}-${r}` }))).StackResourceSummaries ?? [],
      ),
    );
    // CloudWatch dashboards are global per account; moto keeps them per region: ask both.
    const dashboards = (
      await Promise.all(
        [A, B].map(async (r) => (await cloudwatchOf({ endpoint }, r).send(new ListDashboardsCommand({ DashboardNamePrefix: APP }))).DashboardEntries ?? []),
      )
    ).flat();

    // Assess
    for (const [i, region] of [A, B].entries()) {
      const of = (type: string) => resources[i]!.filter((x) => x.ResourceType === type).map((x) => x.PhysicalResourceId ?? '');
      expect(of('AWS::SNS::Topic'), `alarm topic in ${region}`).toEqual([expect.stringMatching(new RegExp(`:${APP}-alarms$`))]);
      expect(of('AWS::DynamoDB::Table'), `tables in ${region}`).toContain(`${APP}-fence`);
      expect(
        of('AWS::Lambda::Function').filter((n) => n.includes('WriteFence')),
        `fence function in ${region}`,
      ).toHaveLength(1);
    }
    expect(dashboards.map((d) => d.DashboardName).sort()).toEqual([`${APP}-${A}`, `${APP}-global`, `${APP}-${B}`].sort());
  });
});

describe('metrics and status', () => {
  it('replication lag and change counts appear per pair, and status --json reports them', async () => {
    // Prepare: plain writes in both regions, replicated.
    for (const region of [A, B]) {
      for (let i = 0; i < WRITES; i++) {
        await dynamodb({ endpoint }, region).send(new PutItemCommand({ TableName: TABLE, Item: { ...key(`${region}-${i}`), n: { N: String(i) } } }));
      }
    }
    for (const [from, to] of [
      [A, B],
      [B, A],
    ] as const) {
      for (let i = 0; i < WRITES; i++) {
        const item = await eventually(
          () => dynamodb({ endpoint }, to).send(new GetItemCommand({ TableName: TABLE, Key: key(`${from}-${i}`) })),
          (o) => o.Item !== undefined,
        );
        expect(item.Item, `${from}-${i} in ${to}`).toBeDefined();
      }
    }

    // Act: the lag of every applied change reaches CloudWatch in the target region.
    const samples = await Promise.all(
      [
        [A, B],
        [B, A],
      ].map(([source, target]) =>
        eventually(
          () =>
            metric(target!, METRICS.namespace, METRICS.names.replicationLag, pairDimensions({ table: TABLE, source: source!, target: target! }), 'SampleCount'),
          (v) => (v ?? 0) >= WRITES,
        ),
      ),
    );
    const { code, report } = await status();

    // Assess
    expect(samples).toEqual([WRITES, WRITES]);
    expect(report.app).toBe(APP);
    expect(report.pairs.map((p) => `${p.source}>${p.target}`).sort()).toEqual([`${A}>${B}`, `${B}>${A}`]);
    for (const p of report.pairs) {
      expect(p.table).toBe(TABLE);
      expect(p.lag.samples).toBe(WRITES);
      expect(p.lag.p50).toBeGreaterThanOrEqual(0);
      expect(p.lag.p99).toBeGreaterThanOrEqual(p.lag.p50!);
      expect(p.lag.max).toBeGreaterThanOrEqual(p.lag.p99!);
      expect(p.changes.applied).toBe(WRITES);
      expect(p.changes.shipped).toBeGreaterThanOrEqual(WRITES);
      expect(p.dlq.messages).toBe(0);
      expect(p.backlog.messages).toBe(0);
      expect(p.thresholds.lagP99ThresholdMs).toBe(4000);
    }
    expect(code).toBe(report.healthy ? 0 : 1);
  });

  it('a message that can never apply lands in the DLQ: the DLQ metric appears and status reports the pair into that region as breached', async () => {
    // Prepare: a poison message in B's inbound queue (the applier dead-letters invalid messages itself).
    await sqsIn(B).send(new SendMessageCommand({ QueueUrl: await queueUrl(B, inboundQueueName(APP, TABLE)), MessageBody: 'this is not a change message' }));
    const dlqUrl = await queueUrl(B, deadLetterQueueName(APP, TABLE));
    const inDlq = await eventually(
      async () =>
        Number(
          (await sqsIn(B).send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes
            ?.ApproximateNumberOfMessages ?? 0,
        ),
      (n) => n >= 1,
    );

    // Act
    const depth = await eventually(
      () => metric(B, AWS_METRICS.sqs.namespace, AWS_METRICS.sqs.visible, { [AWS_METRICS.sqs.dimension]: deadLetterQueueName(APP, TABLE) }, 'Maximum'),
      (v) => (v ?? 0) >= 1,
    );
    const deadLettered = await eventually(
      () =>
        metric(
          B,
          METRICS.namespace,
          METRICS.names.changesDeadLettered,
          { service: 'regionsync-applier', [METRICS.dimensions.table]: TABLE, [METRICS.dimensions.targetRegion]: B },
          'Sum',
        ),
      (v) => (v ?? 0) >= 1,
    );
    const { code, report } = await status();

    // Assess
    expect(inDlq).toBe(1);
    expect(depth).toBe(1);
    expect(deadLettered).toBe(1);
    expect(pairOf(report, A, B).dlq.messages).toBe(1);
    expect(pairOf(report, A, B).breaches).toContain('dlq');
    expect(pairOf(report, B, A).dlq.messages).toBe(0);
    expect(pairOf(report, B, A).breaches).not.toContain('dlq');
    expect(report.healthy).toBe(false);
    expect(code).toBe(1);
  });
});

describe('write fence', () => {
  const fence = () => new WriteFence({ appName: APP, clients: (r) => dynamodb({ endpoint }, r), cacheMs: 0 });
  const fenceFunction = (region: string) => running.runtime!.functions.find((f) => f.region === region && f.name.includes('WriteFence'))!.name;
  const alarmEvent = (state: 'ALARM' | 'OK', at: string) => ({
    source: 'aws.cloudwatch',
    alarmArn: `arn:aws:cloudwatch:${A}:123456789012:alarm:${alarmName(APP, TABLE, 'lagP99', B)}`,
    alarmData: { alarmName: alarmName(APP, TABLE, 'lagP99', B), state: { value: state, reason: `test ${state}`, timestamp: at } },
  });

  it('the alarm function fences the table while its alarm fires, and a late notification does not undo a newer one', async () => {
    // Act
    const fired = await running.runtime!.invoke(A, fenceFunction(A), alarmEvent('ALARM', '2026-01-01T10:00:00.000Z'));
    const whileFiring = await fence().state(A, TABLE);
    const inOtherRegion = await fence().state(B, TABLE);
    await running.runtime!.invoke(A, fenceFunction(A), alarmEvent('OK', '2026-01-01T10:05:00.000Z'));
    const late = await running.runtime!.invoke(A, fenceFunction(A), alarmEvent('ALARM', '2026-01-01T10:01:00.000Z'));
    const afterOk = await fence().state(A, TABLE);

    // Assess
    expect(fired).toMatchObject({ ok: true, result: { written: [`${TABLE}:ALARM`] } });
    expect(whileFiring.fenced).toBe(true);
    expect(whileFiring.reasons.map((r) => r.source)).toEqual([`alarm#${alarmName(APP, TABLE, 'lagP99', B)}`]);
    expect(inOtherRegion.fenced).toBe(false);
    expect(late).toMatchObject({ ok: true, result: { written: [] } });
    expect(afterOk.fenced).toBe(false);
  });

  it('regionsync fence on/off sets and lifts a manual fence that assertWritable and status see', async () => {
    // Act
    const on = await fenceMain(['--endpoint', endpoint, '--config', CONFIG, '--region', B, '--table', TABLE, 'on', '--reason', 'failover drill'], silent);
    const refused = await fence()
      .assertWritable(B, TABLE)
      .catch((e: unknown) => e);
    const writable = await fence().writableRegions(TABLE, [B, A]);
    const { report } = await status();
    const off = await fenceMain(['--endpoint', endpoint, '--config', CONFIG, '--region', B, '--table', TABLE, 'off'], silent);
    const allowed = await fence().assertWritable(B, TABLE);

    // Assess
    expect([on, off]).toEqual([0, 0]);
    expect(refused).toBeInstanceOf(FencedError);
    expect((refused as FencedError).state.reasons).toMatchObject([{ source: 'manual', reason: 'failover drill' }]);
    expect(writable).toEqual([A]);
    expect(report.regions.find((r) => r.region === B)?.fences.map((f) => f.table)).toEqual([TABLE]);
    expect(allowed).toBeUndefined();
  });
});

describe('write fence without a fence table', () => {
  it('the client names the missing table and where it is deployed, instead of DynamoDB’s bare "not found"', async () => {
    // Act
    const error = await new WriteFence({ appName: 'integ6nofence', clients: (r) => dynamodb({ endpoint }, r) }).state(A, TABLE).catch((e: unknown) => e);

    // Assess
    expect((error as Error).message).toBe(`no fence table integ6nofence-fence in ${A}: it is deployed in regions where a table has monitoring.fence`);
  });
});

describe('awaitReplicated', () => {
  const table = { name: TABLE, regions: [A, B] };
  const clients = (r: string) => dynamodb({ endpoint }, r);

  it('resolves once the other region holds the version the write got', async () => {
    // Prepare
    await dynamodb({ endpoint }, A).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('ryw'), v: { N: '1' } } }));
    const waiter = new ReplicationWaiter({ clients, table });
    const version = await waiter.waitForVersion(A, key('ryw'), undefined);

    // Act
    const result = await waiter.awaitReplicated(key('ryw'), version, { timeoutMs: 20_000 });

    // Assess
    const inB = (await dynamodb({ endpoint }, B).send(new GetItemCommand({ TableName: TABLE, Key: key('ryw'), ConsistentRead: true }))).Item;
    expect(Object.keys(result.regions)).toEqual([B]);
    expect(result.regions[B]!.version >= version).toBe(true);
    expect(inB?.[META.version]?.S).toBe(result.regions[B]!.version);
  });

  it('sees a delete once it has replicated: the item is gone and its tombstone is in the tombstone table (appName given)', async () => {
    // Prepare: an item in both regions, then a plain DeleteItem in A; the delete's version is its tombstone's.
    const waiter = new ReplicationWaiter({ clients, table: { ...table, appName: APP } });
    await dynamodb({ endpoint }, A).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('gone'), v: { N: '1' } } }));
    await waiter.awaitReplicated(key('gone'), await waiter.waitForVersion(A, key('gone'), undefined), { timeoutMs: 20_000 });
    await dynamodb({ endpoint }, A).send(new DeleteItemCommand({ TableName: TABLE, Key: key('gone') }));
    const tombstone = await eventually(
      () => readTombstoneRow(endpoint, A, APP, TABLE, key('gone')),
      (row) => row !== undefined,
      20_000,
    );
    const version = tombstone![META.version]!.S!;

    // Act
    const result = await waiter.awaitReplicated(key('gone'), version, { timeoutMs: 20_000 });

    // Assess
    const inB = (await dynamodb({ endpoint }, B).send(new GetItemCommand({ TableName: TABLE, Key: key('gone'), ConsistentRead: true }))).Item;
    expect(inB).toBeUndefined();
    expect(result.regions[B]!.version >= version).toBe(true);
    // Without the app's name the waiter cannot see the tombstone: the absent item covers nothing.
    const blind = await awaitReplicated({ clients, table }, key('gone'), version, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(blind).toBeInstanceOf(ReplicationTimeoutError);
  });

  it('times out naming the region that does not hold the version', async () => {
    // Prepare: a version from the future, which no region can hold yet.
    await dynamodb({ endpoint }, A).send(new PutItemCommand({ TableName: TABLE, Item: { ...key('never'), v: { N: '1' } } }));
    const future = `${String(Date.now() + 3_600_000).padStart(15, '0')}.000000.${A}`;

    // Act
    const error = await awaitReplicated({ clients, table }, key('never'), future, { timeoutMs: 300 }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ReplicationTimeoutError);
    expect(Object.keys((error as ReplicationTimeoutError).pending)).toEqual([B]);
  });
});
