import { describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/client/index.ts';
import { checkResolver } from '../../src/client/testing.ts';
import { resolveDocument } from '../../resolvers/documents.ts';

describe('checkResolver', () => {
  it('accepts the example resolver (resolvers/documents.ts), commutative as well', () => {
    expect(() => checkResolver(resolveDocument, { commutative: true })).not.toThrow();
  });

  it('rejects a resolver that depends on the clock', () => {
    // Prepare: a resolver that stamps the time it ran (a classic mistake)
    let calls = 0;
    const clocky: Resolver = ({ local, incoming }) => ({ ...(local ?? {}), ...(incoming ?? {}), resolvedAt: ++calls });
    // Act + Assess
    expect(() => checkResolver(clocky)).toThrow(/not deterministic/);
  });

  it('rejects, when asked, a resolver that prefers one side', () => {
    const preferLocal: Resolver = ({ local, incoming }) => local ?? incoming;
    expect(() => checkResolver(preferLocal)).not.toThrow();
    expect(() => checkResolver(preferLocal, { commutative: true })).toThrow(/not commutative/);
  });
});
