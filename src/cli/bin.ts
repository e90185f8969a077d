/**
 * The installed package's `regionsync` command (bin/regionsync.js runs the compiled form of this
 * file when the checkout's dev/ is absent): the operator's commands only. The checkout's command
 * adds the local environment's (dev/cli/index.ts).
 */
import { run } from './main.ts';

await run(process.argv.slice(2));
