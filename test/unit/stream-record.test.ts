import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { META } from '../../src/core/contract.ts';
import type { AttributeMap } from '../../src/core/change.ts';
import { withContentHash } from '../../src/core/content-hash.ts';
import { classifyRecord, reconcile } from '../../src/core/stream-record.ts';

const ctx = { logicalTable: 'orders', region: 'us-east-1', key: { partitionKey: 'pk' }, now: 1_000 };
const V_EU = '000000000000500.000000.eu-west-1';
const V_US = '000000000000400.000000.us-east-1';

function record(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', images: { old?: object; new?: object }, extra: Partial<DynamoDBRecord> = {}): DynamoDBRecord {
  return {
    eventName,
    dynamodb: {
      Keys: { pk: { S: 'a' } },
      ApproximateCreationDateTime: 1.5,
      SequenceNumber: '1',
      ...(images.old ? { OldImage: images.old } : {}),
      ...(images.new ? { NewImage: images.new } : {}),
    },
    ...extra,
  } as DynamoDBRecord;
}

describe('classifyRecord', () => {
  it('stamps a plain insert that carries no version', () => {
    const action = classifyRecord(record('INSERT', { new: { pk: { S: 'a' }, x: { N: '1' } } }), ctx);
    expect(action).toEqual({
      kind: 'stamp',
      key: { pk: { S: 'a' } },
      // From when the write happened (the record's creation time), not when the shipper got to it.
      version: { ms: 1500, counter: 0, region: 'us-east-1' },
      floor: undefined,
      expectedVersion: undefined,
      image: { pk: { S: 'a' }, x: { N: '1' } },
      baseVector: {},
      sequenceNumber: '1'.padStart(40, '0'),
      foldMark: '1'.padStart(40, '0'),
      writtenAt: 1500,
    });
  });

  it('stamps a plain update of a replicated item above the replicated version', () => {
    const image = { pk: { S: 'a' }, [META.version]: { S: V_EU }, [META.writer]: { S: 'repl' }, [META.origin]: { S: 'eu-west-1' } };
    const action = classifyRecord(record('MODIFY', { old: image, new: { ...image, x: { N: '2' } } }), ctx);
    expect(action).toMatchObject({ kind: 'stamp', expectedVersion: V_EU, floor: { ms: 500, counter: 0, region: 'eu-west-1' } });
  });

  it('takes the floor from the old image when a whole-item put dropped the metadata', () => {
    const old = { pk: { S: 'a' }, [META.version]: { S: V_EU }, [META.writer]: { S: 'repl' } };
    const action = classifyRecord(record('MODIFY', { old, new: { pk: { S: 'a' }, x: { N: '3' } } }), ctx);
    expect(action).toMatchObject({ kind: 'stamp', expectedVersion: undefined, floor: { ms: 500, region: 'eu-west-1' } });
  });

  it('never re-ships a change the applier wrote (no replication loop)', () => {
    const action = classifyRecord(
      record('INSERT', { new: withContentHash({ pk: { S: 'a' }, [META.version]: { S: V_EU }, [META.writer]: { S: 'repl' } }) }),
      ctx,
    );
    expect(action).toEqual({ kind: 'skip', reason: 'replicated' });
  });

  it('skips the echo of its own stamp (it was shipped when stamped)', () => {
    const old = { pk: { S: 'a' } };
    const action = classifyRecord(record('MODIFY', { old, new: { ...old, [META.version]: { S: V_US }, [META.writer]: { S: 'stamp' } } }), ctx);
    expect(action).toEqual({ kind: 'skip', reason: 'stamp-echo' });
  });

  it('finding 3: stamps an application write that put back stale copies of the metadata it read', () => {
    // Prepare: read at V_US (stamped here); a change at V_EU landed; the application puts back what it read, changed
    const read = withContentHash({
      pk: { S: 'a' },
      x: { N: '1' },
      [META.version]: { S: V_US },
      [META.writer]: { S: 'stamp' },
      [META.origin]: { S: 'us-east-1' },
    });
    const landed = withContentHash({
      pk: { S: 'a' },
      x: { N: '2' },
      [META.version]: { S: V_EU },
      [META.writer]: { S: 'repl' },
      [META.origin]: { S: 'eu-west-1' },
    });
    // Act
    const action = classifyRecord(record('MODIFY', { old: landed, new: { ...read, x: { N: '3' } } }), ctx);
    // Assess: its version is above the one it replaced
    expect(action).toMatchObject({ kind: 'stamp', version: { ms: 1500, counter: 0, region: 'us-east-1' }, floor: { ms: 500, region: 'eu-west-1' } });
  });

  it('ships a write the client helper versioned in this region as is', () => {
    const item = withContentHash({
      pk: { S: 'a' },
      x: { N: '1' },
      [META.version]: { S: V_US },
      [META.writer]: { S: 'app' },
      [META.origin]: { S: 'us-east-1' },
    });
    const action = classifyRecord(record('INSERT', { new: item }), ctx);
    expect(action).toEqual({
      kind: 'ship',
      change: {
        table: 'orders',
        op: 'put',
        key: { pk: { S: 'a' } },
        item: { pk: { S: 'a' }, x: { N: '1' } },
        version: V_US,
        origin: 'us-east-1',
        writtenAt: 1500,
      },
    });
  });

  it('turns a user delete into a tombstone above the deleted version', () => {
    const action = classifyRecord(record('REMOVE', { old: { pk: { S: 'a' }, [META.version]: { S: V_EU } } }), ctx);
    expect(action).toMatchObject({ kind: 'tombstone', floor: { ms: 500, region: 'eu-west-1' } });
  });

  it('does not replicate TTL expiry (each region expires its own copy)', () => {
    const action = classifyRecord(
      record('REMOVE', { old: { pk: { S: 'a' } } }, { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } }),
      ctx,
    );
    expect(action).toEqual({ kind: 'skip', reason: 'ttl-expiry' });
  });
});

describe('classifyRecord: the clock bound on client-helper writes (finding 10)', () => {
  const BOUND = 5_000;
  const bounded = { ...ctx, maxClockOffsetMs: BOUND };
  const version = (ms: number, region = 'us-east-1') => `${String(ms).padStart(15, '0')}.000000.${region}`;
  // ApproximateCreationDateTime 2 s: a whole second, so the write happened in [2000, 3000).
  const at2s = (eventName: 'INSERT' | 'MODIFY', images: { old?: object; new?: object }) =>
    ({ ...record(eventName, images), dynamodb: { ...record(eventName, images).dynamodb, ApproximateCreationDateTime: 2 } }) as DynamoDBRecord;
  // As the client helper writes it: with the hash of its content.
  const appItem = (ms: number, extra: object = {}) =>
    withContentHash({
      pk: { S: 'a' },
      x: { N: '1' },
      [META.version]: { S: version(ms) },
      [META.writer]: { S: 'app' },
      [META.origin]: { S: 'us-east-1' },
      ...extra,
    });

  it('ships a client write up to the bound plus the stream time`s second of rounding ahead of DynamoDB`s clock as is', () => {
    // Prepare
    const rec = at2s('INSERT', { new: appItem(3_000 + BOUND) });
    // Act
    const action = classifyRecord(rec, bounded);
    // Assess
    expect(action.kind).toBe('ship');
  });

  it('restamps a client write from a host a day ahead above the version it replaced, conditional on its own version', () => {
    // Prepare
    const old = { pk: { S: 'a' }, [META.version]: { S: V_EU }, [META.writer]: { S: 'repl' }, [META.origin]: { S: 'eu-west-1' } };
    const rec = at2s('MODIFY', { old, new: appItem(2_000 + 86_400_000) });
    // Act
    const action = classifyRecord(rec, bounded);
    // Assess
    expect(action).toMatchObject({
      kind: 'stamp',
      floor: { ms: 500, counter: 0, region: 'eu-west-1' },
      expectedVersion: version(2_000 + 86_400_000),
      aheadOfClockMs: 86_400_000 - 1_000,
    });
  });

  it('holds a replaced version that is itself from the skewed host to the bound (it never shipped)', () => {
    // Prepare: two writes from the skewed host before the shipper restamped the first
    const rec = at2s('MODIFY', { old: appItem(2_000 + 86_000_000), new: appItem(2_000 + 86_400_000, { x: { N: '2' } }) });
    // Act
    const action = classifyRecord(rec, bounded);
    // Assess
    expect(action).toMatchObject({ kind: 'stamp', floor: { ms: 2_000 + BOUND, counter: 0, region: 'us-east-1' } });
  });

  it('restamps a client delete from a host ahead as a tombstone, conditional on its own version', () => {
    // Prepare
    const tombstone = withContentHash({
      pk: { S: 'a' },
      [META.version]: { S: version(2_000 + 86_400_000) },
      [META.writer]: { S: 'app' },
      [META.origin]: { S: 'us-east-1' },
      [META.deleted]: { BOOL: true },
    });
    const rec = at2s('MODIFY', { old: appItem(1_000), new: tombstone });
    // Act
    const action = classifyRecord(rec, bounded);
    // Assess
    expect(action).toMatchObject({
      kind: 'tombstone',
      floor: { ms: 1_000, region: 'us-east-1' },
      guard: { version: version(2_000 + 86_400_000), contentHash: tombstone[META.contentHash]!.S },
    });
  });

  it('ships as is without a bound (merging strategies: the version lives inside their state)', () => {
    // Prepare
    const rec = at2s('INSERT', { new: appItem(2_000 + 86_400_000) });
    // Act
    const action = classifyRecord(rec, ctx);
    // Assess
    expect(action.kind).toBe('ship');
  });
});

describe('reconcile (after a stamp found the item changed)', () => {
  const version = { ms: 700, counter: 0, region: 'us-east-1' };
  const image = { pk: { S: 'a' }, x: { S: 'written in us-east-1' } };
  /** An item as regionsync writes it: with its version, writer, origin and content hash. */
  const sealed = (content: AttributeMap, v: string, writer: string, origin: string, extra: AttributeMap = {}) =>
    withContentHash({ ...content, [META.version]: { S: v }, [META.writer]: { S: writer }, [META.origin]: { S: origin }, ...extra });

  it('does nothing when the item is gone (its REMOVE record follows)', () => {
    expect(reconcile(undefined, image, version, 'us-east-1')).toEqual({ kind: 'none' });
  });

  it("stamps the write's own content when the item holds it without a version", () => {
    expect(reconcile({ ...image }, image, version, 'us-east-1')).toEqual({ kind: 'restamp', version, expected: {} });
  });

  it('re-ships its own stamp at or above the write`s version (a retried batch loses nothing)', () => {
    const current = sealed(image, '000000000000700.000000.us-east-1', 'stamp', 'us-east-1');
    expect(reconcile(current, image, version, 'us-east-1')).toEqual({ kind: 'ship', current });
  });

  it('leaves a newer change from another region in place (the plain write lost the conflict)', () => {
    const current = sealed({ pk: { S: 'a' }, x: { S: 'later, from eu-west-1' } }, '000000000000900.000000.eu-west-1', 'repl', 'eu-west-1');
    expect(reconcile(current, image, version, 'us-east-1')).toEqual({ kind: 'none' });
  });

  it('finding 1: puts the write back over an older replicated change that overwrote it before its stamp', () => {
    const stale = '000000000000300.000000.eu-west-1';
    const current = sealed({ pk: { S: 'a' }, x: { S: 'earlier, from eu-west-1' } }, stale, 'repl', 'eu-west-1');
    expect(reconcile(current, image, version, 'us-east-1')).toEqual({
      kind: 'restore',
      version,
      expected: { version: stale, contentHash: current[META.contentHash]!.S },
    });
  });

  it('leaves a later application write on top of that change alone (its own record follows)', () => {
    const stale = '000000000000300.000000.eu-west-1';
    const applied = sealed({ pk: { S: 'a' }, x: { S: 'earlier, from eu-west-1' } }, stale, 'repl', 'eu-west-1');
    const current = { ...applied, y: { S: 'a later UpdateItem in us-east-1' } };
    expect(reconcile(current, image, version, 'us-east-1')).toEqual({ kind: 'none' });
  });

  it('never reuses a version: a write at or below the stored version is put back above it', () => {
    const current = sealed({ pk: { S: 'a' }, x: { S: 'same millisecond, from eu-west-1' } }, '000000000000700.000000.ap-south-1', 'repl', 'ap-south-1');
    // ap-south-1 < us-east-1: the write's own version is already above it.
    expect(reconcile(current, image, version, 'us-east-1')).toMatchObject({ kind: 'restore', version });
    const ahead = sealed({ pk: { S: 'a' }, x: { S: 'x' } }, '000000000000700.000003.us-east-1', 'stamp', 'us-east-1', { [META.deleted]: { BOOL: true } });
    expect(reconcile(ahead, undefined, version, 'us-east-1')).toEqual({ kind: 'ship', current: ahead });
  });

  it('puts a delete back over an older replicated change that recreated the item', () => {
    const current = sealed({ pk: { S: 'a' }, x: { S: 'earlier' } }, '000000000000300.000000.eu-west-1', 'repl', 'eu-west-1');
    expect(reconcile(current, undefined, version, 'us-east-1')).toMatchObject({ kind: 'restore', version });
  });
});
