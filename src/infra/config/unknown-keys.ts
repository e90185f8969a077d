/**
 * Unknown settings in a user's config: a typo such as `replicat:` must fail synth, not quietly
 * turn a feature off. The config's zod schema (schema.ts) is strict; this turns its
 * `unrecognized_keys` issues into messages that name the path and the nearest known setting.
 */
import type { z } from 'zod';

/**
 * One message per unknown key, e.g. `tables[0].replicat: unknown setting; did you mean 'replicate'?`.
 * Other issues (wrong types, bad values) are left to validateConfig, which names what is expected.
 */
export function unknownKeyProblems(schema: z.ZodType, input: unknown): string[] {
  const parsed = schema.safeParse(input);
  if (parsed.success) return [];
  const problems: string[] = [];
  for (const issue of parsed.error.issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = knownKeysAt(schema, issue.path, input);
    for (const key of issue.keys) {
      const alias = ALIASES[key];
      const nearest = alias && known.includes(alias) ? alias : nearestName(key, known);
      const value = valueAt(input, [...issue.path, key]);
      problems.push(
        `${renderPath([...issue.path, key])}: unknown setting${nearest ? `; did you mean '${nearest}'?` : known.length > 0 ? ` (known: ${known.join(', ')})` : ''} (got ${shortJson(value)})`,
      );
    }
  }
  return problems;
}

/** Names users reach for that are not typos of the setting they mean. */
const ALIASES: Readonly<Record<string, string>> = {
  selection: 'replicate',
  replication: 'replicate',
  filter: 'replicate',
  strategy: 'conflictResolution',
  resolver: 'conflictResolution',
};

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((v, step) => (v as Record<PropertyKey, unknown> | undefined)?.[step as never], input);
}

function shortJson(value: unknown): string {
  const json = JSON.stringify(value) ?? 'undefined';
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** `tables[0].replicate.to`: the path as a user reads it. */
export function renderPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** The keys the schema knows for the object at `path` (the matching union member, by the input's value). */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[], input: unknown): string[] {
  let node: unknown = schema;
  let value: unknown = input;
  for (const step of [...path, undefined]) {
    node = unwrap(node, value);
    if (step === undefined) break;
    const def = defOf(node);
    if (def.type === 'object') node = (def.shape as Record<string, unknown>)[String(step)];
    else if (def.type === 'array') node = def.element;
    else if (def.type === 'record') node = def.valueType;
    else return [];
    value = (value as Record<PropertyKey, unknown> | undefined)?.[step as never];
  }
  const def = defOf(node);
  return def.type === 'object' ? Object.keys(def.shape as object) : [];
}

/** Through optional/readonly wrappers, and into the union member the value belongs to. */
function unwrap(node: unknown, value: unknown): unknown {
  for (let guard = 0; guard < 20; guard++) {
    const def = defOf(node);
    if (def.type === 'optional' || def.type === 'readonly' || def.type === 'nullable' || def.type === 'default') node = def.innerType;
    else if (def.type === 'union') {
      const options = def.options as z.ZodType[];
      const objects = options.filter((o) => defOf(o).type === 'object');
      const disc = def.discriminator as string | undefined;
      const chosen = disc
        ? objects.find((o) =>
            (defOf(defOf(o).shape ? (defOf(o).shape as Record<string, unknown>)[disc] : undefined).values as unknown[] | undefined)?.includes(
              (value as Record<string, unknown>)?.[disc],
            ),
          )
        : objects[0];
      node = chosen ?? objects[0] ?? options[0];
    } else return node;
  }
  return node;
}

/** zod keeps its schema definition untyped (`_zod.def`): read as a loose record. */
// biome-ignore lint/suspicious/noExplicitAny: see above
type ZodDef = Record<string, any>;

function defOf(node: unknown): ZodDef {
  return ((node as { _zod?: { def?: Record<string, unknown> } } | undefined)?._zod?.def ?? {}) as ZodDef;
}

/** The known name closest to `name` by edit distance, when it is close enough to be a typo. */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (!best || d < best.distance) best = { name: k, distance: d };
  }
  if (!best) return undefined;
  // A typo, a missing or extra letter or two; or one name the start of the other (`replicat`, `selection` is not).
  const close = best.distance <= Math.max(2, Math.floor(best.name.length / 3)) || best.name.toLowerCase().startsWith(name.toLowerCase());
  return close ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
