/**
 * Selective replication and per-region table names in the templates: each region's table has its
 * own physical name, every function addresses that name (and only that table) while messages and
 * queues keep the logical name, and the selection reaches both shipper and applier.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import {
  ACCOUNTS,
  APP_NAME,
  flatten,
  inboundQueueUrl,
  logicalId,
  regionOf,
  replicatedTable,
  settingsOf,
  synthesizeFixture,
  type SynthesizedRegion,
} from '../support/infra-fixture.ts';
import { grantsOf, policiesOfFunction } from '../support/infra-iam.ts';
import { tombstoneTableName, inboundQueueName } from '../../src/core/contract.ts';

const [US, EU] = ['us-east-1', 'eu-west-1'] as const;
const NAMES = { [US]: 'orders-us', [EU]: 'orders-eu' };
const REPLICATE = {
  filter: { attribute: 'kind', exists: true as const },
  to: { [US]: { filter: { attribute: 'country', equals: 'US' }, exclude: ['email'] } },
};
const CONFIG: RegionSyncConfig = {
  appName: APP_NAME,
  regions: [US, EU].map((region) => ({ region, account: ACCOUNTS[region]! })),
  tables: [{ name: 'orders', partitionKey: { name: 'pk', type: 'string' }, names: NAMES, replicate: REPLICATE, conflictLog: { enabled: false } }],
};

let synth: Map<string, SynthesizedRegion>;
beforeAll(() => {
  synth = synthesizeFixture(CONFIG);
});

describe.each([US, EU])('renamed table and selection in %s', (region) => {
  it("the table has the region's physical name", () => {
    const r = regionOf(synth, region);
    const tables = r.template.findResources('AWS::DynamoDB::Table');
    const names = Object.values(tables).map((t) => t.Properties.TableName);
    // And the region's tombstone table, named by the app (shared by its lww tables).
    expect(names.sort()).toEqual([NAMES[region], tombstoneTableName(APP_NAME)].sort());
  });

  it('shipper and applier write the physical table, name messages and queues by the logical table, and carry the selection', () => {
    const r = regionOf(synth, region);
    const t = replicatedTable(r, 'orders');
    const other = region === US ? EU : US;
    for (const fn of [t.shipper, t.applier]) {
      const settings = settingsOf(r.template, logicalId(fn));
      expect(settings.tableName).toBe(NAMES[region]);
      expect(settings.logicalTable).toBe('orders');
      expect(settings.selection).toEqual(REPLICATE);
    }
    expect(settingsOf(r.template, logicalId(t.shipper)).targets).toEqual([{ region: other, queueUrl: inboundQueueUrl('orders', other) }]);
    expect(r.template.findResources('AWS::SQS::Queue', { Properties: { QueueName: inboundQueueName(APP_NAME, 'orders') } })).not.toEqual({});
  });

  it('item-level grants name only the renamed table', () => {
    const r = regionOf(synth, region);
    const t = replicatedTable(r, 'orders');
    const tableArn = `\${${logicalId(t.table)}.Arn}`;
    for (const fn of [t.shipper, t.applier]) {
      // Unconditional item grants: the table's own; the tombstone table's are confined to this table's rows (IAM test).
      const dynamo = grantsOf(policiesOfFunction(r.template, logicalId(fn)).statements).filter(
        (g) => /^dynamodb:(Get|Put|Update|Delete)Item$/.test(g.action) && !g.conditional,
      );
      expect(dynamo.length).toBeGreaterThan(0);
      for (const g of dynamo) expect(flatten(g.resource)).toBe(tableArn);
    }
  });
});
