/**
 * Issue 15: the application's own consumers of a replicated table's stream. The filter patterns
 * regionsync ships for them deliver every application write and drop only regionsync's inserts,
 * removal marks and removals; the in-code predicates are exact.
 */
import type { DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRegionsyncBookkeeping, isReplicatedChange, regionsyncConsumerFilterPatterns } from '../../src/core/consumer-filter.ts';
import { compileFilterCriteria, type FilterReading } from '../../dev/local/event-filter.ts';
import { Cluster, type ScheduleOp } from '../support/cluster.ts';
import { isScheduleOp } from '../support/schedule.ts';

const REGIONS = ['us-east-1', 'eu-west-1'];
const CRITERIA = { Filters: regionsyncConsumerFilterPatterns().map((p) => ({ Pattern: JSON.stringify(p) })) };
const FILTER = compileFilterCriteria(CRITERIA)!;
/** Every reading of `exists` AWS's documentation leaves open (see test/unit/echo-filter.test.ts). */
const READINGS: readonly FilterReading[] = [
  { existsFalseNeedsParent: true },
  { objectsAreNotLeaves: true },
  { existsFalseNeedsParent: true, objectsAreNotLeaves: true },
];
const STRICT_FILTERS = READINGS.map((reading) => compileFilterCriteria(CRITERIA, reading)!);
const key = (k: number) => ({ pk: { S: `k${k}` }, sk: { S: 'x' } });

type Op = { kind: 'put' | 'update' | 'delete'; region: number; key: number; value: number } | ScheduleOp;

describe('issue 15: a stream consumer of the application', () => {
  it("five patterns at most (Lambda's default limit per mapping)", () => {
    expect(regionsyncConsumerFilterPatterns().length).toBeLessThanOrEqual(5);
  });

  it("delivers every application write, drops only regionsync's own records, and the predicates tell them apart exactly", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constantFrom('put' as const, 'update' as const, 'delete' as const), region: fc.nat(1), key: fc.nat(2), value: fc.nat(99) }),
            fc.record({ kind: fc.constant('ship' as const), region: fc.nat(1), max: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(20), duplicate: fc.boolean() }),
            fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 20 }) }),
          ),
          { maxLength: 50 },
        ),
        async (ops) => {
          // Prepare
          const cluster = new Cluster(REGIONS);
          const appRecords = new Set<DynamoDBRecord>();
          // Act: application writes (their stream records noted as they happen), replication in between
          for (const [n, op] of (ops as Op[]).entries()) {
            if (isScheduleOp(op)) {
              await cluster.step(op);
              continue;
            }
            const table = cluster.table(REGIONS[op.region]!);
            const before = table.stream.length;
            if (op.kind === 'put') table.appPut({ ...key(op.key), a: { N: String(n) } });
            else if (op.kind === 'update') table.appUpdate(key(op.key), { b: { N: String(n) } });
            else table.delete(key(op.key));
            for (const r of table.stream.slice(before)) appRecords.add(r);
          }
          await cluster.drain();
          // Assess
          for (const region of REGIONS) {
            for (const record of cluster.table(region).stream) {
              const app = appRecords.has(record);
              if (app) {
                expect(FILTER(record)).toBe(true);
                // Under any other reading of exists, an application write is still delivered.
                expect(STRICT_FILTERS.map((f) => f(record))).toEqual(STRICT_FILTERS.map(() => true));
                expect(isRegionsyncBookkeeping(record)).toBe(false);
                expect(isReplicatedChange(record)).toBe(false);
              } else if (!FILTER(record)) {
                // Dropped: only the applier's inserts, removal marks and regionsync's removals.
                const writer = (record.eventName === 'REMOVE' ? record.dynamodb?.OldImage : record.dynamodb?.NewImage)?._rs_w?.S;
                expect(['repl', 'repl2', 'rm']).toContain(writer);
              }
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a stamp and a removal mark are bookkeeping; an applier write is a replicated change', async () => {
    // Prepare
    const cluster = new Cluster(REGIONS);
    // Act
    cluster.table(REGIONS[0]!).appPut({ ...key(1), a: { N: '1' } });
    await cluster.drain();
    cluster.table(REGIONS[1]!).delete(key(1));
    await cluster.drain();
    // Assess
    const us = cluster.table(REGIONS[0]!).stream;
    const stamp = us.find((r) => r.eventName === 'MODIFY' && r.dynamodb?.NewImage?._rs_w?.S === 'stamp')!;
    const mark = us.find((r) => r.eventName === 'MODIFY' && r.dynamodb?.NewImage?._rs_w?.S === 'rm')!;
    const removal = us.find((r) => r.eventName === 'REMOVE')!;
    expect(isRegionsyncBookkeeping(stamp)).toBe(true);
    expect(isRegionsyncBookkeeping(mark)).toBe(true);
    expect(FILTER(mark)).toBe(false);
    expect(FILTER(removal)).toBe(false);
    expect(isReplicatedChange(removal)).toBe(true);
    const applied = cluster.table(REGIONS[1]!).stream.find((r) => r.eventName === 'INSERT' && /repl/.test(r.dynamodb?.NewImage?._rs_w?.S ?? ''))!;
    expect(isReplicatedChange(applied)).toBe(true);
    expect(FILTER(applied)).toBe(false);
  });
});
