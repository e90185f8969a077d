/** `regionsync replay`: ship again a region's changes from its stream, or move dead-lettered messages back. */
import { parseTime, replayStream } from '../ops/replay.ts';
import { redriveAndReport } from './redrive.ts';
import { loadOpsTable, printJson, regionList, UsageError } from './ops-common.ts';
import { COMMON_OPTIONS, defineCommand } from './command.ts';

/** `regionsync replay`: {@link replayStream} over a time range, or with `--dlq` the dead-letter redrive. */
export const replayCommand = defineCommand({
  name: 'replay',
  summary: "ship again a region's changes from its stream, or move its dead-letter queue back (--dlq)",
  description: `From the stream (kept 24 h): ships again the changes region R made between --since and --until
(default now) to the other regions (or --to); per key the newest version in the range. TIME is
ISO 8601, epoch ms, or a duration ago (90s, 15m, 2h).
With --dlq: moves the messages in R's dead-letter queue back to R's inbound queue (after fixing
why they failed) and reports what moved, by reason.`,
  options: {
    ...COMMON_OPTIONS,
    region: { type: 'string', value: 'R', required: true, description: 'the region whose changes (or dead-letter queue) to replay' },
    since: { type: 'string', value: 'TIME', description: 'the start of the range (required without --dlq)' },
    until: { type: 'string', value: 'TIME', description: 'the end of the range (default now)' },
    to: { type: 'string', value: 'R1,R2', description: 'the regions to ship to (default: every other region)' },
    'dry-run': { type: 'boolean', description: 'say what would be shipped, ship nothing' },
    dlq: { type: 'boolean', description: "move R's dead-letter queue back to its inbound queue instead" },
    max: { type: 'string', value: 'N', description: 'with --dlq: move at most N messages' },
  },
  run: async (v) => {
    if (!v.region) throw new UsageError('regionsync replay: --region R is required');
    const ops = await loadOpsTable('replay', v);
    if (!ops.table.regions.includes(v.region))
      throw new UsageError(`regionsync replay: --region ${v.region} is not a region of table ${ops.table.name} (${ops.table.regions.join(', ')})`);
    if (v.dlq) {
      await redriveAndReport(ops, v.region, v.max, v.json);
      return 0;
    }
    if (!v.since) throw new UsageError('regionsync replay: --since TIME is required (or --dlq)');
    let since: number;
    let until: number | undefined;
    try {
      since = parseTime(v.since);
      until = v.until ? parseTime(v.until) : undefined;
    } catch (e) {
      throw new UsageError(`regionsync replay: ${(e as Error).message}`);
    }
    const to = regionList(v.to);
    const r = await replayStream({
      ops,
      progress: process.stderr,
      region: v.region,
      since,
      ...(until !== undefined ? { until } : {}),
      ...(to ? { to } : {}),
      dryRun: v['dry-run'],
    });
    if (v.json) printJson(r);
    else {
      console.log(
        `replay ${r.table} ${r.region} ${r.since} .. ${r.until}: ${r.records} stream records read, ${r.inRange} in range; ` +
          `${r.keys} keys ${r.dryRun ? 'would be shipped' : `shipped (${r.changesSent} changes, ${r.messagesSent} messages)`} to ${r.to.join(', ')}; ` +
          `skipped ${r.skipped.unversioned} not yet stamped, ${r.skipped.otherOrigin} made in other regions, ${r.skipped.noImage} without a new image`,
      );
    }
    return 0;
  },
});
