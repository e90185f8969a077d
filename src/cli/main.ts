/**
 * The `regionsync` command line: the operator's commands. The local environment's commands (`up`,
 * `demo`, `bench`) live with the local runtime in dev/cli and are handed in by bin/regionsync.js,
 * so nothing here imports the development tooling.
 */
import { ConfigError } from '../core/errors.ts';
import { CONFLICTS_USAGE, conflictsMain } from './conflicts.ts';
import { STATUS_USAGE, statusMain } from './status.ts';
import { FENCE_USAGE, fenceMain } from './fence.ts';
import { backfillCommand } from './backfill.ts';
import { repairCommand } from './repair.ts';
import { replayCommand } from './replay.ts';
import { redriveCommand } from './redrive.ts';
import { verifyCommand } from './verify.ts';
import { smokeCommand } from './smoke.ts';

/** A command handed in from outside the product (the local environment's): its usage lines and its entry. */
export interface ExtraCommand {
  readonly usage: string;
  readonly run: (argv: string[]) => Promise<number>;
}

const usage = (extra: Readonly<Record<string, ExtraCommand>>) => `usage: regionsync <command> [options]

commands:
${Object.values(extra)
  .map((c) => c.usage)
  .join('\n')}
${CONFLICTS_USAGE}
${STATUS_USAGE}
${FENCE_USAGE}
  verify   --table T [--regions R1,R2] [--max-rcu N] [--json]
           digest-compare the table's regions; list every divergent key; exit 0 only when they agree
  repair   --table T [--apply] [--prefer REGION] [--json]
           converge the divergent keys through the normal apply path (dry run without --apply)
  backfill --table T --to REGION [--from REGION] [--max-rcu N] [--restart] [--json]
           copy existing items into a new or lagging region while writes continue; resumable
  replay   --table T --region R --since TIME [--until TIME] [--to R1,R2] | --dlq [--max N]
           ship again a region's changes from its stream, or move its dead-letter queue back
  redrive  --table T --region R [--max N] [--json]
           move R's dead-letter queue back to its inbound queue after a fix; reports what moved
  smoke    --table T [--from REGION] [--timeout S] [--json]
           on your account after cdk deploy: a put, an update from another region and a delete of
           one new key must reach every region; reports how long each took; cleans up
           (each of these: --help for every option)

options:
  --config FILE   the configuration module (default regionsync.config.ts, or $REGIONSYNC_CONFIG)
`;

export async function main(argv: string[], extra: Readonly<Record<string, ExtraCommand>> = {}): Promise<number> {
  const [command, ...rest] = argv;
  // Each command parses its own arguments.
  if (command === 'conflicts') return conflictsMain(rest);
  if (command === 'status') return statusMain(rest);
  if (command === 'fence') return fenceMain(rest);
  if (command === 'verify') return verifyCommand(rest);
  if (command === 'repair') return repairCommand(rest);
  if (command === 'backfill') return backfillCommand(rest);
  if (command === 'replay') return replayCommand(rest);
  if (command === 'redrive') return redriveCommand(rest);
  if (command === 'smoke') return smokeCommand(rest);
  if (command && Object.hasOwn(extra, command)) return extra[command]!.run(rest);
  if (!command || command === 'help' || command === '--help') {
    console.log(usage(extra));
    return command ? 0 : 2;
  }
  console.error(`regionsync: unknown command "${command}"\n\n${usage(extra)}`);
  return 2;
}

/** Runs the command line and sets the process's exit code (bin/regionsync.js). */
export async function run(argv: string[], extra: Readonly<Record<string, ExtraCommand>> = {}): Promise<void> {
  try {
    process.exitCode = await main(argv, extra);
  } catch (e) {
    if (e instanceof ConfigError) console.error(e.message);
    else console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exitCode = 1;
  }
}
