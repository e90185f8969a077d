/** `regionsync redrive`: move a region's dead-lettered change messages back to its inbound queue, after a fix. */
import { redriveDeadLetters } from '../ops/redrive.ts';
import { redriveStreamFailures } from '../ops/stream-redrive.ts';
import type { OpsTable } from '../ops/ship.ts';
import { loadOpsTable, positiveInteger, printJson, UsageError } from './ops-common.ts';
import { COMMON_OPTIONS, defineCommand } from './command.ts';

/** `regionsync redrive`: {@link redriveDeadLetters}, or with `--stream-failures` {@link redriveStreamFailures}. */
export const redriveCommand = defineCommand({
  name: 'redrive',
  summary: "move a region's dead-letter queue back to its inbound queue after a fix; report what moved",
  description: `Moves the messages in region R's dead-letter queue of table T back to R's inbound queue, so its
applier tries them again (fix the cause first: a region missing from the config, a bug, a
message schema the applier did not read), and reports what moved, by reason. A message is deleted
from the dead-letter queue only once the inbound queue accepted it.

With --stream-failures: replays what R's stream-failures queue names through the deployed
shipper's logic: the stream batches Lambda gave up on (read again from the stream, which keeps
records 24 h) and the records the shipper parked (an item with no room for regionsync's metadata:
shrink it first). A message is deleted only once all its records were handled.`,
  options: {
    ...COMMON_OPTIONS,
    region: { type: 'string', value: 'R', required: true, description: 'the region whose queue to redrive' },
    max: { type: 'string', value: 'N', description: 'move at most N messages' },
    'stream-failures': { type: 'boolean', description: "replay R's stream-failures queue instead" },
  },
  run: async (v) => {
    if (!v.region) throw new UsageError('regionsync redrive: --region R is required');
    const ops = await loadOpsTable('redrive', v);
    if (!ops.table.regions.includes(v.region))
      throw new UsageError(`regionsync redrive: --region ${v.region} is not a region of table ${ops.table.name} (${ops.table.regions.join(', ')})`);
    if (v['stream-failures']) {
      const r = await redriveStreamFailures({ ops, region: v.region, ...(v.max ? { max: positiveInteger('max', v.max)! } : {}) });
      if (v.json) printJson(r);
      else {
        console.log(
          `redrive ${ops.table.name} ${r.region} stream failures: ${r.batches} discarded batches and ${r.parked} parked records replayed (${r.records} stream records), ${r.parkedAgain} parked again, ${r.failed} left in ${r.queue}`,
        );
        for (const p of r.problems) console.log(`  ${p.messageId}: ${p.reason}`);
      }
      return r.failed > 0 ? 1 : 0;
    }
    await redriveAndReport(ops, v.region, v.max, v.json);
    return 0;
  },
});

/** Moves region's dead letters back and prints what moved (JSON or lines by reason); shared with `replay --dlq`. */
export async function redriveAndReport(ops: OpsTable, region: string, max: string | undefined, json: boolean | undefined): Promise<void> {
  const r = await redriveDeadLetters({
    target: ops.target,
    appName: ops.appName,
    table: ops.table.name,
    region,
    ...(ops.accounts[region] ? { account: ops.accounts[region] } : {}),
    ...(max ? { max: positiveInteger('max', max)! } : {}),
  });
  if (json) printJson(r);
  else {
    console.log(`redrive ${ops.table.name} ${r.region}: moved ${r.moved} messages (${r.changes} changes) from ${r.deadLetterQueue} to ${r.inboundQueue}`);
    for (const [reason, n] of Object.entries(r.byReason)) console.log(`  ${String(n).padStart(6)}  ${reason}`);
  }
}
