import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** A queue's messages: waiting (visible) and received but not deleted yet (in flight). */
export interface QueueCounts {
  readonly visible: number;
  readonly inFlight: number;
}

/** The one read of a queue's approximate counts (status, the local metrics, the tests). */
export async function queueCounts(client: SQSClient, url: string): Promise<QueueCounts> {
  const out = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0), inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/** Messages in a queue, waiting or in flight (received, not yet deleted): what is still to be done. */
export async function queueDepth(client: SQSClient, url: string): Promise<number> {
  const { visible, inFlight } = await queueCounts(client, url);
  return visible + inFlight;
}
