/**
 * The bench's per-operation cost section (dev/bench/operation-costs.ts): the DynamoDB calls each
 * operation costs on a last-writer-wins table with a tombstone table, as the design implies.
 * Counts, never timings.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { formatOperationCosts, measureOperationCosts, type CallsPerItem, type OperationCostsResult } from '../../dev/bench/operation-costs.ts';
import { LWW_LIVE_ITEM_METADATA, LWW_SINGLE_WRITER_METADATA } from '../../src/core/contract.ts';

const calls = (c: Partial<CallsPerItem>): CallsPerItem => ({
  writes: 0,
  reads: 0,
  put: 0,
  update: 0,
  delete: 0,
  failedConditions: 0,
  tombstoneWrites: 0,
  tombstoneReads: 0,
  ...c,
});

describe('per-operation cost (bench)', () => {
  let r: OperationCostsResult;
  beforeAll(async () => {
    r = await measureOperationCosts({ items: 20 });
  });
  const op = (name: string) => r.operations.find((o) => o.operation === name)!;

  it('measures every operation in a source and two targets', () => {
    expect(r.source).toBe('us-east-1');
    expect(r.targets).toEqual(['eu-west-1', 'ap-southeast-1']);
    expect(r.operations.map((o) => o.operation)).toEqual(['create', 'update', 'delete', 'recreate']);
    for (const o of r.operations) {
      expect(o.items).toBe(20);
      expect(Object.keys(o.byTarget)).toEqual(r.targets);
      // The targets do the same work: the mean is each of them.
      for (const t of r.targets) expect(o.byTarget[t]).toEqual(o.target);
    }
  });

  it('create: the stamp and a tombstone read at the source; a put and a tombstone read (the put found no item) at each target', () => {
    expect(op('create').source).toEqual(calls({ writes: 1, update: 1, reads: 1, tombstoneReads: 1 }));
    expect(op('create').target).toEqual(calls({ writes: 1, put: 1, reads: 1, tombstoneReads: 1 }));
  });

  it('update: the stamp and a tombstone read at the source; one put at each target (it replaced the item: no read)', () => {
    expect(op('update').source).toEqual(calls({ writes: 1, update: 1, reads: 1, tombstoneReads: 1 }));
    expect(op('update').target).toEqual(calls({ writes: 1, put: 1 }));
  });

  it('delete: at the source a tombstone read and put, and a read of the table (nothing landed since); at each target mark, tombstone, delete (the echo of the removal is skipped by its mark, no read)', () => {
    expect(op('delete').source).toEqual(calls({ writes: 1, put: 1, reads: 2, tombstoneWrites: 1, tombstoneReads: 1 }));
    expect(op('delete').target).toEqual(calls({ writes: 3, put: 1, update: 1, delete: 1, tombstoneWrites: 1 }));
  });

  it('re-create after a replicated delete costs what a create does (the kept tombstone is older)', () => {
    expect(op('recreate').source).toEqual(op('create').source);
    expect(op('recreate').target).toEqual(op('create').target);
  });

  it('metadata per strategy: the _rs_* attributes of a live item, and their bytes', () => {
    expect(r.metadata.map((m) => m.strategy)).toEqual(['lww', 'fields', 'merge', 'custom']);
    const lww = r.metadata.find((m) => m.strategy === 'lww')!;
    // A live lww item written in one region carries its version, writer and content hash (docs/architecture.md
    // lists them; a vector only once a second region writes it; tombstones are kept apart): 3 attributes, 53 B.
    expect([...lww.target.attributes].sort()).toEqual([...LWW_SINGLE_WRITER_METADATA].sort());
    expect(lww.target.attributes.every((a) => LWW_LIVE_ITEM_METADATA.includes(a))).toBe(true);
    expect(lww.target.bytes).toBeLessThanOrEqual(54);
    for (const m of r.metadata) {
      expect(m.target.count).toBe(m.target.attributes.length);
      expect(m.target.attributes.every((a) => a.startsWith('_rs_'))).toBe(true);
      expect(m.target.bytes).toBeGreaterThan(0);
      expect(m.appBytes).toBeGreaterThan(0);
    }
    // Merging strategies keep per-attribute state on top of what lww keeps.
    for (const s of ['fields', 'merge'] as const) expect(r.metadata.find((m) => m.strategy === s)!.target.bytes).toBeGreaterThan(lww.target.bytes);
  });

  it('is deterministic', async () => {
    const again = await measureOperationCosts({ items: 20 });
    expect(again.operations).toEqual(r.operations);
    expect(again.metadata).toEqual(r.metadata);
  });

  it('the merging strategies keep updates at one write per target, and say what a delete costs now that their tombstones are kept apart', () => {
    expect(r.mergingOperations.map((m) => m.strategy)).toEqual(['fields', 'merge', 'custom']);
    for (const m of r.mergingOperations) {
      const of = (name: string) => m.operations.find((o) => o.operation === name)!;
      expect(of('update').target.writes).toBe(1);
      // The tombstone row, then the item marked and deleted.
      expect(of('delete').target).toMatchObject({ writes: 3, tombstoneWrites: 1 });
    }
  });

  it('prints a line per operation and region role, and one per strategy', () => {
    const lines = formatOperationCosts(r);
    const merging = r.mergingOperations.reduce((n, m) => n + 1 + 2 * m.operations.length, 0);
    expect(lines).toHaveLength(1 + 2 * r.operations.length + merging + 1 + r.metadata.length);
    expect(lines.some((l) => /^ {2}delete {4}source +1 W +2 R/.test(l))).toBe(true);
  });
});
