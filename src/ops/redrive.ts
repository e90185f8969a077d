/**
 * Moves change messages from a region's dead-letter queue back to its inbound queue, so its
 * applier tries them again (after the cause is fixed: a region added to the config, a bug fixed,
 * a throttle over). Self-contained: `regionsync replay --dlq` uses it today; `regionsync redrive`
 * can share it.
 *
 * A message is deleted from the dead-letter queue only after SendMessageBatch accepted it; if the
 * run dies in between, the message is in both queues, and applying it twice is a no-op.
 */
import { DeleteMessageBatchCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { decodeMessage, keyToString } from '../core/change.ts';
import { deadLetterQueueName, inboundQueueName } from '../core/contract.ts';
import { type Target, sqs as sqsOf } from './aws.ts';
import { queueDepth } from './queue-depth.ts';

/** What {@link redriveDeadLetters} moves: the table's queues in one region, and how many messages. */
export interface RedriveOptions {
  readonly target: Target;
  readonly appName: string;
  /** Logical table name. */
  readonly table: string;
  readonly region: string;
  /** Account that owns the queues (another account's region). @default the account of the region's credentials */
  readonly account?: string;
  /** Stop after moving this many messages. @default all */
  readonly max?: number;
  /** Seconds a received message stays hidden from other readers while it is moved. @default 60 */
  readonly visibilityTimeoutSeconds?: number;
  /** Consecutive empty receives after which the queue counts as drained. @default 2 */
  readonly emptyReceives?: number;
}

/** One message moved back, as the report lists it. */
export interface RedrivenMessage {
  readonly messageId: string;
  /** Why it was dead-lettered: the applier's reason attribute, or "max receives" when SQS moved it. */
  readonly reason: string;
  /** Changes in the message. @default none: its body is not a change message */
  readonly changes?: number;
  /** Up to 5 keys of its changes, for the report. @default none: its body is not a change message */
  readonly keys?: readonly string[];
}

/**
 * The result of {@link redriveDeadLetters}: the queues, how many messages and changes moved, and why
 * they had been dead-lettered.
 */
export interface RedriveReport {
  readonly region: string;
  readonly deadLetterQueue: string;
  readonly inboundQueue: string;
  readonly moved: number;
  readonly changes: number;
  readonly byReason: Readonly<Record<string, number>>;
  readonly messages: readonly RedrivenMessage[];
}

/**
 * Moves a table's dead-lettered messages in one region back to its inbound queue: `max` of them, or as
 * many as were there when the run started; each is deleted from the dead-letter queue once sent.
 */
export async function redriveDeadLetters(o: RedriveOptions): Promise<RedriveReport> {
  const client = sqsOf(o.target, o.region);
  const owner = o.account ? { QueueOwnerAWSAccountId: o.account } : {};
  const url = async (name: string) => {
    const out = await client.send(new GetQueueUrlCommand({ QueueName: name, ...owner }));
    if (!out.QueueUrl) throw new Error(`GetQueueUrl for ${name} in ${o.region} returned no URL`);
    return out.QueueUrl;
  };
  const dlq = await url(deadLetterQueueName(o.appName, o.table));
  const inbound = await url(inboundQueueName(o.appName, o.table));
  // Without --max, only what is there now: a message that fails again (still bad) comes back to
  // the dead-letter queue within seconds, and must not be moved round and round.
  const max = o.max ?? (await queueDepth(client, dlq));
  const moved: RedrivenMessage[] = [];
  const byReason: Record<string, number> = {};
  let changes = 0;
  let empty = 0;
  while (moved.length < max && empty < (o.emptyReceives ?? 2)) {
    const out = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq,
        MaxNumberOfMessages: Math.min(10, max - moved.length),
        VisibilityTimeout: o.visibilityTimeoutSeconds ?? 60,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    const batch = out.Messages ?? [];
    if (batch.length === 0) {
      empty++;
      continue;
    }
    empty = 0;
    const sent = await client.send(
      new SendMessageBatchCommand({ QueueUrl: inbound, Entries: batch.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' })) }),
    );
    const ok = new Set((sent.Successful ?? []).map((s) => Number(s.Id)));
    const done = batch.filter((_, i) => ok.has(i));
    if (done.length > 0) {
      const del = await client.send(
        new DeleteMessageBatchCommand({ QueueUrl: dlq, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
      if (del.Failed && del.Failed.length > 0)
        throw new Error(
          `moved ${done.length} messages but could not delete ${del.Failed.length} from ${dlq}: ${del.Failed[0]?.Message} (they will be applied twice, which is harmless)`,
        );
    }
    for (const m of done) {
      const info = describe(m);
      moved.push(info);
      changes += info.changes ?? 0;
      byReason[info.reason] = (byReason[info.reason] ?? 0) + 1;
    }
    if (sent.Failed && sent.Failed.length > 0)
      throw new Error(
        `SendMessageBatch to ${inbound} failed for ${sent.Failed.length} messages: ${sent.Failed[0]?.Code} ${sent.Failed[0]?.Message} (they stay in the dead-letter queue)`,
      );
  }
  return { region: o.region, deadLetterQueue: dlq, inboundQueue: inbound, moved: moved.length, changes, byReason, messages: moved };
}

function describe(m: Message): RedrivenMessage {
  const reason = m.MessageAttributes?.reason?.StringValue ?? 'max receives';
  try {
    const decoded = decodeMessage(m.Body ?? '');
    return { messageId: m.MessageId ?? '?', reason, changes: decoded.changes.length, keys: decoded.changes.slice(0, 5).map((c) => keyToString(c.key ?? {})) };
  } catch {
    return { messageId: m.MessageId ?? '?', reason };
  }
}
