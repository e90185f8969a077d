/**
 * The CLI in an app whose regions live in different accounts: each region is read with the
 * credentials the config names for it (`regions[].credentials`: a role to assume, or a profile).
 * moto serves one backend per account and maps assumed-role credentials to the role's account,
 * so a table created in account 222222222222 is invisible to the default account's credentials.
 */
import * as path from 'node:path';
import { CreateTableCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { accountOf, dynamodb, targetOf, type Target } from '../../src/ops/aws.ts';
import { runCli } from '../support/cli.ts';
import { tombstoneTableName } from '../../src/core/contract.ts';
import { TOMBSTONE_TABLE } from '../../src/core/tombstones.ts';

const OTHER_ACCOUNT = '222222222222';
const ROLE_ARN = `arn:aws:iam::${OTHER_ACCOUNT}:role/regionsync-ops`;
const TABLE = 'xacct';
const REGIONS = { home: 'us-west-1', away: 'eu-north-1' } as const;

const CONFIG = path.resolve(import.meta.dirname, 'fixtures/cross-account-cli.config.ts');
const PLAIN_CONFIG = path.resolve(import.meta.dirname, 'fixtures/cross-account-cli-plain.config.ts');

let endpoint: string;

async function createTable(client: DynamoDBClient, name: string, key: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
    }),
  );
}

beforeAll(async () => {
  endpoint = inject('endpoint');
  // The table in each region's own account, with one item the same in both and one only in the away region.
  const target: Target = targetOf({ regions: [{ region: REGIONS.home }, { region: REGIONS.away, credentials: { roleArn: ROLE_ARN } }] }, endpoint);
  for (const region of Object.values(REGIONS)) {
    const client = dynamodb(target, region);
    // The table, and the region's tombstone table that verify also reads (both as a deploy creates them).
    await createTable(client, TABLE, 'pk');
    await createTable(client, tombstoneTableName('rsxacct'), TOMBSTONE_TABLE.partitionKey);
    await client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'same' }, n: { N: '1' } } }));
  }
  await dynamodb(target, REGIONS.away).send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'only-away' }, n: { N: '2' } } }));
});

describe('per-region CLI credentials', () => {
  it('each region is reached in its own account: the assumed role`s for the away region, the default one at home', async () => {
    // Prepare
    const target = targetOf({ regions: [{ region: REGIONS.home }, { region: REGIONS.away, credentials: { roleArn: ROLE_ARN } }] }, endpoint);

    // Act
    const [home, away] = await Promise.all([accountOf(target, REGIONS.home), accountOf(target, REGIONS.away)]);

    // Assess
    expect(away).toBe(OTHER_ACCOUNT);
    expect(home).not.toBe(OTHER_ACCOUNT);
  });

  it('regionsync verify compares the table across the two accounts and finds the one divergent key', async () => {
    // Act
    const result = await runCli(['verify', '--table', TABLE, '--config', CONFIG, '--endpoint', endpoint, '--json']);

    // Assess
    expect(result.stderr).not.toMatch(/ResourceNotFound/);
    const report = JSON.parse(result.stdout) as { divergent: { key: string }[] } | { tables: unknown };
    expect(JSON.stringify(report)).toContain('only-away');
    expect(JSON.stringify(report)).not.toMatch(/"same"/);
    expect(result.code).toBe(1);
  });

  it('without the credentials in the config, the away region`s table is not found (the default account has none)', async () => {
    // Act
    const result = await runCli(['verify', '--table', TABLE, '--config', PLAIN_CONFIG, '--endpoint', endpoint, '--json']);

    // Assess
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/ResourceNotFound|not found|does not exist/i);
  });
});
