import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, groupIntoBatches, packChanges, validateChange, type Change } from '../../src/core/change.ts';
import { fromWire, toWire } from '../../src/core/codec.ts';

const change = (id: number, size = 10): Change => ({
  table: 'orders',
  op: 'put',
  key: { pk: { S: `k${id}` } },
  item: { pk: { S: `k${id}` }, data: { S: 'x'.repeat(size) } },
  version: `000000000000${String(id).padStart(3, '0')}.000000.eu-west-1`,
  origin: 'eu-west-1',
  writtenAt: 1,
});
const expectFor = { table: 'orders', key: { partitionKey: 'pk' }, sourceRegions: ['eu-west-1'] };

describe('packChanges', () => {
  it('packs every change exactly once, in order, into bodies within the limit', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 80 }), fc.integer({ min: 2000, max: 20_000 }), (sizes, limit) => {
        const changes = sizes.map((s, i) => change(i, s));
        const { bodies, oversized } = packChanges(changes, limit);
        for (const b of bodies) expect(Buffer.byteLength(b)).toBeLessThanOrEqual(limit);
        const unpacked = bodies.flatMap((b) => decodeMessage(b).changes);
        expect([...unpacked, ...oversized].map((c) => c.key.pk!.S).sort()).toEqual(changes.map((c) => c.key.pk!.S).sort());
        expect(unpacked.map((c) => c.key.pk!.S)).toEqual(changes.filter((c) => !oversized.includes(c)).map((c) => c.key.pk!.S));
      }),
    );
  });

  it('puts 1000 small changes into two messages, not 1000', () => {
    const { bodies } = packChanges(
      Array.from({ length: 1000 }, (_, i) => change(i, 100)),
      256 * 1024,
    );
    expect(bodies.length).toBeLessThanOrEqual(2);
  });

  it('with a change cap, no message holds more (the operations commands: an applier batch must finish within its timeout)', () => {
    // Prepare
    const changes = Array.from({ length: 1000 }, (_, i) => change(i, 100));
    // Act
    const { bodies } = packChanges(changes, 256 * 1024, 100);
    // Assess
    expect(bodies.map((b) => decodeMessage(b).changes.length)).toEqual(Array(10).fill(100));
  });

  it('returns a change larger than the limit instead of dropping it', () => {
    const big = change(1, 5000);
    expect(packChanges([big], 1000)).toEqual({ bodies: [], oversized: [big] });
  });
});

describe('groupIntoBatches', () => {
  it('never exceeds 10 entries or the byte limit per SendMessageBatch', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 60 }), (sizes) => {
        const bodies = sizes.map((s) => 'x'.repeat(s));
        const batches = groupIntoBatches(bodies, 1000);
        expect(batches.flat()).toEqual(bodies);
        for (const b of batches) {
          expect(b.length).toBeLessThanOrEqual(10);
          expect(b.join('').length).toBeLessThanOrEqual(1000);
        }
      }),
    );
  });
});

describe('decodeMessage and validateChange', () => {
  it('accepts what the shipper encodes', () => {
    const msg = decodeMessage(encodeMessage([change(1)]));
    expect(validateChange(msg.changes[0], expectFor)).toBeUndefined();
  });

  it.each([
    ['not json', /not JSON/],
    ['[1]', /not a JSON object/],
    ['{"schema":99,"changes":[]}', /unknown message schema 99/],
    ['{"schema":1}', /no "changes" array/],
  ])('rejects body %s with a reason', (body, reason) => {
    expect(() => decodeMessage(body)).toThrow(reason);
  });

  it.each<[string, Partial<Change> & Record<string, unknown>, RegExp]>([
    ['another table', { table: 'users' }, /table "users"/],
    ['an unknown op', { op: 'merge' as never }, /change.op/],
    ['a bad version', { version: 'v1' }, /not a regionsync version/],
    ['an origin that is not a source region', { origin: 'ap-south-1', version: '000000000000001.000000.ap-south-1' }, /not a configured source region/],
    ['a version from another region than its origin', { version: '000000000000001.000000.us-east-1' }, /not made in origin/],
    ['a key attribute missing', { key: { id: { S: 'x' } } }, /no "pk" attribute/],
    ['an item whose key differs from the key', { item: { pk: { S: 'other' } } }, /does not match its key/],
  ])('rejects a change with %s, naming the field', (_name, patch, reason) => {
    expect(validateChange({ ...change(1), ...patch }, expectFor)).toMatch(reason);
  });
});

describe('codec', () => {
  it('round-trips binary, sets, lists and maps between the SDK and the wire shape', () => {
    const sdk = {
      b: { B: new Uint8Array([1, 2, 255]) },
      bs: { BS: [new Uint8Array([7])] },
      l: { L: [{ M: { n: { N: '1' }, b: { B: new Uint8Array([9]) } } }] },
      s: { SS: ['a', 'b'] },
    };
    const wire = toWire(sdk);
    expect(wire.b).toEqual({ B: 'AQL/' });
    expect(JSON.parse(JSON.stringify(wire))).toEqual(wire);
    const back = fromWire(wire);
    expect(Buffer.from(back.b!.B!)).toEqual(Buffer.from([1, 2, 255]));
    expect(Buffer.from(back.l!.L![0]!.M!.b!.B!)).toEqual(Buffer.from([9]));
  });
});
