/**
 * One moto server for the whole integration run (started here unless REGIONSYNC_TEST_ENDPOINT
 * names one already running, e.g. LocalStack). Each test file deploys its own app name, so
 * stacks, queues and tables never collide.
 */
import type { TestProject } from 'vitest/node';
import { startMoto, type MotoServer } from '../../local/moto.ts';

let moto: MotoServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  if (!process.env.REGIONSYNC_TEST_ENDPOINT) {
    moto = await startMoto();
    process.env.REGIONSYNC_TEST_ENDPOINT = moto.endpoint;
  }
  project.provide('endpoint', process.env.REGIONSYNC_TEST_ENDPOINT);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    endpoint: string;
  }
}
