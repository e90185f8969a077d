/**
 * cdk.json carries the feature flags `cdk init` writes for the installed aws-cdk-lib (its
 * recommended-feature-flags.json), so a deploy gets the CDK's current safe defaults, and the tests
 * synthesize with the same context (testApp).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { testApp } from '../support/infra-fixture.ts';

const recommended = createRequire(import.meta.url)('aws-cdk-lib/recommended-feature-flags.json') as Record<string, unknown>;
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };

describe('feature flags', () => {
  it('cdk.json sets every flag `cdk init` sets for this aws-cdk-lib, to the recommended value', () => {
    const differing = Object.entries(recommended).filter(([flag, value]) => JSON.stringify(cdkJson.context[flag]) !== JSON.stringify(value));
    expect(differing).toEqual([]);
    expect(Object.keys(recommended).length).toBeGreaterThan(50);
  });

  it('the tests` App reads the same flags', () => {
    const app = testApp();
    for (const [flag, value] of Object.entries(recommended)) expect(app.node.tryGetContext(flag), flag).toEqual(value);
  });
});
