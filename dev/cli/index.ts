/**
 * The `regionsync` command with the local environment's commands (`demo`, `up`, `bench`) added to
 * the operator's (src/cli/main.ts): what bin/regionsync.js runs. They live here, beside the local
 * runtime and the benchmark they start, because the product never imports development tooling.
 */
import { COMMON_OPTIONS, defineCommand, type Command } from '../../src/cli/command.ts';
import { CONSOLE_OPTIONS, consoleSettings } from '../../src/cli/console.ts';
import { run } from '../../src/cli/main.ts';
import { benchCommand } from './bench.ts';
import { demoCommand } from './demo.ts';
import { upCommand } from './up.ts';

const demo = defineCommand({
  name: 'demo',
  summary: 'start moto (unless --endpoint), deploy, replicate a demo workload, check convergence (npm start)',
  options: {
    endpoint: COMMON_OPTIONS.endpoint,
    config: COMMON_OPTIONS.config,
    verbose: { type: 'boolean', description: 'show the deploy and the runtime' },
    console: { type: 'boolean', description: 'after the demo, keep everything running and serve the ops console (docs/console.md) until Ctrl-C' },
    ...CONSOLE_OPTIONS,
  },
  run: (v) => demoCommand({ endpoint: v.endpoint, configFile: v.config, verbose: v.verbose, ...(v.console ? { console: consoleSettings(v) } : {}) }),
});

const up = defineCommand({
  name: 'up',
  summary: 'deploy every region stack to the emulator, then run the functions until Ctrl-C ("ready" once replication is live)',
  description: `For AWS use \`npx cdk deploy --all\`.
--chaos "cut region=R; throttle region=R op=PutItem p=0.2; latency from=R1 to=R2 ms=150" injects faults
into the functions' calls (docs/local.md, "Fault injection in the local environment"; dev/local/chaos.ts).`,
  options: {
    endpoint: { ...COMMON_OPTIONS.endpoint, required: true, description: 'the emulator (e.g. http://localhost:5000)' },
    config: COMMON_OPTIONS.config,
    'no-runtime': { type: 'boolean', description: 'deploy only; run no functions' },
    verbose: { type: 'boolean', description: 'show the deploy and the runtime' },
    chaos: { type: 'string', value: 'SPEC', description: "faults to inject into the functions' calls" },
    'no-alarms': { type: 'boolean', description: "don't create and evaluate the app's alarms in the emulator (moto does neither)" },
    console: { type: 'boolean', description: 'serve the ops console (docs/console.md) while running' },
    ...CONSOLE_OPTIONS,
  },
  run: async (v) => {
    const console = v.console ? consoleSettings(v) : undefined;
    await upCommand({
      endpoint: v.endpoint!,
      configFile: v.config,
      runtime: !v['no-runtime'],
      verbose: v.verbose,
      alarms: !v['no-alarms'],
      ...(v.chaos ? { chaos: v.chaos } : {}),
      ...(console ? { console } : {}),
    });
    return 0;
  },
});

export const DEV_COMMANDS: readonly Command[] = [demo, up, benchCommand];

await run(process.argv.slice(2), DEV_COMMANDS);
