/** Message validation beyond the shape: key value types, item size, write time; through validateChange as the applier calls it. */
import { describe, expect, it } from 'vitest';
import { validateChange, type Change } from '../../src/core/change.ts';
import { itemBytes, MAX_ITEM_BYTES } from '../../src/core/change-limits.ts';

const base: Change = {
  table: 'orders',
  op: 'put',
  key: { pk: { S: 'k1' } },
  item: { pk: { S: 'k1' }, data: { S: 'x' } },
  version: '000000000000001.000000.eu-west-1',
  origin: 'eu-west-1',
  writtenAt: 1,
};
const expectFor = { table: 'orders', key: { partitionKey: 'pk' }, sourceRegions: ['eu-west-1'] };

describe('validateChange limits', () => {
  it('accepts an item just at the size limit', () => {
    const data = 'x'.repeat(MAX_ITEM_BYTES - itemBytes({ pk: { S: 'k1' } }) - 'data'.length);
    const change = { ...base, item: { pk: { S: 'k1' }, data: { S: data } } };
    expect(itemBytes(change.item)).toBe(MAX_ITEM_BYTES);
    expect(validateChange(change, expectFor)).toBeUndefined();
  });
  it.each<[string, Partial<Change>, RegExp]>([
    [
      "an item above DynamoDB's limit",
      { item: { pk: { S: 'k1' }, data: { S: 'x'.repeat(MAX_ITEM_BYTES) } } },
      /change.item is \d+ bytes, above DynamoDB's 409600-byte item limit/,
    ],
    [
      'a key value that is not a key type',
      { key: { pk: { BOOL: true } } as never, item: { pk: { BOOL: true } } },
      /change.key.pk must be one non-empty string, number or binary value/,
    ],
    ['an empty key value', { key: { pk: { S: '' } }, item: { pk: { S: '' } } }, /change.key.pk must be one non-empty/],
    ['a key value with two types', { key: { pk: { S: 'a', N: '1' } } as never, item: { pk: { S: 'a', N: '1' } } as never }, /change.key.pk must be one/],
    ['a write time of zero', { writtenAt: 0 }, /change.writtenAt must be a positive epoch-ms time, got 0/],
  ])('rejects %s with the reason', (_name, patch, reason) => {
    expect(validateChange({ ...base, ...patch }, expectFor)).toMatch(reason);
  });
  it('sizes nested values, sets and binaries', () => {
    expect(
      itemBytes({
        m: { M: { a: { N: '12' } } } as never,
        l: { L: [{ BOOL: true }] } as never,
        b: { B: Buffer.from('abc').toString('base64') } as never,
        ss: { SS: ['ab', 'c'] },
      }),
    ).toBe(1 + (3 + 1 + 1 + 2) + 1 + (3 + 1 + 1) + 1 + 3 + 2 + 3);
  });
});
