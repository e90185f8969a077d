/** `regionsync repair`: converge the keys verify finds, through the normal apply path. Dry run unless --apply. */
import { formatRepair, repairTable } from '../ops/repair.ts';
import { formatVerify } from './verify.ts';
import { loadOpsTable, positiveInteger, positiveNumber, printJson, regionList, UsageError } from './ops-common.ts';
import { COMMON_OPTIONS, defineCommand } from './command.ts';

/** `regionsync repair`: runs {@link repairTable}; exit 0 when nothing is left divergent, 1 otherwise. */
export const repairCommand = defineCommand({
  name: 'repair',
  summary: 'converge the keys verify finds through the normal apply path (a dry run without --apply)',
  description: `Runs verify, then for each divergent key sends every region's state to the regions that hold
something else, through their inbound queues: each region's applier keeps the winner by the
table's rules. Items never stamped, a newest version its own region lost, and equal versions
with different content are first given a new version where they are held ("touched").
Without --apply, prints what it would do and writes nothing. Exit 0 when nothing is left
divergent (after --apply and --wait) or nothing needs repair (dry run); 1 otherwise.`,
  options: {
    ...COMMON_OPTIONS,
    apply: { type: 'boolean', description: 'write (default: dry run)' },
    regions: { type: 'string', value: 'R1,R2', description: 'regions to compare (default: every region of the table)' },
    prefer: {
      type: 'string',
      value: 'REGION',
      description:
        "the copy to keep when regions hold one version with different content and no majority decides (default: the version's origin region, then the first by name)",
    },
    wait: { type: 'string', value: 'S', description: 'after --apply, wait up to S seconds for the keys to converge (default 30; 0: do not wait)' },
    'max-rcu': { type: 'string', value: 'N', description: "read capacity units per second per region's table (default: unlimited)" },
    segments: { type: 'string', value: 'N', description: 'parallel scan segments per region (default 4)' },
  },
  run: async (v) => {
    const ops = await loadOpsTable('repair', v);
    const regions = regionList(v.regions);
    if (v.prefer && !ops.table.regions.includes(v.prefer))
      throw new UsageError(`regionsync repair: --prefer ${v.prefer} is not a region of table ${ops.table.name}`);
    const wait = v.wait === undefined ? 30 : v.wait === '0' ? 0 : positiveNumber('wait', v.wait)!;
    const report = await repairTable({
      progress: process.stderr,
      ops,
      ...(regions ? { regions } : {}),
      apply: v.apply,
      ...(v.prefer ? { prefer: v.prefer } : {}),
      waitMs: wait * 1000,
      maxRcu: positiveNumber('max-rcu', v['max-rcu']),
      segments: positiveInteger('segments', v.segments),
      log: (l) => console.error(l),
    });
    const left = report.applied ? (report.remaining ?? []).length : report.keys.filter((k) => k.outcome !== 'converged-meanwhile').length;
    if (v.json) {
      printJson(report);
    } else {
      for (const line of formatVerify(report.verify, false)) console.log(line);
      for (const line of formatRepair(report)) console.log(line);
      if (!report.applied)
        console.log(report.keys.length === 0 ? 'nothing to repair' : `dry run: nothing written; run again with --apply to repair ${left} keys`);
      else {
        console.log(`touched ${report.touched} items, sent ${report.changesSent} changes in ${report.messagesSent} messages`);
        console.log(
          left === 0
            ? `converged: every repaired key now agrees`
            : `${left} keys still differ${wait > 0 ? ` after waiting up to ${wait} s` : ''} (see above; changes in flight or live writes: run verify again)`,
        );
      }
    }
    return left === 0 ? 0 : 1;
  },
});
