/** Reading queues in integration tests without consuming them. */
import { ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { queueCounts } from '../../src/ops/queue-depth.ts';
import { eventually } from './eventually.ts';

/**
 * Reads (without deleting) every message now in a queue, and returns once they are visible again,
 * so that what runs next (a redrive, say) can receive them.
 */
export async function peekAll(sqs: SQSClient, url: string): Promise<Message[]> {
  const seen = new Map<string, Message>();
  for (let empty = 0; empty < 2; ) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 1, MessageAttributeNames: ['All'], WaitTimeSeconds: 0 }),
    );
    const fresh = (out.Messages ?? []).filter((m) => !seen.has(m.MessageId!));
    if (fresh.length === 0) empty++;
    for (const m of fresh) seen.set(m.MessageId!, m);
  }
  await eventually(
    async () => (await queueCounts(sqs, url)).inFlight,
    (n) => n === 0,
  );
  return [...seen.values()];
}
