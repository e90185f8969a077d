import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The CDK's built-in template linter runs at every synth (~3 s each); one test runs it on purpose
    // (test/infra/cfn-validate.test.ts) and holds every template at 0 errors.
    env: { CDK_VALIDATION: 'false' },
    projects: [
      // Unit and infra files share their worker's module cache (isolate: false): they keep no module
      // state between files, and re-importing aws-cdk-lib and the SDK for every file cost ~40 s of CPU
      // that the integration files, running beside them in npm test, need.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000, isolate: false } },
      // Synthesizing bundles every Lambda with esbuild: slower than unit tests.
      { test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000, isolate: false } },
      {
        test: {
          name: 'integ',
          include: ['test/integ/**/*.test.ts'],
          // One moto server for the whole run; files share one deployment (test/support/shared-deployment.ts) or deploy an app of their own.
          globalSetup: ['test/integ/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 300_000,
          // One file at a time on the one emulator and 2 cores. Each uses tables, app names and
          // regions of its own (fixtures/), so they could run two at a time (about 430 s instead of
          // 500 s), but under that load a change waited out a visibility timeout in one run of three
          // (strategies.test.ts, merge): reliability first.
          fileParallelism: false,
        },
      },
      // The ops console in headless Chromium over its own deployment (test/console): not in `npm test`
      // (which is at its time budget), `npm run test:console` after it in .ci/run. Its own moto, as integ's.
      {
        test: {
          name: 'console',
          include: ['test/console/**/*.test.ts'],
          globalSetup: ['test/integ/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
