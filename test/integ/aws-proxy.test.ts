/**
 * The aws-proxy in front of the shared moto: it names every call (service, operation, signing
 * region, caller), its hooks can answer, delay or drop a call, and the bench's counter attributes
 * calls and their write units to the caller's access key.
 */
import { CreateTableCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAwsProxy, type AwsProxy, type ProxyRequest } from '../../dev/local/aws-proxy.ts';
import { RequestStats } from '../../dev/bench/request-stats.ts';

const REGION = 'eu-north-1';
const TABLE = 'proxytest_items';
let proxy: AwsProxy;
const seen: ProxyRequest[] = [];
const stats = new RequestStats();

const dynamo = (keyId: string, maxAttempts = 1) =>
  new DynamoDBClient({ region: REGION, endpoint: proxy.endpoint, credentials: { accessKeyId: keyId, secretAccessKey: 'x' }, maxAttempts });

beforeAll(async () => {
  proxy = await startAwsProxy({ target: inject('endpoint'), hooks: [{ onRequest: (r) => void seen.push(r) }, stats] });
  await dynamo('setup')
    .send(
      new CreateTableCommand({
        TableName: TABLE,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    )
    .catch((e: Error) => {
      if (!/already exists|ResourceInUse/i.test(e.message + e.name)) throw e;
    });
});

afterAll(async () => {
  await proxy?.stop();
});

describe('aws-proxy', () => {
  it('forwards a call and names its service, operation, region and caller', async () => {
    // Act
    await dynamo('fn.applier.eu-north-1').send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'a' }, v: { S: 'x'.repeat(1500) } } }));
    // Assess
    const put = seen.find((r) => r.operation === 'PutItem');
    expect(put).toMatchObject({ service: 'dynamodb', region: REGION, accessKeyId: 'fn.applier.eu-north-1', method: 'POST' });
    const count = stats.snapshot().find((c) => c.caller === 'applier' && c.operation === 'PutItem');
    expect(count).toMatchObject({ callerRegion: REGION, region: REGION, calls: 1, errors: 0 });
    // A 1.5 KB item costs two write units.
    expect(count!.writeUnits).toBe(2);
  });

  it('an injected answer reaches the client instead of the emulator', async () => {
    // Prepare
    const remove = proxy.addHooks({
      onRequest: (r) =>
        r.operation === 'Scan'
          ? {
              respond: {
                status: 400,
                headers: { 'content-type': 'application/x-amz-json-1.0' },
                body: Buffer.from(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'injected' })),
              },
            }
          : undefined,
    });
    // Act
    const result = dynamo('chaos').send(new ScanCommand({ TableName: TABLE }));
    // Assess
    await expect(result).rejects.toMatchObject({ name: 'ThrottlingException', message: 'injected' });
    remove();
    await expect(dynamo('chaos').send(new ScanCommand({ TableName: TABLE }))).resolves.toMatchObject({ Count: 1 });
  });

  it('a dropped call is a network error for the client', async () => {
    // Prepare
    const remove = proxy.addHooks({ onRequest: (r) => (r.accessKeyId === 'dropped' ? { drop: true } : undefined) });
    // Act + Assess
    await expect(dynamo('dropped').send(new ScanCommand({ TableName: TABLE }))).rejects.toThrow(/socket|ECONNRESET|hang up/i);
    remove();
  });

  it('counts SQS sends and receives with the messages and 64 KB chunks they are billed as', async () => {
    // Prepare
    const sqs = new SQSClient({
      region: REGION,
      endpoint: proxy.endpoint,
      credentials: { accessKeyId: 'fn.shipper.eu-north-1', secretAccessKey: 'x' },
      useQueueUrlAsEndpoint: false,
    });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'proxytest-inbound' }));
    const body = 'y'.repeat(100 * 1024);
    // Act
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: '1', MessageBody: body },
          { Id: '2', MessageBody: 'small' },
        ],
      }),
    );
    await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    // Assess
    const send = stats.snapshot().find((c) => c.operation === 'SendMessageBatch')!;
    expect(send).toMatchObject({ service: 'sqs', caller: 'shipper', calls: 1, messages: 2, sqsBilledRequests: 2 });
    const receive = stats.snapshot().find((c) => c.operation === 'ReceiveMessage' || c.operation === 'ReceiveMessage(empty)')!;
    expect(receive.operation).toBe('ReceiveMessage');
    expect(receive.messages).toBeGreaterThanOrEqual(1);
  });
});
