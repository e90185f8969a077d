/**
 * What the functions write to their logs: every line of an invocation carries the Lambda context
 * (request id, function name, cold start), and an invocation that records no metric writes no
 * metric document and no "No application metrics to publish" warning.
 */
import type { Context, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../src/core/contract.ts';
import { settingsFor } from '../support/cluster.ts';

const CONTEXT: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'rs-unit-applier',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:rs-unit-applier',
  memoryLimitInMB: '256',
  awsRequestId: 'req-0001',
  logGroupName: '/aws/lambda/rs-unit-applier',
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

let lines: string[];

beforeEach(() => {
  lines = [];
  // Powertools writes JSON lines to stdout/stderr; capture them.
  const capture = (chunk: unknown) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  vi.stubEnv(ENV.settings, JSON.stringify(settingsFor('eu-west-1', ['us-east-1', 'eu-west-1'])));
  vi.stubEnv(ENV.metricsNamespace, 'RegionSync');
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('POWERTOOLS_DEV', '');
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('the applier handler', () => {
  it('writes no metric document and no empty-metrics warning when an invocation records nothing', async () => {
    // Prepare
    const { createApplierHandler } = await import('../../src/functions/applier/create-handler.ts');
    const handler = createApplierHandler();

    // Act
    const result = await handler({ Records: [] } satisfies SQSEvent, CONTEXT);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(lines.filter((l) => l.includes('No application metrics'))).toEqual([]);
    expect(lines.filter((l) => l.includes('_aws'))).toEqual([]);
  });

  it('logs with the Lambda context and the message id of the message it could not decode', async () => {
    // Prepare
    const { createApplierHandler } = await import('../../src/functions/applier/create-handler.ts');
    const handler = createApplierHandler();
    const event = {
      Records: [
        {
          messageId: 'msg-42',
          body: 'not a change message',
          receiptHandle: 'r',
          attributes: {},
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:eu-west-1:111111111111:q',
          awsRegion: 'eu-west-1',
        },
      ],
    } as unknown as SQSEvent;

    // Act (the dead-letter send fails here: there is no queue; the message is then retried)
    await handler(event, CONTEXT);

    // Assess
    const logged = lines
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      })
      .filter((l) => l?.message);
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged) {
      expect(line).toMatchObject({ function_request_id: 'req-0001', function_name: 'rs-unit-applier' });
    }
    expect(logged.some((l) => l!.messageId === 'msg-42')).toBe(true);
  });
});

describe('the traced entries (tracing: true)', () => {
  it.each(['shipper', 'applier'] as const)('the %s loads with Powertools Tracer and handles an empty batch', async (fn) => {
    // Prepare
    const { handler } = (await import(`../../lambda/${fn}-traced.ts`)) as { handler: (e: unknown, c?: Context) => Promise<unknown> };

    // Act
    const result = await handler({ Records: [] }, CONTEXT);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
  });
});
