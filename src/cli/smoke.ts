/** `regionsync smoke`: write, wait, check and clean up one key, through every region of a deployed table. */
import { smokeTest } from '../ops/smoke.ts';
import { loadOpsTable, positiveNumber, printJson, UsageError } from './ops-common.ts';
import { COMMON_OPTIONS, defineCommand } from './command.ts';

/** `regionsync smoke`: runs {@link smokeTest}; exit 0 only when every step reached every region. */
export const smokeCommand = defineCommand({
  name: 'smoke',
  summary: 'on your account after cdk deploy: a put, an update from another region and a delete of one new key must reach every region',
  description: `The check to run on your account after \`cdk deploy\` (the emulator checks no IAM, queue policies or
alarm delivery). With plain SDK calls on one new key of table T: PutItem in REGION (default the
table's first region) must reach every other region, an UpdateItem made in another region must
come back, and a DeleteItem must leave the key absent everywhere. Each step may take --timeout
seconds. Prints, per step and region, how long the change took to appear; exit 0 only when every
step reached every region. The key is deleted everywhere at the end.`,
  options: {
    ...COMMON_OPTIONS,
    from: { type: 'string', value: 'REGION', description: "where the key is written (default: the table's first region)" },
    timeout: { type: 'string', value: 'S', description: 'seconds each step may take (default 60)' },
  },
  run: async (v) => {
    const ops = await loadOpsTable('smoke', v);
    if (v.from && !ops.table.regions.includes(v.from))
      throw new UsageError(`regionsync smoke: --from ${v.from} is not a region of table ${ops.table.name} (${ops.table.regions.join(', ')})`);
    const timeout = positiveNumber('timeout', v.timeout);
    const r = await smokeTest({ ops, ...(v.from ? { from: v.from } : {}), ...(timeout ? { timeoutMs: timeout * 1000 } : {}) });
    if (v.json) printJson(r);
    else {
      for (const s of r.steps) {
        const seen = Object.entries(s.seenAfterMs).map(([region, ms]) => `${region} ${ms === null ? 'NOT SEEN' : `${ms} ms`}`);
        console.log(`${s.ok ? 'ok  ' : 'FAIL'} ${s.step.padEnd(6)} in ${s.region} → ${seen.join(', ')}`);
      }
      console.log(
        r.ok
          ? `smoke ${r.table}: replicated both ways and deleted everywhere`
          : `smoke ${r.table}: FAILED (see above; check \`regionsync status\` and the functions' logs)`,
      );
    }
    return r.ok ? 0 : 1;
  },
});
