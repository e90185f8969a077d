/**
 * Finding 6: `custom` siblings were stored whole, so one conflict on an item over ~135 KB broke
 * DynamoDB's 400 KB item limit. Siblings are now stored as their differences from the item they
 * sit in; these tests check the size, that the resolver still sees every sibling whole, and that
 * any order or duplication of arrivals ends in the same item.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttributeMap } from '../../src/core/change.ts';
import { itemBytes, MAX_ITEM_BYTES } from '../../src/core/change-limits.ts';
import { META } from '../../src/core/contract.ts';
import { resolveCustom, type PlainItem, type Resolver } from '../../src/core/resolver.ts';

const KEY = { partitionKey: 'pk' };
const TTL = META.expiresAt;
const BIG = 'x'.repeat(300_000);
const v = (ms: number, region: string) => `${String(ms).padStart(15, '0')}.000000.${region}`;

/** A version of the 300 KB document written in `region` on top of the base version. */
function version(ms: number, region: string, attr: string, value: number): AttributeMap {
  return {
    pk: { S: 'doc' },
    body: { S: BIG },
    [attr]: { N: String(value) },
    [META.version]: { S: v(ms, region) },
    [META.origin]: { S: region },
    [META.vector]: { M: { 'us-east-1': { S: v(1, 'us-east-1') }, [region]: { S: v(ms, region) } } },
  };
}

const SIDES = [version(10, 'eu-west-1', 'a', 1), version(11, 'ap-southeast-1', 'b', 2), version(12, 'sa-east-1', 'a', 3)];

/** Deterministic, not commutative: the later version's attributes win, and it counts the folds. */
const resolver: Resolver = ({ local, incoming }) => {
  if (!local || !incoming) return local ?? incoming;
  return { ...local, ...incoming, folds: Number(local.folds ?? 0) + 1 };
};

/** What the resolver makes of whole siblings, oldest first. */
function expected(sides: readonly AttributeMap[]): PlainItem {
  const plain = sides.map((s) =>
    Object.fromEntries(
      Object.entries(s)
        .filter(([n]) => !n.startsWith('_rs_'))
        .map(([n, x]) => [n, x.N !== undefined ? Number(x.N) : x.S]),
    ),
  );
  return plain
    .slice(1)
    .reduce((acc, s, i) => resolver({ key: { pk: 'doc' }, local: acc, incoming: s, localVersion: '', incomingVersion: String(i) })!, plain[0]!);
}

function applyAll(arrivals: readonly AttributeMap[]): AttributeMap | undefined {
  let stored: AttributeMap | undefined;
  for (const incoming of arrivals) {
    const out = resolveCustom(stored, incoming, resolver, KEY, TTL);
    if (out.kind === 'apply') stored = out.item;
  }
  return stored;
}

const userView = (item: AttributeMap) =>
  Object.fromEntries(
    Object.entries(item)
      .filter(([n]) => !n.startsWith('_rs_'))
      .map(([n, x]) => [n, x.N !== undefined ? Number(x.N) : x.S]),
  );

describe('finding 6: custom siblings are stored whole', () => {
  it('a conflict on a 300 KB item stays under 400 KB and resolves as with whole siblings', () => {
    // Prepare: the item as one region holds it after its own write
    const stored = SIDES[0]!;
    // Act: a concurrent version of the 300 KB item arrives
    const out = resolveCustom(stored, SIDES[1]!, resolver, KEY, TTL);
    // Assess
    expect(out.kind).toBe('apply');
    const item = (out as { item: AttributeMap }).item;
    console.log(`finding 6: 300 KB item, 2 siblings: ${itemBytes(item)} bytes stored (limit ${MAX_ITEM_BYTES})`);
    expect(itemBytes(item)).toBeLessThan(MAX_ITEM_BYTES);
    expect(userView(item)).toEqual(expected(SIDES.slice(0, 2)));
  });

  it('any order and duplication of three concurrent 300 KB versions ends in the same item, under 400 KB', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(2), { minLength: 3, maxLength: 8 }), (order) => {
        // Prepare: every version arrives at least once, in any order, some twice
        const arrivals = [...order, 0, 1, 2].map((i) => SIDES[i]!);
        // Act
        const item = applyAll(arrivals)!;
        // Assess
        expect(itemBytes(item)).toBeLessThan(MAX_ITEM_BYTES);
        expect(userView(item)).toEqual(expected(SIDES));
        expect(JSON.stringify(item)).toBe(JSON.stringify(applyAll(SIDES)));
      }),
      { numRuns: 40 },
    );
  });

  it('siblings stored in the old format (whole items) are still read', () => {
    // Prepare: an item holding two whole siblings, as stored before
    const whole = SIDES.slice(0, 2).map((s) => ({
      v: s[META.version]!.S,
      o: s[META.origin]!.S,
      vv: { 'us-east-1': v(1, 'us-east-1'), [s[META.origin]!.S!]: s[META.version]!.S },
      del: false,
      item: userOnly(s),
    }));
    const resolved = resolver({ key: { pk: 'doc' }, local: userView(SIDES[0]!), incoming: userView(SIDES[1]!), localVersion: '', incomingVersion: '' })!;
    const old: AttributeMap = {
      pk: { S: 'doc' },
      body: { S: BIG },
      a: { N: String(resolved.a) },
      b: { N: String(resolved.b) },
      folds: { N: '1' },
      [META.version]: SIDES[1]![META.version]!,
      [META.origin]: SIDES[1]![META.origin]!,
      [META.siblings]: { S: JSON.stringify(whole) },
    };
    // Act
    const out = resolveCustom(old, SIDES[2]!, resolver, KEY, TTL);
    // Assess
    expect(userView((out as { item: AttributeMap }).item)).toEqual(expected(SIDES));
  });
});

function userOnly(item: AttributeMap): AttributeMap {
  return Object.fromEntries(Object.entries(item).filter(([n]) => !n.startsWith('_rs_')));
}
