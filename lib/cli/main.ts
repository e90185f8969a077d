/** The `regionsync` command line. */
import { parseArgs } from 'node:util';
import { ConfigError } from '../../lambda/core/errors.ts';
import { demoCommand } from './demo.ts';
import { upCommand } from './up.ts';
import { CONFLICTS_USAGE, conflictsMain } from './conflicts.ts';
import { STATUS_USAGE, statusMain } from './status.ts';
import { FENCE_USAGE, fenceMain } from './fence.ts';
import { BENCH_USAGE, benchCommand } from './bench.ts';
import { backfillCommand } from './backfill.ts';
import { repairCommand } from './repair.ts';
import { replayCommand } from './replay.ts';
import { redriveCommand } from './redrive.ts';
import { verifyCommand } from './verify.ts';
import { smokeCommand } from './smoke.ts';

const USAGE = `usage: regionsync <command> [options]

commands:
  demo   [--endpoint URL] [--config FILE] [--verbose]
         start moto (unless --endpoint), deploy, replicate a demo workload, check convergence (npm start)
  up     --endpoint URL [--config FILE] [--no-runtime] [--verbose] [--chaos SPEC]
         deploy every region stack to the emulator, then run the functions until Ctrl-C
         (prints a line starting with "ready" once replication is live)
         --chaos "cut region=R; throttle region=R op=PutItem p=0.2; latency from=R1 to=R2 ms=150":
         inject faults into the functions' calls (README "Failures and recovery", local/chaos.ts)
${CONFLICTS_USAGE}
${STATUS_USAGE}
${FENCE_USAGE}
${BENCH_USAGE}
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

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Commands with options of their own parse their arguments themselves.
  if (command === 'conflicts') return conflictsMain(rest);
  if (command === 'status') return statusMain(rest);
  if (command === 'fence') return fenceMain(rest);
  if (command === 'bench') return benchCommand(rest);
  if (command === 'verify') return verifyCommand(rest);
  if (command === 'repair') return repairCommand(rest);
  if (command === 'backfill') return backfillCommand(rest);
  if (command === 'replay') return replayCommand(rest);
  if (command === 'redrive') return redriveCommand(rest);
  if (command === 'smoke') return smokeCommand(rest);
  const { values } = parseArgs({
    args: rest,
    options: {
      endpoint: { type: 'string' },
      config: { type: 'string' },
      'no-runtime': { type: 'boolean', default: false },
      chaos: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  if (values.help || !command || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'demo':
      return demoCommand({ endpoint: values.endpoint, configFile: values.config, verbose: values.verbose });
    case 'up':
      if (!values.endpoint) {
        console.error('regionsync up: --endpoint is required (e.g. --endpoint http://localhost:5000); for AWS use `npx cdk deploy --all`');
        return 2;
      }
      await upCommand({ endpoint: values.endpoint, configFile: values.config, runtime: !values['no-runtime'], verbose: values.verbose, ...(values.chaos ? { chaos: values.chaos } : {}) });
      return 0;
    default:
      console.error(`regionsync: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof ConfigError) console.error(e.message);
  else console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
}
