/**
 * Batching windows in the templates: off by default (invoke as soon as records are there), and
 * when a table sets them, on the shipper's stream mapping and the applier's inbound queue mapping
 * (with a larger SQS batch, which a window needs to gather more than 10 messages); a table's lag
 * budget (lagBudgetMs) sets the stream window when none is set by hand.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import { logicalId, regionOf, replicatedTable, resources, synthesizeFixture, type SynthesizedRegion } from '../support/infra-fixture.ts';

const CONFIG: RegionSyncConfig = {
  appName: 'rsbatch',
  regions: ['us-east-1', 'eu-west-1'],
  tables: [
    { name: 'prompt', partitionKey: { name: 'id', type: 'string' } },
    // Windows this long keep lag p99 near 8 s on a quiet table: the lag alarm must be above that.
    {
      name: 'thrifty',
      partitionKey: { name: 'id', type: 'string' },
      batchingWindowSeconds: { stream: 2, queue: 5 },
      monitoring: { lagP99ThresholdMs: 10_000 },
    },
    { name: 'patient', partitionKey: { name: 'id', type: 'string' }, lagBudgetMs: 3000 },
    { name: 'busy', partitionKey: { name: 'id', type: 'string' }, parallelizationFactor: 4 },
  ],
};

let synth: Map<string, SynthesizedRegion>;
beforeAll(() => {
  synth = synthesizeFixture(CONFIG);
});

function mappingsOf(table: string) {
  const r = regionOf(synth, 'us-east-1');
  const rt = replicatedTable(r, table);
  const all = Object.values(resources(r.template)).filter((x) => x.Type === 'AWS::Lambda::EventSourceMapping');
  const of = (fn: string) => all.filter((m) => JSON.stringify(m.Properties?.FunctionName) === JSON.stringify({ Ref: fn }));
  const stream = of(logicalId(rt.shipper)).find((m) => m.Properties?.StartingPosition)!.Properties!;
  const inbound = of(logicalId(rt.applier))[0]!.Properties!;
  return { stream, inbound };
}

describe('batching windows', () => {
  it('are off by default: no window, 10 messages per applier batch', () => {
    // Act
    const { stream, inbound } = mappingsOf('prompt');
    // Assess
    expect(stream).not.toHaveProperty('MaximumBatchingWindowInSeconds');
    expect(inbound).not.toHaveProperty('MaximumBatchingWindowInSeconds');
    expect(inbound.BatchSize).toBe(10);
  });

  it("apply a table's windows to its stream and inbound queue mappings", () => {
    // Act
    const { stream, inbound } = mappingsOf('thrifty');
    // Assess
    expect(stream.MaximumBatchingWindowInSeconds).toBe(2);
    expect(inbound.MaximumBatchingWindowInSeconds).toBe(5);
    expect(inbound.BatchSize).toBe(100);
  });

  it("follow a table's lag budget: the whole seconds beside the unbatched ~1 s go to the stream window", () => {
    // Act
    const { stream, inbound } = mappingsOf('patient');
    // Assess
    expect(stream.MaximumBatchingWindowInSeconds).toBe(2);
    expect(inbound).not.toHaveProperty('MaximumBatchingWindowInSeconds');
    expect(inbound.BatchSize).toBe(10);
  });

  it("set the shipper's stream parallelization to 1 unless the table sets more", () => {
    // Act & Assess
    expect(mappingsOf('prompt').stream.ParallelizationFactor).toBe(1);
    expect(mappingsOf('busy').stream.ParallelizationFactor).toBe(4);
  });

  it("keep the inbound queue's visibility timeout above 6 × the applier's timeout plus the window", () => {
    // Prepare
    const r = regionOf(synth, 'us-east-1');
    const queues = Object.values(resources(r.template)).filter((x) => x.Type === 'AWS::SQS::Queue');
    const inbound = (table: string) => queues.find((q) => q.Properties?.QueueName === `rsbatch-${table}-inbound`)!.Properties!;
    // Act & Assess
    expect(inbound('prompt').VisibilityTimeout).toBe(180);
    expect(inbound('thrifty').VisibilityTimeout).toBe(185);
  });

  it('update the shipper before the applier (the shipper must know every marker the applier writes)', () => {
    // Prepare
    const r = regionOf(synth, 'us-east-1');
    const rt = replicatedTable(r, 'prompt');
    // Act
    const applier = resources(r.template)[logicalId(rt.applier)]! as { DependsOn?: string[] };
    // Assess
    expect(applier.DependsOn).toContain(logicalId(rt.shipper));
  });
});
