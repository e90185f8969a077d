/**
 * Adopted tables (`adoptIn`, src/ops/adopt.ts): where a table already exists, the stack imports it
 * with the stream ARN `regionsync adopt` recorded, never creates (or could replace or delete) it, and
 * everything else is deployed as for a created table.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { buildApp } from '../../src/infra/app.ts';
import { Replication } from '../../src/infra/replication.ts';
import { adoptedStreamContextKey } from '../../src/infra/config/adoption.ts';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import { validateConfig } from '../../src/infra/config/validate.ts';
import { testApp } from '../support/infra-fixture.ts';

const [US, EU] = ['us-east-1', 'eu-west-1'];
const config: RegionSyncConfig = {
  appName: 'adopting',
  regions: [
    { region: US, account: '111111111111' },
    { region: EU, account: '111111111111' },
  ],
  tables: [{ name: 'orders', partitionKey: { name: 'pk', type: 'string' }, adoptIn: [US] }],
};
const STREAM = 'arn:aws:dynamodb:us-east-1:111111111111:table/orders/stream/2026-12-03T10:00:00.000';

function synth(context: Record<string, string>) {
  const app = testApp({ context });
  return new Map(buildApp(app, config).map((s) => [s.region, Template.fromStack(s)]));
}

describe('adopting an existing table', () => {
  it('imports the table where it exists, with the recorded stream, and creates it elsewhere', () => {
    // Act
    const templates = synth({ [adoptedStreamContextKey(US, 'orders')]: STREAM });
    // Assess: no table resource in the adopting region (nothing to replace or delete) ...
    const us = templates.get(US)!;
    const tablesIn = (t: Template) => Object.values(t.findResources('AWS::DynamoDB::Table')).map((r) => r.Properties?.TableName);
    expect(tablesIn(us)).not.toContain('orders');
    expect(tablesIn(templates.get(EU)!)).toContain('orders');
    // ... the shipper reads the adopted table's stream, and the functions may write only that table.
    us.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: STREAM });
    const policies = JSON.stringify(us.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(':table/orders');
    expect(policies).toContain(STREAM);
  });

  it('without the recorded stream, the synth fails naming the command that records it', () => {
    // Act
    const attempt = () => synth({});
    // Assess
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/tables \(orders\)\.adoptIn: the table orders in us-east-1 is adopted.*regionsync adopt --table orders/);
  });

  it('a region the table does not replicate in is refused by name', () => {
    // Act
    const attempt = () => validateConfig({ ...config, tables: [{ ...config.tables[0]!, adoptIn: ['ap-south-1'] }] });
    // Assess
    expect(attempt).toThrow(/tables\[0\]\.adoptIn\[0\]: not one of the table's regions .*"ap-south-1"/);
  });
});

describe('a table the app already defines in a stack of its own (existingTables)', () => {
  function appWith(tableProps: Partial<dynamodb.TableProps>) {
    const app = testApp();
    const own = new Stack(app, 'Own', { env: { region: US, account: '111111111111' } });
    const table = new dynamodb.Table(own, 'Orders', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      tableName: 'orders',
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      ...tableProps,
    });
    const make = () =>
      new Replication(app, 'Sync', {
        appName: 'owntables',
        regions: [
          { region: US, account: '111111111111' },
          { region: EU, account: '111111111111' },
        ],
        tables: [{ name: 'orders', partitionKey: { name: 'pk', type: 'string' } }],
        existingTables: { orders: { [US]: table } },
      });
    return { own, make };
  }

  it('replicates the table where the app defines it, reading its stream, and creates it elsewhere', () => {
    // Act
    const { own, make } = appWith({});
    const sync = make();
    const us = Template.fromStack(sync.stacks.get(US)!);
    // Assess: the table stays in the app's own stack; the region stack reads its stream.
    expect(Object.values(us.findResources('AWS::DynamoDB::Table')).map((r) => r.Properties?.TableName)).not.toContain('orders');
    expect(Object.keys(Template.fromStack(own).findResources('AWS::DynamoDB::Table')).length).toBe(1);
    // The shipper's mapping reads the stream of the table in the app's own stack (a cross-stack import).
    us.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetStackOutput': { StackName: 'Own', Region: US, OutputName: Match.stringLikeRegexp('^PublishOutputFnGetAttOrders.*StreamArn') } },
    });
    const eu = Template.fromStack(sync.stacks.get(EU)!);
    expect(Object.values(eu.findResources('AWS::DynamoDB::Table')).map((r) => r.Properties?.TableName)).toContain('orders');
  });

  it('a table without a stream, with another view type, or named otherwise is refused, naming it and the fix', () => {
    expect(() => appWith({ stream: undefined }).make()).toThrow(/existingTables\.orders\.us-east-1: the table has no stream/);
    expect(() => appWith({ stream: dynamodb.StreamViewType.KEYS_ONLY }).make()).toThrow(/view type KEYS_ONLY; regionsync needs NEW_AND_OLD_IMAGES/);
    expect(() => appWith({ tableName: 'orders-v2' }).make()).toThrow(/named "orders-v2", the config names it "orders" in us-east-1/);
    expect(() => appWith({ tableName: undefined }).make()).toThrow(/give the table an explicit tableName \("orders"\)/);
  });
});
