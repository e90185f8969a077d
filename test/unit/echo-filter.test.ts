import type { DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttributeMap } from '../../src/core/change.ts';
import { META } from '../../src/core/contract.ts';
import { withContentHash } from '../../src/core/content-hash.ts';
import { REPLICATION_WRITERS, replicationWriterFor, shipperStreamFilterPatterns } from '../../src/core/echo-filter.ts';
import { classifyRecord } from '../../src/core/stream-record.ts';
import { compileFilterCriteria, type FilterReading } from '../../dev/local/event-filter.ts';
import { Cluster } from '../support/cluster.ts';

const SHIPPER_FILTERS = { Filters: shipperStreamFilterPatterns({ name: 'pk', type: 'S' }).map((p) => ({ Pattern: JSON.stringify(p) })) };
const delivered = compileFilterCriteria(SHIPPER_FILTERS)!;
/**
 * Every reading of `exists` that AWS's documentation leaves open: whether `exists: false` needs
 * the field's parent to be present, and whether a field holding an object (`_rs_w: { S: ... }`)
 * counts for `exists`. The filter may cost invocations under some, never drop an application write.
 */
const READINGS: readonly FilterReading[] = [
  {},
  { existsFalseNeedsParent: true },
  { objectsAreNotLeaves: true },
  { existsFalseNeedsParent: true, objectsAreNotLeaves: true },
];
const ctx = { logicalTable: 'orders', region: 'us-east-1', key: { partitionKey: 'pk' }, now: 1_000 };
const V1 = '000000000000500.000000.eu-west-1';
const V2 = '000000000000600.000000.eu-west-1';

type Image = AttributeMap;
function record(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', old?: Image, next?: Image): DynamoDBRecord {
  return {
    eventName,
    dynamodb: { Keys: { pk: { S: 'a' } }, SequenceNumber: '1', ...(old ? { OldImage: old } : {}), ...(next ? { NewImage: next } : {}) },
  } as DynamoDBRecord;
}
const replicated = (version: string, writer: string, extra: Image = {}): Image =>
  withContentHash({
    pk: { S: 'a' },
    x: { N: '1' },
    [META.version]: { S: version },
    [META.origin]: { S: 'eu-west-1' },
    [META.writer]: { S: writer },
    ...extra,
  });

describe("the shipper's stream filter (echoes of the applier's writes)", () => {
  it("drops the applier's inserts only", () => {
    // Act & Assess
    expect(delivered(record('INSERT', undefined, replicated(V1, 'repl')))).toBe(false);
    expect(delivered(record('INSERT', undefined, replicated(V1, 'repl2')))).toBe(false);
  });

  it('finding 3: delivers every update, even one that looks like an applier write (a read-modify-write may put back stale metadata)', () => {
    // Prepare: the application read the item at V1 (marker repl); a change at V2 (repl2) landed; it puts back what it read, changed
    const putBack = { ...replicated(V1, 'repl'), x: { N: '9' } };
    // Act & Assess
    expect(delivered(record('MODIFY', replicated(V2, 'repl2'), putBack))).toBe(true);
    expect(delivered(record('MODIFY', replicated(V1, 'repl'), replicated(V2, 'repl2')))).toBe(true);
    expect(classifyRecord(record('MODIFY', replicated(V2, 'repl2'), putBack), ctx)).toMatchObject({ kind: 'stamp' });
  });

  it("delivers an application's update of a replicated item (marker unchanged), plain writes, helper writes, stamps and deletes", () => {
    // Prepare: an application UpdateItem never touches _rs_*, so the marker stays as the applier left it
    const before = replicated(V1, 'repl2');
    const after = { ...before, x: { N: '2' } };
    // Act & Assess
    expect(delivered(record('MODIFY', before, after))).toBe(true);
    expect(delivered(record('INSERT', undefined, { pk: { S: 'a' }, x: { N: '1' } }))).toBe(true);
    expect(delivered(record('MODIFY', replicated(V1, 'repl'), { pk: { S: 'a' }, x: { N: '3' } }))).toBe(true);
    expect(delivered(record('MODIFY', replicated(V1, 'repl'), replicated(V2, 'app')))).toBe(true);
    expect(delivered(record('MODIFY', { pk: { S: 'a' } }, replicated(V2, 'stamp')))).toBe(true);
    expect(delivered(record('REMOVE', replicated(V1, 'repl'), undefined))).toBe(true);
    // A replication marker without a version is not regionsync's: the shipper stamps it
    expect(delivered(record('INSERT', undefined, { pk: { S: 'a' }, [META.writer]: { S: 'repl' } }))).toBe(true);
  });

  it('filters on the dynamodb key only (what DynamoDB event source mappings support)', () => {
    for (const pattern of shipperStreamFilterPatterns({ name: 'pk', type: 'S' })) expect(Object.keys(pattern)).toEqual(['dynamodb']);
  });

  it.each(READINGS)('drops only records the shipper would skip as echoes of replication (any images, any markers), reading exists as %j', (reading) => {
    const delivered = compileFilterCriteria(SHIPPER_FILTERS, reading)!;
    // Each metadata attribute present or not on its own: regionsync writes them together, but an
    // application may keep, drop or copy any of them (UpdateItem, PutItem of a read copy, ...).
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const image = fc
      .record({
        writer: opt(fc.constantFrom('repl', 'repl2', 'app', 'stamp', 'other')),
        version: opt(fc.constantFrom(V1, V2, '000000000000700.000000.us-east-1')),
        origin: opt(fc.constantFrom('eu-west-1', 'us-east-1')),
        // The content hash as regionsync wrote it, or a copy of another content's (a put-back copy), or none.
        hash: opt(fc.constantFrom('right' as const, 'copied' as const)),
        x: fc.nat(2),
      })
      .map(({ writer, version, origin, hash, x }): Image => {
        const item: Image = {
          pk: { S: 'a' },
          x: { N: String(x) },
          ...(version ? { [META.version]: { S: version } } : {}),
          ...(origin ? { [META.origin]: { S: origin } } : {}),
          ...(writer ? { [META.writer]: { S: writer } } : {}),
        };
        if (hash === 'right') return withContentHash(item);
        if (hash === 'copied') return { ...item, [META.contentHash]: withContentHash({ ...item, x: { N: 'other' } })[META.contentHash]! };
        return item;
      });
    fc.assert(
      fc.property(fc.constantFrom('INSERT' as const, 'MODIFY' as const, 'REMOVE' as const), image, image, (event, old, next) => {
        // Prepare
        const r = record(event, event === 'INSERT' ? undefined : old, event === 'REMOVE' ? undefined : next);
        // Act
        const dropped = !delivered(r);
        // Assess: a dropped record is one classifyRecord skips as replicated; nothing else may be
        // dropped, but for the documented exception: an insert that puts back a copy of another
        // content's metadata (a copy of an item deleted since it was read and whose tombstone expired)
        const copiedInsert =
          event === 'INSERT' && next?.[META.contentHash] !== undefined && next[META.contentHash]!.S !== withContentHash(next)[META.contentHash]!.S;
        if (dropped && !copiedInsert) expect(classifyRecord(r, ctx)).toEqual({ kind: 'skip', reason: 'replicated' });
      }),
      { numRuns: 2000 },
    );
  });

  it('picks the marker other than the stored one, and a stable one for a blind write', () => {
    // Act & Assess
    expect(replicationWriterFor(V2, replicated(V1, 'repl'))).toBe('repl2');
    expect(replicationWriterFor(V2, replicated(V1, 'repl2'))).toBe('repl');
    expect(replicationWriterFor(V2)).toBe(replicationWriterFor(V2));
    // Consecutive versions spread over both markers (blind last-writer-wins writes rely on it)
    const versions = Array.from({ length: 200 }, (_, i) => `${String(1_764_000_000_000 + i).padStart(15, '0')}.000000.eu-west-1`);
    const share = versions.filter((v) => replicationWriterFor(v) === REPLICATION_WRITERS[0]).length / versions.length;
    expect(share).toBeGreaterThan(0.3);
    expect(share).toBeLessThan(0.7);
  });

  it('in a running cluster, replicated inserts never reach the target shipper, and an update made there still replicates back', async () => {
    // Prepare
    const cluster = new Cluster(['us-east-1', 'eu-west-1']);
    const us = cluster.table('us-east-1');
    const eu = cluster.table('eu-west-1');
    for (let i = 0; i < 5; i++) us.appPut({ pk: { S: `k${i}` }, sk: { S: 'x' }, a: { N: String(i) } });
    await cluster.drain();
    const filteredAfterInserts = cluster.filtered;
    // Act: the application updates a replicated item in the target region
    eu.appUpdate({ pk: { S: 'k3' }, sk: { S: 'x' } }, { a: { N: '33' } });
    await cluster.drain();
    // Assess
    expect(filteredAfterInserts).toBeGreaterThanOrEqual(5);
    expect(us.get({ pk: { S: 'k3' }, sk: { S: 'x' } })?.a).toEqual({ N: '33' });
    expect(cluster.view('us-east-1')).toEqual(cluster.view('eu-west-1'));
  });
});

describe('local event filter matching (EventBridge pattern syntax)', () => {
  const match = (pattern: unknown, event: unknown) => compileFilterCriteria({ Filters: [{ Pattern: JSON.stringify(pattern) }] })!(event);

  it('matches literals, nested fields, arrays, exists, anything-but, prefix and numeric', () => {
    expect(match({ a: { b: ['x', 'y'] } }, { a: { b: 'y' } })).toBe(true);
    expect(match({ a: { b: ['x'] } }, { a: { b: 'z' } })).toBe(false);
    expect(match({ a: ['x'] }, { a: ['z', 'x'] })).toBe(true);
    expect(match({ a: { b: [{ exists: false }] } }, { a: {} })).toBe(true);
    expect(match({ a: { b: [{ exists: false }] } }, {})).toBe(true);
    expect(match({ a: { b: [{ exists: true }] } }, { a: { b: 0 } })).toBe(true);
    expect(match({ a: [{ 'anything-but': ['x'] }] }, { a: 'y' })).toBe(true);
    expect(match({ a: [{ 'anything-but': ['x'] }] }, { a: 'x' })).toBe(false);
    // anything-but needs the field: a missing one matches only exists:false
    expect(match({ a: [{ 'anything-but': ['x'] }] }, {})).toBe(false);
    expect(match({ a: [{ prefix: 'ab' }] }, { a: 'abc' })).toBe(true);
    expect(match({ a: [{ numeric: ['>', 1, '<=', 5] }] }, { a: '5' })).toBe(true);
    expect(match({ a: [{ numeric: ['>', 1, '<=', 5] }] }, { a: 6 })).toBe(false);
  });

  it('rejects an operator it cannot apply, naming the filter and the operator', () => {
    expect(() => match({ a: [{ wildcard: 'x*' }] }, {})).toThrow(/Filters\[0\]\.a\[0\]: filter operator "wildcard" is not supported/);
    expect(() => compileFilterCriteria({ Filters: [{ Pattern: '{' }] })).toThrow(/Filters\[0\]\.Pattern is not JSON/);
    expect(() => match({ a: [{ exists: 'false' }] }, {})).toThrow(/Filters\[0\]\.a\[0\]: exists takes true or false, got "false"/);
    expect(() => match({ a: [{ prefix: { x: 1 } }] }, {})).toThrow(/prefix takes a string/);
  });

  it('without filters, delivers everything', () => {
    expect(compileFilterCriteria(undefined)).toBeUndefined();
    expect(compileFilterCriteria({ Filters: [] })).toBeUndefined();
  });
});
