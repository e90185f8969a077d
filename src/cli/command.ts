/**
 * The one shape of a `regionsync` subcommand: a spec (name, one-line summary, description, options
 * each with its own description) parsed by one parser (node:util parseArgs), with `--help` and the
 * top-level command list generated from the same spec. A usage error (an unknown option, a missing
 * or bad value) prints the message and the command's usage and exits 2.
 */
import { parseArgs } from 'node:util';

/** One option of a command. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** What it does, for `--help`. */
  readonly description: string;
  /**
   * The value's placeholder in the usage line (string options).
   * @default 'VALUE'
   */
  readonly value?: string;
  /**
   * The value when the option is not given.
   * @default undefined (string), false (boolean)
   */
  readonly default?: string;
  /**
   * Whether the command refuses to run without it.
   * @default false
   */
  readonly required?: boolean;
}

/** A command's options by name: each is the flag `--<name>`. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The parsed options: strings (undefined when absent, unless defaulted) and booleans. */
export type OptionValues<O extends OptionSpecs> = { -readonly [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean : string | undefined };

/** Where a command writes (tests pass their own). */
export interface CommandIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** What a subcommand is made of; {@link defineCommand} makes it a {@link Command}. */
export interface CommandSpec<O extends OptionSpecs> {
  /** The subcommand: `regionsync <name>`. */
  readonly name: string;
  /** One line for `regionsync help`. */
  readonly summary: string;
  /**
   * Paragraphs for `regionsync <name> --help`, below the usage line.
   * @default none
   */
  readonly description?: string;
  /** The options, each with its description (`--help` is added). */
  readonly options: O;
  /**
   * Positional arguments, as the usage line shows them (`[on|off]`), and how many at most.
   * @default none accepted
   */
  readonly positionals?: { readonly usage: string; readonly max: number };
  /** The command's body; returns the exit code. Throw UsageError for a bad combination of options. */
  readonly run: (values: OptionValues<O>, positionals: string[], io: CommandIO) => Promise<number>;
}

/** A subcommand as `regionsync` lists and runs it. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** The full `--help` text. */
  usage(): string;
  /** Parses `argv` (the arguments after the subcommand) and runs; resolves to the exit code. */
  run(argv: string[], io?: Partial<CommandIO>): Promise<number>;
}

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** Options most commands share (spread into a spec's `options`). */
export const COMMON_OPTIONS = {
  table: { type: 'string', value: 'T', description: 'the table (its logical name in the config; default: the only table)' },
  endpoint: { type: 'string', value: 'URL', description: 'an emulator endpoint (moto, LocalStack); default: AWS' },
  config: { type: 'string', value: 'FILE', description: 'the configuration module (default regionsync.config.ts, or $REGIONSYNC_CONFIG)' },
  app: {
    type: 'string',
    value: 'NAME',
    description:
      'instead of a config file: read the configuration the app NAME deployed, from its stacks (an app built with the Replication construct in your own CDK code)',
  },
  'app-region': { type: 'string', value: 'REGION', description: 'with --app: a region the app deploys to (default $AWS_REGION)' },
  json: { type: 'boolean', description: 'print the result as JSON on stdout (progress stays on stderr)' },
} as const satisfies OptionSpecs;

const STDIO: CommandIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/**
 * Makes a {@link Command} of its spec: parses strictly (node:util parseArgs), answers `--help`, checks
 * required options, then runs the body; a UsageError prints the message and the usage and exits 2.
 */
export function defineCommand<O extends OptionSpecs>(spec: CommandSpec<O>): Command {
  const usage = () => usageOf(spec);
  return {
    name: spec.name,
    summary: spec.summary,
    usage,
    async run(argv, given = {}) {
      const io: CommandIO = { ...STDIO, ...given };
      try {
        const { values, positionals } = parse(spec, argv);
        if (values.help) {
          io.out(`${usage()}\n`);
          return 0;
        }
        for (const [name, o] of Object.entries(spec.options)) {
          if (o.required && values[name] === undefined) throw new UsageError(`--${name} ${o.value ?? 'VALUE'} is required`);
        }
        return await spec.run(values as OptionValues<O>, positionals, io);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        io.err(`regionsync ${spec.name}: ${e.message.replace(new RegExp(`^regionsync ${spec.name}: `), '')}\n\n${usage()}\n`);
        return 2;
      }
    },
  };
}

function parse<O extends OptionSpecs>(spec: CommandSpec<O>, argv: string[]) {
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([name, o]) => [
      name,
      o.type === 'boolean'
        ? { type: 'boolean' as const, default: false }
        : { type: 'string' as const, ...(o.default !== undefined ? { default: o.default } : {}) },
    ]),
  );
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h', default: false } },
      allowPositionals: spec.positionals !== undefined,
      strict: true,
    });
    if (parsed.positionals.length > (spec.positionals?.max ?? 0))
      throw new UsageError(`unexpected argument "${parsed.positionals[spec.positionals?.max ?? 0]}"`);
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError((e as Error).message);
  }
}

function usageOf<O extends OptionSpecs>(spec: CommandSpec<O>): string {
  const entries = Object.entries(spec.options);
  const flag = ([name, o]: [string, OptionSpec]) => (o.type === 'boolean' ? `--${name}` : `--${name} ${o.value ?? 'VALUE'}`);
  const tokens = [
    `usage: regionsync ${spec.name}`,
    ...entries.map((e) => (e[1].required ? flag(e) : `[${flag(e)}]`)),
    ...(spec.positionals ? [spec.positionals.usage] : []),
  ];
  const width = Math.max(...entries.map((e) => flag(e).length), 6);
  const options = entries.map((e) => `  ${flag(e).padEnd(width)}  ${e[1].description}${e[1].default !== undefined ? ` (default ${e[1].default})` : ''}`);
  return [
    wrap(tokens, 100),
    '',
    spec.summary,
    ...(spec.description ? ['', spec.description] : []),
    '',
    'options:',
    ...options,
    `  ${'--help'.padEnd(width)}  this text`,
  ].join('\n');
}

/** Wraps a usage line's tokens at `width`, continuation lines indented under the command. */
function wrap(tokens: readonly string[], width: number): string {
  const lines: string[] = [];
  let current = '';
  for (const w of tokens) {
    if (current && current.length + 1 + w.length > width) {
      lines.push(current);
      current = `        ${w}`;
    } else current = current ? `${current} ${w}` : w;
  }
  lines.push(current);
  return lines.join('\n');
}
