/**
 * The `regionsync` command line: the operator's commands, each a module of the same shape
 * (command.ts: one parser, `--help` from the same spec). The local environment's commands (`up`,
 * `demo`, `bench`) live with the local runtime in dev/cli and are handed in by bin/regionsync.js,
 * so nothing here imports the development tooling.
 */
import { ConfigError } from '../core/errors.ts';
import { adoptCommand } from './adopt.ts';
import { backfillCommand } from './backfill.ts';
import type { Command } from './command.ts';
import { conflictsCommand } from './conflicts.ts';
import { consoleCommand } from './console.ts';
import { fenceCommand } from './fence.ts';
import { redriveCommand } from './redrive.ts';
import { repairCommand } from './repair.ts';
import { replayCommand } from './replay.ts';
import { smokeCommand } from './smoke.ts';
import { statusCommand } from './status.ts';
import { verifyCommand } from './verify.ts';

/** The operator's commands, in the order `regionsync help` lists them. */
export const COMMANDS: readonly Command[] = [
  statusCommand,
  consoleCommand,
  conflictsCommand,
  fenceCommand,
  verifyCommand,
  repairCommand,
  backfillCommand,
  adoptCommand,
  replayCommand,
  redriveCommand,
  smokeCommand,
];

/** `regionsync help`: every command's one-line summary, generated from the same specs as their `--help`. */
export function usage(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: regionsync <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'regionsync <command> --help describes a command and every option.',
  ].join('\n');
}

/**
 * Runs `regionsync <command> ...` with the operator's commands and `extra` (the local environment's);
 * resolves to the exit code: the command's, 0 for `help`, 2 for no command or an unknown one.
 */
export async function main(argv: string[], extra: readonly Command[] = []): Promise<number> {
  const commands = [...extra, ...COMMANDS];
  const [name, ...rest] = argv;
  const command = commands.find((c) => c.name === name);
  if (command) return command.run(rest);
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage(commands));
    return name ? 0 : 2;
  }
  console.error(`regionsync: unknown command "${name}"\n\n${usage(commands)}`);
  return 2;
}

/** Runs the command line and sets the process's exit code (bin/regionsync.js). */
export async function run(argv: string[], extra: readonly Command[] = []): Promise<void> {
  try {
    process.exitCode = await main(argv, extra);
  } catch (e) {
    if (e instanceof ConfigError) console.error(e.message);
    else console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exitCode = 1;
  }
}
