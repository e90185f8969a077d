/** `regionsync backfill`: copy a table's items into a new or lagging region while writes continue. */
import { backfill } from '../ops/backfill.ts';
import { loadOpsTable, positiveInteger, positiveNumber, printJson, UsageError } from './ops-common.ts';
import { COMMON_OPTIONS, defineCommand } from './command.ts';

/** `regionsync backfill`: runs {@link backfill}; exit 0 when complete, 1 when interrupted (run it again to resume). */
export const backfillCommand = defineCommand({
  name: 'backfill',
  summary: 'copy existing items into a new or lagging region while writes continue; resumable',
  description: `Scans the table in --from (default: its first other region) and sends every item to --to's
inbound queue, where the applier writes it only if it is newer than what is there: live writes
keep flowing and always win over older copies. Items never stamped are stamped at the source
first. Progress is saved after every page in .regionsync/backfill/<table>-<region>.json; run the
same command again to resume after an interruption (Ctrl-C saves and stops).`,
  options: {
    ...COMMON_OPTIONS,
    to: { type: 'string', value: 'REGION', required: true, description: 'the region to fill' },
    from: { type: 'string', value: 'REGION', description: 'the region to copy from (default: the first other region)' },
    'max-rcu': { type: 'string', value: 'N', description: 'read capacity units per second on the source table (default: unlimited)' },
    segments: { type: 'string', value: 'N', description: 'parallel scan segments (default 4)' },
    restart: { type: 'boolean', description: 'discard saved progress and start over' },
  },
  run: async (v) => {
    if (!v.to) throw new UsageError('regionsync backfill: --to REGION is required');
    const ops = await loadOpsTable('backfill', v);
    const abort = new AbortController();
    const onSignal = () => {
      console.error('\ninterrupted: finishing the pages in flight and saving progress (run the same command to resume)');
      abort.abort();
    };
    process.once('SIGINT', onSignal);
    try {
      const r = await backfill({
        progress: process.stderr,
        ops,
        to: v.to,
        ...(v.from ? { from: v.from } : {}),
        maxRcu: positiveNumber('max-rcu', v['max-rcu']),
        segments: positiveInteger('segments', v.segments),
        restart: v.restart,
        signal: abort.signal,
      });
      if (v.json) printJson(r);
      else if (r.alreadyComplete) console.log(`backfill of ${r.table} from ${r.from} to ${r.to} already complete (${r.stateFile}); --restart to run it again`);
      else {
        console.log(
          `backfill of ${r.table} ${r.from} → ${r.to}${r.resumed ? ' (resumed)' : ''}: ${r.scanned} items scanned, ${r.sent} sent, ${r.touched} stamped at the source and sent, ` +
            `${r.skippedOwn} made in ${r.to} skipped, ${r.skippedExpired} expired tombstones skipped, ${r.changedMeanwhile} changed meanwhile (left to the pipeline)` +
            `${r.skippedUnstamped ? `, ${r.skippedUnstamped} not stamped yet (left to the shipper: this table's strategy folds plain writes in)` : ''}; ${r.messages} messages`,
        );
        console.log(
          r.complete
            ? `complete; check with: regionsync verify --table ${r.table}`
            : `interrupted; progress saved in ${r.stateFile}: run the same command to resume`,
        );
      }
      return r.complete ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
    }
  },
});
