/**
 * The one shape of a `regionsync` subcommand (src/cli/command.ts): `--help` and the command list
 * come from the same spec the parser uses, and a usage error names itself and exits 2.
 */
import { describe, expect, it } from 'vitest';
import { defineCommand } from '../../src/cli/command.ts';
import { COMMANDS, usage } from '../../src/cli/main.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

const example = defineCommand({
  name: 'example',
  summary: 'does one thing',
  options: {
    table: { type: 'string', value: 'T', required: true, description: 'the table' },
    limit: { type: 'string', value: 'N', default: '5', description: 'at most N' },
    json: { type: 'boolean', description: 'JSON out' },
  },
  positionals: { usage: '[on|off]', max: 1 },
  run: async (v, positionals, io) => {
    io.out(JSON.stringify({ v, positionals }));
    return 0;
  },
});

describe('a command defined by its spec', () => {
  it('parses its options with their defaults and hands them to the body', async () => {
    // Prepare
    const c = capture();
    // Act
    const code = await example.run(['--table', 'orders', 'on'], c.io);
    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(c.out.join(''))).toEqual({ v: { table: 'orders', limit: '5', json: false, help: false }, positionals: ['on'] });
  });

  it('prints --help generated from the spec: the usage line and every option with its description and default', async () => {
    const c = capture();
    expect(await example.run(['--help'], c.io)).toBe(0);
    const help = c.out.join('');
    expect(help).toContain('usage: regionsync example --table T [--limit N] [--json] [on|off]');
    expect(help).toMatch(/--limit N +at most N \(default 5\)/);
    expect(help).toMatch(/--json +JSON out/);
  });

  it.each([
    [['--bogus', '--table', 't'], /Unknown option '--bogus'/],
    [[], /--table T is required/],
    [['--table', 't', 'on', 'off'], /unexpected argument "off"/],
  ])('refuses %j with exit code 2, the reason and the usage', async (argv, reason) => {
    const c = capture();
    expect(await example.run(argv, c.io)).toBe(2);
    expect(c.err.join('')).toMatch(reason);
    expect(c.err.join('')).toContain('usage: regionsync example');
    expect(c.out).toEqual([]);
  });
});

describe('the operator commands', () => {
  it('each has a summary in `regionsync help`, and every option a description in its --help', async () => {
    const list = usage(COMMANDS);
    for (const command of COMMANDS) {
      expect(list).toContain(`  ${command.name}`);
      expect(command.summary.length).toBeGreaterThan(10);
      const help = command.usage();
      expect(help.startsWith(`usage: regionsync ${command.name}`)).toBe(true);
      // Every option line carries a description after the flag.
      for (const line of help.split('\n').filter((l) => /^ {2}--/.test(l))) expect(line).toMatch(/^ {2}--\S+( \S+)? {2,}\S/);
    }
  });
});
