/**
 * `regionsync fence --region R --table T [on|off] [--reason TEXT] [--endpoint URL] [--config FILE] [--json]`:
 * sets or lifts the manual write fence of a table in a region (alarms set their own; see
 * src/core/fence.ts), or, without on/off, prints the table's fence state there.
 */
import { COMMON_OPTIONS, defineCommand, UsageError } from './command.ts';
import { loadResolvedConfig } from './ops-common.ts';
import { WriteFence } from '../client/fencing.ts';
import { dynamodb, targetOf } from '../ops/aws.ts';

/** `regionsync fence`: sets or lifts a table's manual fence in a region, then prints its fence state there. */
export const fenceCommand = defineCommand({
  name: 'fence',
  summary: 'set or lift the manual write fence of a table in a region; without on/off, show its state',
  options: {
    region: { type: 'string', value: 'R', required: true, description: 'the region' },
    table: { ...COMMON_OPTIONS.table, required: true, description: 'the table (its logical name in the config)' },
    reason: { type: 'string', value: 'TEXT', description: 'why (shown with the fence)' },
    endpoint: COMMON_OPTIONS.endpoint,
    config: COMMON_OPTIONS.config,
    app: COMMON_OPTIONS.app,
    'app-region': COMMON_OPTIONS['app-region'],
    json: COMMON_OPTIONS.json,
  },
  positionals: { usage: '[on|off]', max: 1 },
  run: async (values, positionals, { out }) => {
    const action = positionals[0];
    if (action !== undefined && action !== 'on' && action !== 'off') throw new UsageError(`expected on or off, got "${action}"`);
    const region = values.region!;
    const config = await loadResolvedConfig(values);
    const table = config.tables.find((t) => t.name === values.table);
    if (!table) throw new Error(`--table: no table "${values.table}" in the config (tables: ${config.tables.map((t) => t.name).join(', ')})`);
    if (!table.regions.includes(region))
      throw new Error(`--region: table "${table.name}" does not live in "${region}" (its regions: ${table.regions.join(', ')})`);
    const client = dynamodb(targetOf(config, values.endpoint), region);
    try {
      const fence = new WriteFence({ appName: config.appName, clients: { [region]: client }, cacheMs: 0 });
      if (action) await fence.setManual(region, table.name, action === 'on', values.reason ?? `set by regionsync fence (${process.env.USER ?? 'operator'})`);
      const state = await fence.state(region, table.name);
      if (values.json) out(`${JSON.stringify({ region: region, ...state }, null, 2)}\n`);
      else {
        out(`${table.name} in ${region}: ${state.fenced ? 'FENCED' : 'not fenced'}\n`);
        for (const r of state.reasons) out(`  ${r.source} since ${new Date(r.at).toISOString()}${r.reason ? `: ${r.reason}` : ''}\n`);
      }
      return 0;
    } finally {
      client.destroy();
    }
  },
});

/** `regionsync fence`, writing to `out` (tests). */
export function fenceMain(args: string[], out?: (s: string) => void): Promise<number> {
  return fenceCommand.run(args, out ? { out } : {});
}
