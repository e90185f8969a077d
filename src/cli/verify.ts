/** `regionsync verify`: do a table's replicas agree? Exit 0 only when they do. */
import { META_ATTRIBUTES } from '../core/contract.ts';
import { describeHolding, verifyTable, type VerifyReport } from '../ops/verify.ts';
import { loadOpsTable, positiveInteger, positiveNumber, printJson, regionList } from './ops-common.ts';
import { COMMON_OPTIONS, defineCommand } from './command.ts';

/** `regionsync verify`: runs {@link verifyTable} and lists divergent keys; exit 0 only when the regions agree. */
export const verifyCommand = defineCommand({
  name: 'verify',
  summary: "digest-compare a table's regions and list every divergent key; exit 0 only when they agree",
  description: `Compares the table in its regions by digests (a hash per key bucket of key + version + content),
then reads only the keys of buckets that differ. Exit 0 when every region holds the same items,
1 when some key differs (each is listed, with what every region holds), 2 on a usage error.`,
  options: {
    ...COMMON_OPTIONS,
    regions: { type: 'string', value: 'R1,R2', description: 'regions to compare (default: every region of the table)' },
    'max-rcu': { type: 'string', value: 'N', description: "read capacity units per second per region's table (default: unlimited)" },
    segments: { type: 'string', value: 'N', description: 'parallel scan segments per region (default 4)' },
    buckets: { type: 'string', value: 'N', description: 'digest buckets (default 256)' },
    consistent: { type: 'boolean', description: 'strongly consistent scans (twice the read capacity; differing keys are always re-read consistently)' },
  },
  run: async (v) => {
    const ops = await loadOpsTable('verify', v);
    const regions = regionList(v.regions);
    const report = await verifyTable({
      progress: process.stderr,
      ops,
      ...(regions ? { regions } : {}),
      maxRcu: positiveNumber('max-rcu', v['max-rcu']),
      segments: positiveInteger('segments', v.segments),
      buckets: positiveInteger('buckets', v.buckets),
      consistentScan: v.consistent,
    });
    if (v.json) printJson(report);
    else for (const line of formatVerify(report)) console.log(line);
    return report.agree ? 0 : 1;
  },
});

/** Text report; `details: false` leaves out the per-key listing (repair prints its own). */
export function formatVerify(r: VerifyReport, details = true): string[] {
  const lines = [
    `table ${r.table}: ${r.regions.map((g) => `${g} ${r.items[g]} items (root ${r.roots[g]!.slice(0, 12)})`).join(', ')}`,
    `  ${r.buckets.differing} of ${r.buckets.total} buckets differ; ${r.candidates} keys differed in the scan; ${r.divergent.length} divergent after re-reading`,
  ];
  for (const d of details ? r.divergent : []) {
    lines.push(`  DIVERGENT ${d.key}${d.changing ? ' (still changing: writes in flight?)' : ''}`);
    const shown = differingAttributes(Object.values(d.byRegion).map((h) => h.item));
    for (const [region, h] of Object.entries(d.byRegion))
      lines.push(`      ${region.padEnd(16)} ${describeHolding(h)}${h.item ? `  ${content(h.item, shown)}` : ''}`);
  }
  const capacity = Object.entries(r.readCapacity).map(
    ([g, c]) => `${g} ${fmt(Math.max(c.reported, c.estimated))} RCU (${c.items} items, ${(c.bytes / 1024).toFixed(0)} KiB)`,
  );
  lines.push(`  read capacity: ${capacity.join(', ')}; ${r.scansPerRegion} scan(s) per region; ${r.seconds.toFixed(1)} s`);
  lines.push(
    r.agree
      ? `  OK: replicas agree`
      : `  DIVERGED: ${r.divergent.length} keys${details ? ` (regionsync repair --table ${r.table} shows how to converge them)` : ''}`,
  );
  return lines;
}

/** The application's attributes that differ between the regions holding the item (all of them when a region lacks it). */
function differingAttributes(items: readonly (Record<string, unknown> | undefined)[]): Set<string> | undefined {
  if (items.some((i) => i === undefined)) return undefined;
  const names = new Set(items.flatMap((i) => Object.keys(i!)).filter((k) => !META_ATTRIBUTES.includes(k)));
  return new Set([...names].filter((n) => new Set(items.map((i) => JSON.stringify(i![n]))).size > 1));
}

/** What the operator needs to see of an item, shortened: --json has the whole item. */
function content(item: Record<string, unknown>, only: Set<string> | undefined): string {
  if (only && only.size === 0) return '(same attributes; metadata differs)';
  const text = JSON.stringify(Object.fromEntries(Object.entries(item).filter(([k]) => !META_ATTRIBUTES.includes(k) && (!only || only.has(k)))));
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

const fmt = (n: number) => (n >= 10 ? n.toFixed(0) : n.toFixed(1));
