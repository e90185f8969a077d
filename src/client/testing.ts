/**
 * Test helper for custom resolvers: `checkResolver(resolver)` throws (with a counterexample) if
 * the resolver is not deterministic (same inputs, same result, nothing remembered between calls).
 * That is all convergence needs: every region keeps the concurrent versions as siblings and folds
 * them in version order, so the order changes arrive in does not matter. `{ commutative: true }`
 * also checks resolve(a, b) = resolve(b, a), for resolvers meant not to care which side is older.
 * Use it in your own tests:
 *
 * ```ts
 * it('resolveDocument is safe to deploy', () => checkResolver(resolveDocument, { item: fc.record({ body: fc.string() }) }));
 * ```
 */
import fc from 'fast-check';
import type { PlainItem, Resolver, ResolverInput } from '../core/resolver.ts';

/** How {@link checkResolver} generates items and what it requires of the resolver. */
export interface CheckResolverOptions {
  /** Generates the application's attributes of an item (without the key). @default small records of strings, numbers and string sets */
  readonly item?: fc.Arbitrary<PlainItem>;
  /** fast-check runs. @default 300 */
  readonly numRuns?: number;
  /** Also require resolve(a, b) = resolve(b, a). @default false */
  readonly commutative?: boolean;
}

const defaultItem: fc.Arbitrary<PlainItem> = fc.record(
  {
    a: fc.string({ maxLength: 5 }),
    n: fc.integer({ min: -5, max: 5 }),
    s: fc.uniqueArray(fc.constantFrom('x', 'y', 'z'), { minLength: 1 }).map((x) => new Set(x)),
  },
  { requiredKeys: [] },
);

/** Deep, insensitive to attribute and set-element order: equal when DynamoDB would store the same item. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x instanceof Set) return { $set: [...x].map(String).sort() };
    if (typeof x === 'bigint') return String(x);
    if (x && typeof x === 'object' && !Array.isArray(x)) return Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return x;
  });
}

/**
 * Checks with fast-check that a custom resolver is deterministic (same inputs, same result, also when
 * folding three versions) and, with `commutative`, symmetric; throws with a counterexample and the seed when not.
 */
export function checkResolver(resolver: Resolver, options: CheckResolverOptions = {}): void {
  const item = options.item ?? defaultItem;
  const side = fc.option(item, { nil: null, freq: 5 });
  const version = (i: number) => `${String(1_764_000_000_000 + i).padStart(15, '0')}.000000.us-east-1`;
  const key = { pk: 'k' };
  const input = (local: PlainItem | null, incoming: PlainItem | null, lv: number, iv: number): ResolverInput => ({
    key,
    local: local && { ...local, ...key },
    incoming: incoming && { ...incoming, ...key },
    localVersion: version(lv),
    incomingVersion: version(iv),
  });
  const details = fc.check(
    fc.property(side, side, side, (a, b, c) => {
      // Deterministic: the same inputs give the same result (structuredClone rules out aliasing).
      const once = canonical(resolver(input(a, b, 1, 2)));
      const twice = canonical(resolver(structuredClone(input(a, b, 1, 2))));
      if (once !== twice) throw new Error(`resolver is not deterministic: ${once} vs ${twice}`);
      // Regions fold the same siblings in version order, so the fold is what must agree; it must
      // also not depend on which side is called "local" when versions tie-break the other way.
      const ab = resolver(input(a, b, 1, 2));
      const abc = canonical(resolver(input(ab, c, 2, 3)));
      const again = canonical(resolver(input(resolver(input(structuredClone(a), structuredClone(b), 1, 2)), structuredClone(c), 2, 3)));
      if (abc !== again) throw new Error(`resolver fold is not stable: ${abc} vs ${again}`);
      if (options.commutative) {
        const ba = canonical(resolver(input(b, a, 1, 2)));
        if (once !== ba) throw new Error(`resolver is not commutative: resolve(a, b) = ${once}, resolve(b, a) = ${ba}`);
      }
    }),
    { numRuns: options.numRuns ?? 300 },
  );
  if (details.failed) {
    const reason = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${reason}\ncounterexample (local, incoming, third): ${fc.stringify(details.counterexample)} (seed ${details.seed})`);
  }
}
