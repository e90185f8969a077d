/** The chaos proxy hook: spec parsing and which calls each fault hits (local/chaos.ts). */
import { describe, expect, it } from 'vitest';
import { describeRequest } from '../../local/aws-proxy.ts';
import { callerRegion, Chaos, parseChaosSpec } from '../../local/chaos.ts';

const call = (target: string, region: string, keyId: string) =>
  describeRequest(1, 'POST', '/', { 'x-amz-target': target, authorization: `AWS4-HMAC-SHA256 Credential=${keyId}/20260101/${region}/x/aws4_request, SignedHeaders=host, Signature=0` }, Buffer.alloc(0));

describe('chaos spec', () => {
  it('parses every fault kind with its defaults', () => {
    // Act
    const faults = parseChaosSpec('cut region=eu-west-2; throttle region=us-west-1 service=dynamodb op=PutItem p=0.2; 5xx status=503; latency from=us-west-1 to=ap-south-2 ms=150');
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
