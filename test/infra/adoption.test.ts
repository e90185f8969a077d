/**
 * Adopted tables (`adoptIn`, src/ops/adopt.ts): where a table already exists, the stack imports it
 * with the stream ARN `regionsync adopt` recorded, never creates (or could replace or delete) it, and
 * everything else is deployed as for a created table.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { buildApp } from '../../src/infra/app.ts';
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
