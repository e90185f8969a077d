import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { META } from '../../lambda/core/contract.ts';
import { classifyRecord } from '../../lambda/core/stream-record.ts';

const ctx = { logicalTable: 'orders', region: 'us-east-1', key: { partitionKey: 'pk' }, now: 1_000 };
const V_EU = '000000000000500.000000.eu-west-1';
const V_US = '000000000000400.000000.us-east-1';

function record(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', images: { old?: object; new?: object }, extra: Partial<DynamoDBRecord> = {}): DynamoDBRecord {
  return {
    eventName,
    dynamodb: { Keys: { pk: { S: 'a' } }, ApproximateCreationDateTime: 1.5, SequenceNumber: '1', ...(images.old ? { OldImage: images.old } : {}), ...(images.new ? { NewImage: images.new } : {}) },
    ...extra,
  } as DynamoDBRecord;
}

describe('classifyRecord', () => {
  it('stamps a plain insert that carries no version', () => {
    const action = classifyRecord(record('INSERT', { new: { pk: { S: 'a' }, x: { N: '1' } } }), ctx);
    expect(action).toEqual({ kind: 'stamp', key: { pk: { S: 'a' } }, floor: undefined, expectedVersion: undefined, writtenAt: 1500 });
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
    const action = classifyRecord(record('INSERT', { new: { pk: { S: 'a' }, [META.version]: { S: V_EU }, [META.writer]: { S: 'repl' } } }), ctx);
    expect(action).toEqual({ kind: 'skip', reason: 'replicated' });
  });

  it('skips the echo of its own stamp (it was shipped when stamped)', () => {
    const old = { pk: { S: 'a' } };
    const action = classifyRecord(record('MODIFY', { old, new: { ...old, [META.version]: { S: V_US }, [META.writer]: { S: 'stamp' } } }), ctx);
    expect(action).toEqual({ kind: 'skip', reason: 'stamp-echo' });
  });

  it('ships a write the client helper versioned in this region as is', () => {
    const item = { pk: { S: 'a' }, x: { N: '1' }, [META.version]: { S: V_US }, [META.writer]: { S: 'app' }, [META.origin]: { S: 'us-east-1' } };
    const action = classifyRecord(record('INSERT', { new: item }), ctx);
    expect(action).toEqual({ kind: 'ship', change: { table: 'orders', op: 'put', key: { pk: { S: 'a' } }, item: { pk: { S: 'a' }, x: { N: '1' } }, version: V_US, origin: 'us-east-1', writtenAt: 1500 } });
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
