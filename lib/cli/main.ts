/** The `regionsync` command line. */
import { parseArgs } from 'node:util';
import { ConfigError } from '../../lambda/core/errors.ts';
import { demoCommand } from './demo.ts';
import { upCommand } from './up.ts';

const USAGE = `usage: regionsync <command> [options]

commands:
  demo   [--endpoint URL] [--config FILE] [--verbose]
         start moto (unless --endpoint), deploy, replicate a demo workload, check convergence (npm start)
  up     --endpoint URL [--config FILE] [--no-runtime] [--verbose]
         deploy every region stack to the emulator, then run the functions until Ctrl-C
         (prints a line starting with "ready" once replication is live)

options:
  --config FILE   the configuration module (default regionsync.config.ts, or $REGIONSYNC_CONFIG)
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      endpoint: { type: 'string' },
      config: { type: 'string' },
      'no-runtime': { type: 'boolean', default: false },
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
      await upCommand({ endpoint: values.endpoint, configFile: values.config, runtime: !values['no-runtime'], verbose: values.verbose });
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
