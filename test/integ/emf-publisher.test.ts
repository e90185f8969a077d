/**
 * The local runtime's EMF publisher on moto: a flush larger than the SDK's 10 KB compression
 * threshold still lands (moto cannot read gzip bodies, so the publisher sends them plain).
 */
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { describe, expect, inject, it } from 'vitest';
import { EMULATOR_CREDENTIALS } from '../../src/ops/aws.ts';
import { EmfPublisher } from '../../dev/local/emf-publisher.ts';

const REGION = 'me-central-1'; // no other integration file uses it

describe('EmfPublisher on moto', () => {
  it('publishes a batch of data points larger than 10 KB in one call', async () => {
    // Prepare
    const endpoint = inject('endpoint');
    const publisher = new EmfPublisher({ endpoint, flushIntervalMs: 60_000, maxBatch: 10_000 });
    for (let i = 0; i < 300; i++) {
      publisher.put(REGION, {
        namespace: 'rsemf',
        name: `ReplicationLatency${i}`,
        dimensions: { Table: 'emf_items_with_a_long_name', SourceRegion: 'ap-southeast-4' },
        values: [i],
        unit: 'Milliseconds',
      });
    }
    // Act
    await publisher.stop();
    // Assess
    expect(publisher.stats).toMatchObject({ calls: 1, failures: 0, datums: 300 });
    const cw = new CloudWatchClient({ region: REGION, endpoint, credentials: EMULATOR_CREDENTIALS });
    const names = new Set<string>();
    let NextToken: string | undefined;
    do {
      const page = await cw.send(new ListMetricsCommand({ Namespace: 'rsemf', NextToken }));
      for (const m of page.Metrics ?? []) names.add(m.MetricName!);
      NextToken = page.NextToken;
    } while (NextToken);
    expect(names.size).toBe(300);
  });
});
