/** `regionsync adopt`: bring a table that already exists, with its data, under replication (docs/adopting.md). */
import { resolve } from 'node:path';
import { AdoptionError, backfillAdoption, prepareAdoption, recordAdoptionContext } from '../ops/adopt.ts';
import { COMMON_OPTIONS, defineCommand } from './command.ts';
import { loadOpsTable, positiveNumber, printJson, UsageError } from './ops-common.ts';

/** `regionsync adopt`: step 1 (enable streams, record their ARNs) or, with --backfill, step 3; exit 1 when a table cannot be adopted as it is. */
export const adoptCommand = defineCommand({
  name: 'adopt',
  summary: 'bring existing tables (adoptIn) under replication: enable their streams, then backfill after the deploy',
  description: `Step 1 (without --backfill): in every region the table's adoptIn lists, checks the table's
key schema against the config, enables its stream (NEW_AND_OLD_IMAGES) if it has none, and records
the stream's ARN in the CDK app's cdk.context.json, where the synth reads it. Then deploy.
Step 3 (--backfill, after the deploy): copies what each region held before replication started into
every other region, resumably, while the application keeps writing (newer writes always win).`,
  options: {
    ...COMMON_OPTIONS,
    'context-file': {
      type: 'string',
      value: 'FILE',
      default: 'cdk.context.json',
      description: "the CDK app's context file to record the stream ARNs in (default ./cdk.context.json)",
    },
    backfill: { type: 'boolean', description: 'step 3, after the deploy: backfill every region from every other' },
    'max-rcu': { type: 'string', value: 'N', description: 'with --backfill: read capacity units per second on each source table (default: unlimited)' },
    restart: { type: 'boolean', description: 'with --backfill: discard saved progress and start every pair over' },
  },
  run: async (v, _positionals, io) => {
    const ops = await loadOpsTable('adopt', v);
    if (!ops.table.adoptIn?.length)
      throw new UsageError(`table ${ops.table.name} has no adoptIn: list the regions where it already exists in the config first`);
    try {
      if (v.backfill) {
        const reports = await backfillAdoption({ ops, progress: process.stderr, maxRcu: positiveNumber('max-rcu', v['max-rcu']), restart: v.restart });
        if (v.json) printJson(reports);
        else
          for (const r of reports)
            io.out(
              `backfill ${r.from} → ${r.to}: ${r.scanned} scanned, ${r.sent} sent, ${r.touched} stamped at the source and sent${r.complete ? '' : ' (interrupted)'}\n`,
            );
        const complete = reports.every((r) => r.complete);
        if (!v.json) io.out(complete ? `adopted; check with: regionsync verify --table ${ops.table.name}\n` : 'interrupted: run the same command to resume\n');
        return complete ? 0 : 1;
      }
      const adopted = await prepareAdoption({ ops });
      const file = resolve(v['context-file'] ?? 'cdk.context.json');
      await recordAdoptionContext(file, adopted);
      if (v.json) printJson({ contextFile: file, adopted });
      else {
        for (const a of adopted) io.out(`${a.tableName} in ${a.region}: stream ${a.enabledStream ? 'enabled' : 'already enabled'}, ${a.streamArn}\n`);
        io.out(`recorded in ${file}; next: deploy, then regionsync adopt --table ${ops.table.name} --backfill\n`);
      }
      return 0;
    } catch (e) {
      if (!(e instanceof AdoptionError)) throw e;
      io.err(`regionsync adopt: ${e.message}\n`);
      return 1;
    }
  },
});
