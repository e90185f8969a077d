/**
 * `regionsync fence --region R --table T [on|off] [--reason TEXT] [--endpoint URL] [--config FILE] [--json]`:
 * sets or lifts the manual write fence of a table in a region (alarms set their own; see
 * src/core/fence.ts), or, without on/off, prints the table's fence state there.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../infra/config/load.ts';
import { validateConfig } from '../infra/config/validate.ts';
import { WriteFence } from '../client/fencing.ts';
import { dynamodb, targetOf } from '../ops/aws.ts';

export const FENCE_USAGE = `  fence  --region R --table T [on|off] [--reason TEXT] [--endpoint URL] [--config FILE] [--json]
         set or lift the manual write fence of a table in a region; without on/off, show its state`;

export async function fenceMain(args: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      endpoint: { type: 'string' },
      config: { type: 'string' },
      region: { type: 'string' },
      table: { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const action = positionals[0];
  if (!values.region || !values.table || positionals.length > 1 || (action !== undefined && action !== 'on' && action !== 'off')) {
    process.stderr.write(`usage:\n${FENCE_USAGE}\n`);
    return 2;
  }
  const config = validateConfig(await loadConfig(values.config));
  const table = config.tables.find((t) => t.name === values.table);
  if (!table) throw new Error(`--table: no table "${values.table}" in the config (tables: ${config.tables.map((t) => t.name).join(', ')})`);
  if (!table.regions.includes(values.region))
    throw new Error(`--region: table "${table.name}" does not live in "${values.region}" (its regions: ${table.regions.join(', ')})`);
  const client = dynamodb(targetOf(config, values.endpoint), values.region);
  try {
    const fence = new WriteFence({ appName: config.appName, clients: { [values.region]: client }, cacheMs: 0 });
    if (action)
      await fence.setManual(values.region, table.name, action === 'on', values.reason ?? `set by regionsync fence (${process.env.USER ?? 'operator'})`);
    const state = await fence.state(values.region, table.name);
    if (values.json) out(`${JSON.stringify({ region: values.region, ...state }, null, 2)}\n`);
    else {
      out(`${table.name} in ${values.region}: ${state.fenced ? 'FENCED' : 'not fenced'}\n`);
      for (const r of state.reasons) out(`  ${r.source} since ${new Date(r.at).toISOString()}${r.reason ? `: ${r.reason}` : ''}\n`);
    }
    return 0;
  } finally {
    client.destroy();
  }
}
