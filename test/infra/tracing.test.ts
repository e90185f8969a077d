/**
 * Optional X-Ray tracing (`tracing: true`): active tracing on every shipper and applier, the X-Ray
 * write permissions on their roles, and a bundle with Powertools Tracer; off by default, when the
 * bundle does not even contain the X-Ray SDK.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AssetStaging } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import { logicalId, propertiesOf, regionOf, replicatedTable, synthesizeFixture, type SynthesizedRegion } from '../support/infra-fixture.ts';
import { policiesOfFunction } from '../support/infra-iam.ts';

const config = (tracing?: boolean): RegionSyncConfig => ({
  appName: 'rstrace',
  regions: ['us-east-1', 'eu-west-1'],
  ...(tracing === undefined ? {} : { tracing }),
  tables: [
    { name: 'plain', partitionKey: { name: 'pk', type: 'string' } },
    {
      name: 'docs',
      partitionKey: { name: 'pk', type: 'string' },
      conflictResolution: { strategy: 'custom', resolver: path.resolve('resolvers/documents.ts#resolveDocument') },
    },
  ],
});

/** The bundled code of a function: its code asset's source directory (the bundle cache), index.js. */
function bundleOf(fn: IConstruct): string {
  const staging = fn.node.findChild('Code').node.findChild('Stage') as AssetStaging;
  return readFileSync(path.join(staging.sourcePath, 'index.js'), 'utf8');
}

const FUNCTIONS = ['plain', 'docs'].flatMap((table) => (['shipper', 'applier'] as const).map((fn) => ({ table, fn })));

describe('tracing: true', () => {
  let r: SynthesizedRegion;
  beforeAll(() => {
    r = regionOf(synthesizeFixture(config(true)), 'us-east-1');
  });

  it.each(FUNCTIONS)('$table $fn: active tracing, X-Ray writes granted, Powertools Tracer in the bundle', ({ table, fn }) => {
    const id = logicalId(replicatedTable(r, table)[fn]);
    expect(propertiesOf(r.template, id).TracingConfig).toEqual({ Mode: 'Active' });
    const actions = policiesOfFunction(r.template, id).statements.flatMap((s) => [s.statement.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']));
    expect(bundleOf(replicatedTable(r, table)[fn])).toContain('captureAWSv3Client');
  });
});

describe('tracing off (the default)', () => {
  let r: SynthesizedRegion;
  beforeAll(() => {
    r = regionOf(synthesizeFixture(config()), 'us-east-1');
  });

  it.each(FUNCTIONS)('$table $fn: no tracing, no X-Ray permission, no X-Ray SDK in the bundle', ({ table, fn }) => {
    const id = logicalId(replicatedTable(r, table)[fn]);
    expect(propertiesOf(r.template, id).TracingConfig).toBeUndefined();
    const actions = policiesOfFunction(r.template, id).statements.flatMap((s) => [s.statement.Action].flat());
    expect(actions.filter((a) => String(a).startsWith('xray:'))).toEqual([]);
    expect(bundleOf(replicatedTable(r, table)[fn])).not.toContain('captureAWSv3Client');
  });
});
