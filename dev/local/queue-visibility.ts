/**
 * Shortens the visibility timeout of deployed queues, for fault tests and the soak. A message
 * whose invocation crashed, or whose delete was lost, comes back after its queue's visibility
 * timeout: 3 minutes (inbound) and 6 minutes (backlog) as deployed, longer than a test should
 * wait. A shorter timeout shows the same redelivery sooner; nothing else about the queue changes.
 */
import { GetQueueUrlCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EMULATOR_CREDENTIALS } from '../../src/ops/aws.ts';

export async function setVisibilityTimeout(endpoint: string, region: string, queueNames: readonly string[], seconds: number): Promise<void> {
  const sqs = new SQSClient({ endpoint, region, credentials: EMULATOR_CREDENTIALS, useQueueUrlAsEndpoint: false });
  try {
    for (const name of queueNames) {
      const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      if (!url) throw new Error(`queue ${name} in ${region}: GetQueueUrl returned no URL`);
      await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: String(seconds) } }));
    }
  } finally {
    sqs.destroy();
  }
}
