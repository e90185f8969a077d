import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Two files at a time (vitest's default on 2 cores is one): integration files mostly wait on
    // the emulator, so the run takes about two thirds of the time.
    maxWorkers: 2,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000 } },
      // Synthesizing bundles every Lambda with esbuild: slower than unit tests.
      { test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 } },
      {
        test: {
          name: 'integ',
          include: ['test/integ/**/*.test.ts'],
          // One moto server for the whole run; files share one deployment (test/support/shared-deployment.ts) or deploy an app of their own.
          globalSetup: ['test/integ/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 300_000,
          // Files run in parallel (as many as the run's workers: 2 on 2 cores) on the one emulator:
          // each uses tables, app names and regions of its own (fixtures/), and waits for states,
          // not times, so they do not see each other.
        },
      },
    ],
  },
});
