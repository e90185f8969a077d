/**
 * `regionsync smoke`, the check a user runs on their account after `cdk deploy`, run here on moto
 * through the real CLI: a put, an update from the other region and a delete of one new key reach
 * every region, each step is timed, the key is gone everywhere afterwards; and when replication is
 * not running, it says so and exits 1 instead of hanging.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromWire } from '../../src/core/codec.ts';
import { dynamodb } from '../../src/ops/aws.ts';
import type { Running } from '../../dev/cli/up.ts';
import type { SmokeReport } from '../../src/ops/smoke.ts';
import { runCli } from '../support/cli.ts';
import { SHARED_CONFIG, sharedDeployment, startSharedRuntime } from '../support/shared-deployment.ts';

// Its own use of a table of the shared deployment (fixtures/shared.config.ts): new keys only.
const TABLE = 'integ2_orders';
const [US, EU] = ['us-east-1', 'eu-west-1'] as const;

let endpoint: string;
let running: Running | undefined;

beforeAll(async () => {
  const shared = await sharedDeployment();
  endpoint = shared.endpoint;
  running = await startSharedRuntime({ endpoint, config: shared.config, tables: [TABLE] });
});

afterAll(async () => {
  await running?.stop();
});

const smoke = (...extra: string[]) => runCli(['smoke', '--table', TABLE, '--config', SHARED_CONFIG, '--endpoint', endpoint, '--json', ...extra]);

describe('regionsync smoke', () => {
  it('a put, an update from the other region and a delete reach every region; the key is gone afterwards', async () => {
    // Act
    const out = await smoke();

    // Assess
    expect(out.code, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as SmokeReport;
    expect(report.steps.map((s) => [s.step, s.region, s.ok])).toEqual([
      ['create', US, true],
      ['update', EU, true],
      ['delete', US, true],
    ]);
    for (const s of report.steps) for (const ms of Object.values(s.seenAfterMs)) expect(ms).toBeGreaterThanOrEqual(0);
    for (const region of [US, EU]) {
      expect(
        (await dynamodb({ endpoint }, region).send(new GetItemCommand({ TableName: TABLE, Key: fromWire(report.key as never), ConsistentRead: true }))).Item,
      ).toBeUndefined();
    }
  });

  it('with replication stopped, reports the region it did not reach and exits 1', async () => {
    // Prepare
    await running?.stop();
    running = undefined;

    // Act
    const out = await smoke('--timeout', '2');

    // Assess
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout) as SmokeReport;
    expect(report.ok).toBe(false);
    expect(report.steps).toEqual([{ step: 'create', region: US, seenAfterMs: { [EU]: null }, ok: false }]);
  });
});
