/**
 * Conflict strategies in the templates: each function gets its table's strategy, merging
 * strategies (and only they) may read the item, the conflict log is wired where it is kept, and
 * a custom resolver is bundled into the table's own functions.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import { logicalId, propertiesOf, ref, regionOf, replicatedTable, settingsOf, synthesizeFixture, type SynthesizedRegion } from '../support/infra-fixture.ts';
import { allowedOf, on } from '../support/infra-iam.ts';

const CONFIG: RegionSyncConfig = {
  appName: 'rsstrat',
  regions: [
    { region: 'us-east-1', account: '111111111111' },
    { region: 'eu-west-1', account: '222222222222' },
  ],
  tables: [
    { name: 'plain', partitionKey: { name: 'id', type: 'string' }, conflictLog: { enabled: false } },
    { name: 'profiles', partitionKey: { name: 'id', type: 'string' }, conflictResolution: { strategy: 'fields' } },
    {
      name: 'posts',
      partitionKey: { name: 'id', type: 'string' },
      conflictResolution: { strategy: 'merge', attributes: { likes: 'counter', tags: 'set' } },
      conflictLog: { retentionDays: 7 },
    },
    {
      name: 'docs',
      partitionKey: { name: 'id', type: 'string' },
      conflictResolution: { strategy: 'custom', resolver: 'resolvers/documents.ts#resolveDocument' },
    },
  ],
};

let synth: Map<string, SynthesizedRegion>;
beforeAll(() => {
  // Real bundling: the custom table's functions must bundle the user's resolver.
  synth = synthesizeFixture(CONFIG);
});

describe('strategy settings', () => {
  it.each([
    ['plain', { strategy: 'lww' }],
    ['profiles', { strategy: 'fields' }],
    ['posts', { strategy: 'merge', attributes: { likes: 'counter', tags: 'set' } }],
    ['docs', { strategy: 'custom' }],
  ])('%s: shipper and applier both run the table`s strategy', (table, strategy) => {
    const r = regionOf(synth, 'us-east-1');
    const rt = replicatedTable(r, table);
    expect(settingsOf(r.template, logicalId(rt.shipper)).strategy).toEqual(strategy);
    expect(settingsOf(r.template, logicalId(rt.applier)).strategy).toEqual(strategy);
  });

  it('the conflict log is passed with its retention, and left out where it is switched off', () => {
    const r = regionOf(synth, 'eu-west-1');
    expect(settingsOf(r.template, logicalId(replicatedTable(r, 'posts').applier)).conflictLog).toEqual({
      tableName: 'rsstrat-conflicts',
      retentionSeconds: 7 * 86_400,
    });
    expect(settingsOf(r.template, logicalId(replicatedTable(r, 'profiles').applier)).conflictLog?.retentionSeconds).toBe(30 * 86_400);
    expect(settingsOf(r.template, logicalId(replicatedTable(r, 'plain').applier)).conflictLog).toBeUndefined();
  });
});

describe('read permissions follow the strategy', () => {
  // Last writer wins: the shipper reads after an application's delete (an older replicated copy to
  // remove), the applier never reads (no excluded attributes here). Merging strategies read to merge.
  it.each([
    ['plain', true, false],
    ['profiles', true, true],
    ['posts', true, true],
    ['docs', true, true],
  ])('%s: GetItem on its table granted to the shipper: %s, to the applier: %s', (table, shipperReads, applierReads) => {
    const r = regionOf(synth, 'us-east-1');
    const rt = replicatedTable(r, table);
    const getItem = on(ref(logicalId(rt.table), 'Arn'), 'dynamodb:GetItem')[0]!;
    expect(allowedOf(r.template, logicalId(rt.shipper)).includes(getItem)).toBe(shipperReads);
    expect(allowedOf(r.template, logicalId(rt.applier)).includes(getItem)).toBe(applierReads);
  });
});

describe('custom resolver bundling', () => {
  it('the custom table`s functions are built from a generated entry that includes the resolver; others share the standard bundle', () => {
    const r = regionOf(synth, 'us-east-1');
    const code = (table: string, fn: 'shipper' | 'applier') => JSON.stringify(propertiesOf(r.template, logicalId(replicatedTable(r, table)[fn])).Code);
    expect(code('docs', 'applier')).not.toEqual(code('plain', 'applier'));
    expect(code('profiles', 'applier')).toEqual(code('plain', 'applier'));
    expect(code('docs', 'shipper')).not.toEqual(code('plain', 'shipper'));
  });
});
