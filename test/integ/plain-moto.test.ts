/**
 * `regionsync up --endpoint` on a plain moto_server (whose own event source mapping dispatch drops
 * DynamoDB stream records) refuses before deploying anything, with the fix in the message, and
 * never prints "ready" while nothing would replicate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamodb } from '../../src/ops/aws.ts';
import { freePort } from '../../dev/local/moto.ts';
import { eventually } from '../support/eventually.ts';
import { runCli } from '../support/cli.ts';

let server: ChildProcess | undefined;
let endpoint: string;

beforeAll(async () => {
  const port = await freePort();
  endpoint = `http://localhost:${port}`;
  server = spawn(process.env.REGIONSYNC_PYTHON ?? 'python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const up = await eventually(
    () =>
      fetch(new URL('/moto-api/config', endpoint)).then(
        (r) => r.ok,
        () => false,
      ),
    (ok) => ok,
    30_000,
    200,
  );
  expect(up, 'plain moto_server answers').toBe(true);
});

afterAll(() => {
  server?.kill('SIGTERM');
});

describe('regionsync up on a plain moto_server', () => {
  it('refuses before deploying, naming the cause and the fix; never prints ready', async () => {
    // Act: the README's command, against the wrong kind of server
    const out = await runCli(['up', '--endpoint', endpoint]);

    // Assess
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('plain moto_server');
    expect(out.stderr).toContain('python3 dev/local/moto_bootstrap.py');
    expect(out.stdout).not.toMatch(/ready/);
    expect((await dynamodb({ endpoint }, 'us-east-1').send(new ListTablesCommand({}))).TableNames).toEqual([]);
  });
});
