/**
 * One moto server for the whole integration run (started here unless REGIONSYNC_TEST_ENDPOINT
 * names one already running, e.g. LocalStack), and a directory that lives as long as the run:
 * the shared deployment (test/support/shared-deployment.ts) marks there that it has deployed.
 * Files that deploy an app of their own use an app name and tables no other file uses.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startMoto, type MotoServer } from '../../dev/local/moto.ts';

let moto: MotoServer | undefined;
let runDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  if (!process.env.REGIONSYNC_TEST_ENDPOINT) {
    moto = await startMoto();
    process.env.REGIONSYNC_TEST_ENDPOINT = moto.endpoint;
  }
  runDir = await mkdtemp(path.join(tmpdir(), 'regionsync-integ-run-'));
  project.provide('endpoint', process.env.REGIONSYNC_TEST_ENDPOINT);
  project.provide('runDir', runDir);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
  if (runDir) await rm(runDir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    endpoint: string;
    /** Lives as long as the run (and its emulator): what was done once for the whole run is recorded here. */
    runDir: string;
  }
}
