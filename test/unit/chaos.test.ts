/** The chaos proxy hook: spec parsing and which calls each fault hits (dev/local/chaos.ts). */
import { describe, expect, it } from 'vitest';
import { describeRequest, type ProxyResponse } from '../../dev/local/aws-proxy.ts';
import { callerRegion, Chaos, deleteAcknowledgement, parseChaosSpec } from '../../dev/local/chaos.ts';

const call = (target: string, region: string, keyId: string) =>
  describeRequest(
    1,
    'POST',
    '/',
    { 'x-amz-target': target, authorization: `AWS4-HMAC-SHA256 Credential=${keyId}/20260101/${region}/x/aws4_request, SignedHeaders=host, Signature=0` },
    Buffer.alloc(0),
  );

describe('chaos spec', () => {
  it('parses every fault kind with its defaults', () => {
    // Act
    const faults = parseChaosSpec(
      'cut region=eu-west-2; throttle region=us-west-1 service=dynamodb op=PutItem p=0.2; 5xx status=503; latency from=us-west-1 to=ap-south-2 ms=150',
    );
    // Assess
    expect(faults).toEqual([
      { kind: 'cut', region: 'eu-west-2', scope: 'cross', mode: 'refuse', ms: 10_000 },
      { kind: 'throttle', region: 'us-west-1', service: 'dynamodb', op: 'PutItem', p: 0.2 },
      { kind: '5xx', p: 1, status: 503 },
      { kind: 'latency', from: 'us-west-1', to: 'ap-south-2', ms: 150, jitter: 0 },
    ]);
  });

  it('names the fault and the option in an error', () => {
    expect(() => parseChaosSpec('cut')).toThrow(/"cut": region= is required/);
    expect(() => parseChaosSpec('throttle p=2')).toThrow(/p must be 0..1/);
    expect(() => parseChaosSpec('flood region=x')).toThrow(/unknown fault "flood"/);
    expect(() => parseChaosSpec('latency ms=5 speed=3')).toThrow(/unknown option\(s\) speed/);
  });
});

describe('Chaos hook', () => {
  it('a cross cut fails calls between the region and others, not calls inside either', () => {
    // Prepare
    const chaos = new Chaos(parseChaosSpec('cut region=ap-south-2'));
    // Act + Assess
    expect(chaos.onRequest(call('AmazonSQS.SendMessageBatch', 'ap-south-2', 'fn.shipper.us-west-1'))).toEqual({ delayMs: 0, drop: true });
    expect(chaos.onRequest(call('AmazonSQS.SendMessageBatch', 'us-west-1', 'fn.shipper.ap-south-2'))).toEqual({ delayMs: 0, drop: true });
    expect(chaos.onRequest(call('DynamoDB_20120810.PutItem', 'ap-south-2', 'fn.applier.ap-south-2'))).toBeUndefined();
    expect(chaos.onRequest(call('AmazonSQS.ReceiveMessage', 'ap-south-2', 'lambda-service'))).toBeUndefined();
    expect(chaos.onRequest(call('AmazonSQS.SendMessageBatch', 'eu-west-2', 'fn.shipper.us-west-1'))).toBeUndefined();
    expect(chaos.injected.cut).toBe(2);
  });

  it('throttles in the protocol shape of the service called, and heals', () => {
    // Prepare
    const chaos = new Chaos();
    const heal = chaos.add({ kind: 'throttle', region: 'us-west-1', p: 1 });
    // Act
    const dynamo = chaos.onRequest(call('DynamoDB_20120810.PutItem', 'us-west-1', 'x'))?.respond;
    const sqs = chaos.onRequest(call('AmazonSQS.SendMessageBatch', 'us-west-1', 'x'))?.respond;
    heal();
    // Assess
    expect(dynamo?.status).toBe(400);
    expect(JSON.parse(dynamo!.body.toString()).__type).toBe('com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException');
    expect(sqs?.headers['x-amzn-query-error']).toBe('RequestThrottled;Sender');
    expect(chaos.onRequest(call('DynamoDB_20120810.PutItem', 'us-west-1', 'x'))).toBeUndefined();
  });

  it('reads the caller region only from function keys', () => {
    expect(callerRegion('fn.regionsync-shipper-abc.eu-west-2')).toBe('eu-west-2');
    expect(callerRegion('lambda-service')).toBeUndefined();
  });
});

describe('chaos spec: delivery faults', () => {
  it('parses crash, duplicate and reorder with their defaults', () => {
    // Act
    const faults = parseChaosSpec(
      'crash region=us-west-1 function=shipper p=0.3 after=2; crash; duplicate service=sqs op=DeleteMessageBatch p=0.5; duplicate region=eu-west-2; reorder region=ap-south-2 service=sqs p=0.7; reorder',
    );
    // Assess
    expect(faults).toEqual([
      { kind: 'crash', region: 'us-west-1', function: 'shipper', p: 0.3, after: 2 },
      { kind: 'crash', p: 1, after: 1 },
      { kind: 'duplicate', op: 'DeleteMessageBatch', p: 0.5 },
      { kind: 'duplicate', region: 'eu-west-2', p: 1 },
      { kind: 'reorder', region: 'ap-south-2', p: 0.7 },
      { kind: 'reorder', p: 1 },
    ]);
  });

  it('names the fault and the bad field in an error', () => {
    expect(() => parseChaosSpec('crash after=1.5')).toThrow(/"crash after=1.5": after must be a whole number of calls/);
    expect(() => parseChaosSpec('crash after=-1')).toThrow(/after must be a non-negative number/);
    expect(() => parseChaosSpec('crash p=3')).toThrow(/"crash p=3": p must be 0..1/);
    expect(() => parseChaosSpec('crash op=PutItem')).toThrow(/unknown option\(s\) op \(crash takes region, function, p, after\)/);
    expect(() => parseChaosSpec('duplicate service=dynamodb')).toThrow(/"duplicate service=dynamodb": service must be sqs/);
    expect(() => parseChaosSpec('duplicate op=ReceiveMessage')).toThrow(
      /op must be one of SendMessage, SendMessageBatch, DeleteMessage, DeleteMessageBatch, got "ReceiveMessage"/,
    );
    expect(() => parseChaosSpec('reorder service=dynamodbstreams')).toThrow(/DynamoDB Streams keep each item's records in order/);
    expect(() => parseChaosSpec('reorder ms=3')).toThrow(/unknown option\(s\) ms \(reorder takes region, service, p\)/);
  });
});

const sqsCall = (op: string, region: string, body: unknown, keyId = 'lambda-service') =>
  describeRequest(
    7,
    'POST',
    '/',
    {
      'x-amz-target': `AmazonSQS.${op}`,
      authorization: `AWS4-HMAC-SHA256 Credential=${keyId}/20260101/${region}/sqs/aws4_request, SignedHeaders=host, Signature=0`,
    },
    Buffer.from(JSON.stringify(body)),
  );
const json = (body: unknown): ProxyResponse => ({
  status: 200,
  headers: { 'content-type': 'application/x-amz-json-1.0' },
  body: Buffer.from(JSON.stringify(body)),
});
const ids = (res: ProxyResponse | undefined): string[] =>
  ((JSON.parse(res!.body.toString()).Messages ?? []) as Array<{ MessageId: string }>).map((m) => m.MessageId);

describe('Chaos hook: duplicate', () => {
  it('performs a matching send twice and acknowledges a matching delete without performing it', () => {
    // Prepare
    const chaos = new Chaos(parseChaosSpec('duplicate region=eu-west-2'));
    const url = 'http://localhost/123/q';
    // Act
    const send = chaos.onRequest(sqsCall('SendMessageBatch', 'eu-west-2', { QueueUrl: url, Entries: [{ Id: '0', MessageBody: 'x' }] }, 'fn.shipper.us-west-1'));
    const del = chaos.onRequest(
      sqsCall('DeleteMessageBatch', 'eu-west-2', {
        QueueUrl: url,
        Entries: [
          { Id: '0', ReceiptHandle: 'a' },
          { Id: '1', ReceiptHandle: 'b' },
        ],
      }),
    );
    const one = chaos.onRequest(sqsCall('DeleteMessage', 'eu-west-2', { QueueUrl: url, ReceiptHandle: 'a' }));
    const elsewhere = chaos.onRequest(sqsCall('SendMessageBatch', 'us-west-1', { QueueUrl: url, Entries: [] }));
    const receive = chaos.onRequest(sqsCall('ReceiveMessage', 'eu-west-2', { QueueUrl: url }));
    // Assess
    expect(send).toEqual({ delayMs: 0, duplicate: true });
    expect(del?.respond?.status).toBe(200);
    expect(JSON.parse(del!.respond!.body.toString())).toEqual({ Successful: [{ Id: '0' }, { Id: '1' }], Failed: [] });
    expect(JSON.parse(one!.respond!.body.toString())).toEqual({});
    expect(elsewhere).toBeUndefined();
    expect(receive).toBeUndefined();
    expect(chaos.injected.duplicate).toBe(3);
  });

  it('gives way to a fault that stops the call: a send into a cut region fails instead of going twice', () => {
    // Prepare: the duplicate is listed first
    const chaos = new Chaos(parseChaosSpec('duplicate region=eu-west-2; cut region=eu-west-2'));
    // Act
    const send = chaos.onRequest(sqsCall('SendMessageBatch', 'eu-west-2', { QueueUrl: 'http://localhost/123/q', Entries: [] }, 'fn.shipper.us-west-1'));
    // Assess
    expect(send).toEqual({ delayMs: 0, drop: true });
    expect(chaos.injected.duplicate ?? 0).toBe(0);
  });

  it('acknowledges a query-protocol delete batch in XML with every entry id', () => {
    // Prepare
    const req = describeRequest(
      3,
      'POST',
      '/',
      {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'AWS4-HMAC-SHA256 Credential=k/20260101/eu-west-2/sqs/aws4_request, SignedHeaders=host, Signature=0',
      },
      Buffer.from(
        'Action=DeleteMessageBatch&QueueUrl=q&DeleteMessageBatchRequestEntry.1.Id=m1&DeleteMessageBatchRequestEntry.1.ReceiptHandle=a&DeleteMessageBatchRequestEntry.2.Id=m2&DeleteMessageBatchRequestEntry.2.ReceiptHandle=b',
      ),
    );
    // Act
    const res = deleteAcknowledgement(req);
    // Assess
    expect(res?.body.toString()).toContain(
      '<DeleteMessageBatchResultEntry><Id>m1</Id></DeleteMessageBatchResultEntry><DeleteMessageBatchResultEntry><Id>m2</Id></DeleteMessageBatchResultEntry>',
    );
  });
});

describe('Chaos hook: reorder', () => {
  it('shuffles a receive, holds some back, and hands them out after the newer ones at the next receive, even once healed', () => {
    // Prepare: a fixed sequence of random numbers
    const seq = [0.99, 0.1, 0.5, 0.9];
    let i = 0;
    const chaos = new Chaos([], () => seq[i++ % seq.length]!);
    const heal = chaos.add({ kind: 'reorder', region: 'eu-west-2', p: 1 });
    const receive = sqsCall('ReceiveMessage', 'eu-west-2', { QueueUrl: 'q1', MaxNumberOfMessages: 10 });
    const batch = ['m1', 'm2', 'm3', 'm4'].map((MessageId) => ({ MessageId, Body: MessageId }));
    // Act
    const first = ids(chaos.onResponse(receive, json({ Messages: batch })));
    heal();
    const second = ids(chaos.onResponse(receive, json({ Messages: [{ MessageId: 'm5', Body: 'm5' }] })));
    const third = chaos.onResponse(receive, json({}));
    // Assess: every message delivered exactly once, m5 overtook the held ones.
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(4);
    expect([...first, ...second].sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(second[0]).toBe('m5');
    expect(third).toBeUndefined();
    expect(chaos.injected.reorder).toBe(1);
  });

  it('hands a held message out on an empty receive, within MaxNumberOfMessages, and leaves other queues and regions alone', () => {
    // Prepare
    const chaos = new Chaos(parseChaosSpec('reorder region=eu-west-2'), () => 0);
    const q1 = (max: number) => sqsCall('ReceiveMessage', 'eu-west-2', { QueueUrl: 'q1', MaxNumberOfMessages: max });
    // Act
    const first = ids(chaos.onResponse(q1(1), json({ Messages: [{ MessageId: 'a' }] })));
    const otherRegion = chaos.onResponse(sqsCall('ReceiveMessage', 'us-west-1', { QueueUrl: 'q1' }), json({ Messages: [{ MessageId: 'x' }] }));
    chaos.heal();
    const second = ids(chaos.onResponse(q1(1), json({ Messages: [{ MessageId: 'b' }] })));
    const third = ids(chaos.onResponse(q1(1), json({})));
    // Assess
    expect(first).toEqual([]);
    expect(otherRegion).toBeUndefined();
    expect(second).toEqual(['a']);
    expect(third).toEqual(['b']);
  });
});

describe('Chaos hook: crash', () => {
  const fn = (name: string, role: string, region = 'us-west-1') => ({
    name,
    region,
    handler: 'index.handler',
    timeoutSeconds: 60,
    memoryMb: 128,
    environment: { POWERTOOLS_SERVICE_NAME: `regionsync-${role}` },
    codeDir: '/x',
  });

  it('kills an armed invocation at the call after its first K, and records the restart at the next cold start', () => {
    // Prepare
    const chaos = new Chaos(parseChaosSpec('crash region=us-west-1 function=shipper after=2'));
    const shipper = fn('app-Shipper-1', 'shipper');
    const killed: string[] = [];
    const end = chaos.invocationStarted({ fn: shipper, requestId: 'r1', coldStart: true, crash: () => killed.push('r1') });
    const applierEnd = chaos.invocationStarted({ fn: fn('app-Applier-1', 'applier'), requestId: 'a1', coldStart: true, crash: () => killed.push('a1') });
    const put = () => chaos.onRequest(call('DynamoDB_20120810.UpdateItem', 'us-west-1', 'fn.app-Shipper-1.us-west-1'));
    // Act
    const decisions = [put(), put(), put()];
    const applierCalls = [1, 2, 3].map(() => chaos.onRequest(call('DynamoDB_20120810.PutItem', 'us-west-1', 'fn.app-Applier-1.us-west-1')));
    end();
    applierEnd();
    chaos.invocationStarted({ fn: shipper, requestId: 'r2', coldStart: true, crash: () => killed.push('r2') })();
    // Assess
    expect(decisions).toEqual([undefined, undefined, { drop: true }]);
    expect(applierCalls).toEqual([undefined, undefined, undefined]);
    expect(killed).toEqual(['r1']);
    expect(chaos.injected.crash).toBe(1);
    expect(chaos.crashes).toEqual([
      expect.objectContaining({ function: 'app-Shipper-1', region: 'us-west-1', requestId: 'r1', afterCalls: 2, restartedAt: expect.any(Number) }),
    ]);
  });

  it('does not crash an armed invocation once the fault is healed, nor one in another region', () => {
    // Prepare
    const chaos = new Chaos();
    const heal = chaos.add({ kind: 'crash', function: 'shipper', p: 1, after: 0 });
    const killed: string[] = [];
    chaos.invocationStarted({ fn: fn('s', 'shipper'), requestId: 'r1', coldStart: false, crash: () => killed.push('r1') });
    // Act
    heal();
    const decision = chaos.onRequest(call('DynamoDB_20120810.UpdateItem', 'us-west-1', 'fn.s.us-west-1'));
    const other = new Chaos(parseChaosSpec('crash region=eu-west-2 after=0'));
    other.invocationStarted({ fn: fn('s', 'shipper'), requestId: 'r2', coldStart: false, crash: () => killed.push('r2') });
    const otherDecision = other.onRequest(call('DynamoDB_20120810.UpdateItem', 'us-west-1', 'fn.s.us-west-1'));
    // Assess
    expect(decision).toBeUndefined();
    expect(otherDecision).toBeUndefined();
    expect(killed).toEqual([]);
  });
});
