/**
 * Properties of selective replication: for random items, predicates and projections, nothing
 * excluded or filtered ever appears in what is sent to a target, and predicate logic holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttributeMap, Change } from '../../src/core/change.ts';
import { matches, selectFor, type Predicate, type SelectionSpec } from '../../src/core/selection.ts';

const KEY = { partitionKey: 'pk' };
const NAMES = ['a', 'b', 'c', 'd'];
const value = fc.oneof(
  fc.constantFrom('x', 'y', 'xy').map((S) => ({ S })),
  fc.integer({ min: -3, max: 3 }).map((n) => ({ N: String(n) })),
  fc.boolean().map((BOOL) => ({ BOOL })),
);
const itemArb = fc.dictionary(fc.constantFrom(...NAMES), value).map((attrs): AttributeMap => ({ pk: { S: 'k' }, ...attrs }));
const leaf: fc.Arbitrary<Predicate> = fc.constantFrom(...NAMES).chain((attribute) =>
  fc.oneof(
    fc.constantFrom<string | number | boolean>('x', 'y', 1, 0, true).map((equals) => ({ attribute, equals })),
    fc.array(fc.constantFrom<string | number>('x', 2, -1), { minLength: 1, maxLength: 3 }).map((inList) => ({ attribute, in: inList })),
    fc.constant({ attribute, exists: true as const }),
    fc.constant({ attribute, notExists: true as const }),
    fc.constantFrom('x', '').map((beginsWith) => ({ attribute, beginsWith })),
    fc.integer({ min: -3, max: 3 }).map((lt) => ({ attribute, lt })),
    fc.integer({ min: -3, max: 3 }).map((gt) => ({ attribute, gt })),
  ),
);
const predicate: fc.Arbitrary<Predicate> = fc.letrec<{ p: Predicate }>((tie) => ({
  p: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('p'), { minLength: 1, maxLength: 3 }).map((and) => ({ and })),
    fc.array(tie('p'), { minLength: 1, maxLength: 3 }).map((or) => ({ or })),
    tie('p').map((not) => ({ not })),
  ),
})).p;
const put = (item: AttributeMap): Change => ({
  table: 't',
  op: 'put',
  key: { pk: item.pk! },
  item,
  version: '000001700000000.000000.eu-west-1',
  origin: 'eu-west-1',
  writtenAt: 1,
});

describe('selection properties', () => {
  it('not, and, or behave as boolean logic', () => {
    fc.assert(
      fc.property(predicate, predicate, itemArb, (p, q, item) => {
        expect(matches({ not: { not: p } }, item)).toBe(matches(p, item));
        expect(matches({ and: [p, q] }, item)).toBe(matches(p, item) && matches(q, item));
        expect(matches({ not: { or: [p, q] } }, item)).toBe(matches({ and: [{ not: p }, { not: q }] }, item));
      }),
    );
  });

  it('a target receives a put only for a matching item, and never an excluded attribute', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(itemArb, fc.option(itemArb, { nil: undefined })), { maxLength: 8 }),
        fc.option(predicate, { nil: undefined }),
        fc.subarray(NAMES),
        (writes, filter, exclude) => {
          const spec: SelectionSpec = { to: { T: { ...(filter ? { filter } : {}), exclude } } };
          // Distinct keys, so each sent change can be traced to its write.
          const items = writes.map(([item], i) => ({ ...item, pk: { S: `k${i}` } }));
          const sent = selectFor(
            writes.map(([, old], i) => ({ change: put(items[i]!), ...(old ? { old } : {}) })),
            spec,
            'T',
            KEY,
          );
          for (const s of sent) {
            for (const name of exclude) expect(s.item?.[name]).toBeUndefined();
            // The filter sees the source item (it may test an attribute the target never receives).
            const source = items[Number(s.key.pk!.S!.slice(1))]!;
            if (s.op === 'put') expect(filter ? matches(filter, source) : true).toBe(true);
          }
          // Every write is either sent (put when it matches, delete when only its old state matched) or not at all.
          const expected = writes.filter(([item, old]) => !filter || matches(filter, item) || (old !== undefined && matches(filter, old))).length;
          expect(sent).toHaveLength(expected);
        },
      ),
    );
  });
});
