/** `regionsync smoke`: write, wait, check and clean up one key, through every region of a deployed table. */
import { smokeTest } from '../ops/smoke.ts';
import { loadOpsTable, parseCommand, positiveNumber, printJson, runOps, UsageError } from './ops-common.ts';

export const SMOKE_USAGE = `usage: regionsync smoke --table T [--from REGION] [--timeout S] [--endpoint URL] [--config FILE] [--json]

The check to run on your account after \`cdk deploy\` (the emulator checks no IAM, queue policies or
alarm delivery). With plain SDK calls on one new key of table T: PutItem in REGION (default the
table's first region) must reach every other region, an UpdateItem made in another region must
come back, and a DeleteItem must leave the key absent everywhere. Each step may take --timeout
seconds (default 60). Prints, per step and region, how long the change took to appear; exit 0 only
when every step reached every region. The key is deleted everywhere at the end.`;

export function smokeCommand(args: string[]): Promise<number> {
  return runOps(SMOKE_USAGE, async () => {
    const v = parseCommand('smoke', args, { from: { type: 'string' }, timeout: { type: 'string' } });
    if (v.help) {
      console.log(SMOKE_USAGE);
      return 0;
    }
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
  });
}
