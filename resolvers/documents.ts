/**
 * Example custom resolver (table `documents`): when two regions edit a document concurrently,
 * keep the edit with more words in `body`, keep every tag either side had, and add up `edits`.
 * Deterministic: no clock, no randomness, ties broken by comparing values.
 * `npm test` checks it with checkResolver (test/unit/resolvers.test.ts).
 */
import type { Resolver } from '../src/client/index.ts';

export const resolveDocument: Resolver = ({ local, incoming }) => {
  // A delete concurrent with an edit: the edit wins (nobody loses work).
  if (!local) return incoming;
  if (!incoming) return local;
  const words = (d: Record<string, unknown>) =>
    String(d.body ?? '')
      .split(/\s+/)
      .filter(Boolean).length;
  // More words wins; a tie goes to the larger rendering of the whole item, so the result never
  // depends on which side is local.
  const localFirst = words(local) !== words(incoming) ? words(local) > words(incoming) : render(local) >= render(incoming);
  const [winner, other] = localFirst ? [local, incoming] : [incoming, local];
  const tags = new Set<string>([...asStrings(local.tags), ...asStrings(incoming.tags)]);
  return {
    ...other,
    ...winner,
    ...(tags.size > 0 ? { tags } : {}),
    edits: Math.max(Number(local.edits ?? 0), Number(incoming.edits ?? 0)),
  };
};

function asStrings(v: unknown): string[] {
  return v instanceof Set || Array.isArray(v) ? [...(v as Iterable<unknown>)].map(String) : [];
}

function render(item: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(item)
      .sort()
      .map((k) => [k, item[k] instanceof Set ? [...(item[k] as Set<unknown>)].map(String).sort() : item[k]]),
  );
}
