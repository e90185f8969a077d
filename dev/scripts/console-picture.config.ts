import { defineConfig } from '../../src/infra/config/schema.ts';

/** dev/scripts/console-picture.ts: two regions, thresholds low enough that a 90-second cut fires the lag and parked-age alarms. */
export default defineConfig({
  appName: 'shop',
  regions: ['us-east-1', 'eu-west-1'],
  tables: [
    {
      name: 'orders',
      partitionKey: { name: 'id', type: 'string' },
      monitoring: { lagP99ThresholdMs: 5000, lagEvaluationMinutes: 1, lagMaxThresholdMs: 30_000, parkedAgeThresholdSeconds: 60 },
    },
  ],
});
