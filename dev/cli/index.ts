/**
 * The `regionsync` command with the local environment's commands (`demo`, `up`, `bench`) added to
 * the operator's (src/cli/main.ts): what bin/regionsync.js runs. They live here, beside the local
 * runtime and the benchmark they start, because the product never imports development tooling.
 */
import { parseArgs } from 'node:util';
import { run, type ExtraCommand } from '../../src/cli/main.ts';
import { BENCH_USAGE, benchCommand } from './bench.ts';
import { demoCommand } from './demo.ts';
import { upCommand } from './up.ts';

const DEMO_USAGE = `  demo   [--endpoint URL] [--config FILE] [--verbose]
         start moto (unless --endpoint), deploy, replicate a demo workload, check convergence (npm start)`;
const UP_USAGE = `  up     --endpoint URL [--config FILE] [--no-runtime] [--verbose] [--chaos SPEC]
         deploy every region stack to the emulator, then run the functions until Ctrl-C
         (prints a line starting with "ready" once replication is live)
         --chaos "cut region=R; throttle region=R op=PutItem p=0.2; latency from=R1 to=R2 ms=150":
         inject faults into the functions' calls (docs/local.md "Fault injection", dev/local/chaos.ts)`;

/** `demo` and `up` share these options. */
function parseLocal(argv: string[], name: string, usage: string) {
  const { values } = parseArgs({
    args: argv,
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
  if (values.help) console.log(`usage: regionsync ${name} ...\n${usage}`);
  return values;
}

export const DEV_COMMANDS: Readonly<Record<string, ExtraCommand>> = {
  demo: {
    usage: DEMO_USAGE,
    run: async (argv) => {
      const values = parseLocal(argv, 'demo', DEMO_USAGE);
      if (values.help) return 0;
      return demoCommand({ endpoint: values.endpoint, configFile: values.config, verbose: values.verbose });
    },
  },
  up: {
    usage: UP_USAGE,
    run: async (argv) => {
      const values = parseLocal(argv, 'up', UP_USAGE);
      if (values.help) return 0;
      if (!values.endpoint) {
        console.error('regionsync up: --endpoint is required (e.g. --endpoint http://localhost:5000); for AWS use `npx cdk deploy --all`');
        return 2;
      }
      await upCommand({
        endpoint: values.endpoint,
        configFile: values.config,
        runtime: !values['no-runtime'],
        verbose: values.verbose,
        ...(values.chaos ? { chaos: values.chaos } : {}),
      });
      return 0;
    },
  },
  bench: { usage: BENCH_USAGE.replace(/\n$/, ''), run: benchCommand },
};

await run(process.argv.slice(2), DEV_COMMANDS);
