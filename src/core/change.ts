/**
 * The change message: what a shipper sends and an applier applies. One SQS message carries
 * many changes (SQS bills per 64 KB chunk, so packing is what keeps requests per item low).
 * Pure code: encoding, validation and packing, no AWS calls.
 */
import type { AttributeMap, Change } from './types.ts';
import { InvalidMessageError } from './errors.ts';
import { META_ATTRIBUTES, REPLICATED_META, type KeySchema } from './contract.ts';
import { isVersion } from './version.ts';
import { checkChangeLimits } from './change-limits.ts';

export type { AttributeMap, Change };

/** Schema version of the message body; an applier rejects versions it does not know. */
export const MESSAGE_SCHEMA = 1;

/** One SQS message body: many changes, packed so that SQS's per-64 KB billing stays low per item. */
export interface ChangeMessage {
  readonly schema: number;
  readonly changes: readonly Change[];
}

/** Removes regionsync's metadata attributes, leaving what the application wrote. */
export function stripMeta(item: AttributeMap, extra: readonly string[] = []): AttributeMap {
  const out: AttributeMap = {};
  for (const [name, value] of Object.entries(item)) {
    if (!META_ATTRIBUTES.includes(name) && !extra.includes(name)) out[name] = value;
  }
  return out;
}

/** The key attributes of an item; throws InvalidMessageError when one is missing. */
export function keyOf(item: AttributeMap, key: KeySchema): AttributeMap {
  const out: AttributeMap = {};
  for (const name of [key.partitionKey, key.sortKey]) {
    if (name === undefined) continue;
    const v = item[name];
    if (v === undefined) throw new InvalidMessageError(`item has no key attribute "${name}"`, { attribute: name });
    out[name] = v;
  }
  return out;
}

/** A stable, human-readable rendering of a key for logs, DLQ reasons and reports. */
export function keyToString(key: AttributeMap): string {
  return Object.keys(key)
    .sort()
    .map((k) => `${k}=${JSON.stringify(Object.values(key[k] as object)[0])}`)
    .join(',');
}

/** The message body for `changes`, with the current schema version; the inverse of {@link decodeMessage}. */
export function encodeMessage(changes: readonly Change[]): string {
  const message: ChangeMessage = { schema: MESSAGE_SCHEMA, changes };
  return JSON.stringify(message);
}

/** Parses a message body; throws InvalidMessageError naming what is wrong (the message then goes to the DLQ). */
export function decodeMessage(body: string): ChangeMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw new InvalidMessageError(`message body is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed)) throw new InvalidMessageError('message body is not a JSON object');
  if (parsed.schema !== MESSAGE_SCHEMA) {
    throw new InvalidMessageError(`unknown message schema ${JSON.stringify(parsed.schema)} (this applier reads ${MESSAGE_SCHEMA})`);
  }
  if (!Array.isArray(parsed.changes)) throw new InvalidMessageError('message has no "changes" array');
  return { schema: MESSAGE_SCHEMA, changes: parsed.changes as Change[] };
}

/**
 * Checks one change against the table it claims to be for. Returns the reason it is invalid,
 * or undefined when it can be applied.
 */
export function validateChange(
  change: unknown,
  expect: { readonly table: string; readonly key: KeySchema; readonly sourceRegions?: readonly string[] },
): string | undefined {
  if (!isObject(change)) return 'change is not an object';
  if (change.table !== expect.table) return `change is for table ${JSON.stringify(change.table)}, this applier serves "${expect.table}"`;
  if (change.op !== 'put' && change.op !== 'delete') return `change.op must be "put" or "delete", got ${JSON.stringify(change.op)}`;
  if (!isVersion(change.version)) return `change.version is not a regionsync version: ${JSON.stringify(change.version)}`;
  if (typeof change.origin !== 'string') return 'change.origin is missing';
  if (expect.sourceRegions && !expect.sourceRegions.includes(change.origin)) {
    return `change.origin "${change.origin}" is not a configured source region (${expect.sourceRegions.join(', ')})`;
  }
  if (!(change.version as string).endsWith(`.${change.origin}`)) return `change.version ${change.version} was not made in origin ${change.origin}`;
  if (typeof change.writtenAt !== 'number' || !Number.isFinite(change.writtenAt)) return 'change.writtenAt is not a number';
  if (!isObject(change.key)) return 'change.key is missing';
  const keyNames = [expect.key.partitionKey, expect.key.sortKey].filter((k): k is string => k !== undefined);
  for (const name of keyNames) {
    if (!isObject(change.key[name])) return `change.key has no "${name}" attribute`;
  }
  const extra = Object.keys(change.key).filter((k) => !keyNames.includes(k));
  if (extra.length > 0) return `change.key has attributes that are not in the key schema: ${extra.join(', ')}`;
  if (change.op === 'put') {
    if (!isObject(change.item)) return 'put change has no item';
    for (const name of keyNames) {
      if (JSON.stringify(change.item[name]) !== JSON.stringify(change.key[name])) return `put change item.${name} does not match its key`;
    }
  } else if (typeof change.expiresAt !== 'number') {
    return 'delete change has no expiresAt';
  }
  if (change.meta !== undefined) {
    if (!isObject(change.meta)) return 'change.meta is not an object';
    const unknown = Object.keys(change.meta).filter((k) => !REPLICATED_META.includes(k));
    if (unknown.length > 0) return `change.meta has attributes regionsync does not replicate: ${unknown.join(', ')}`;
  }
  return checkChangeLimits(change as unknown as Change);
}

/**
 * Packs changes into as few message bodies as fit `maxBytes` (and hold at most `maxChanges`,
 * default unbounded) each. Order is kept, so changes to one key stay in the order the stream gave
 * them (the version decides anyway). A change that alone exceeds the limit is returned in
 * `oversized` rather than dropped.
 */
export function packChanges(changes: readonly Change[], maxBytes: number, maxChanges = Number.POSITIVE_INFINITY): { bodies: string[]; oversized: Change[] } {
  const overhead = Buffer.byteLength(encodeMessage([]));
  const bodies: string[] = [];
  const oversized: Change[] = [];
  let current: string[] = [];
  let currentBytes = overhead;
  const flush = () => {
    if (current.length > 0) bodies.push(`{"schema":${MESSAGE_SCHEMA},"changes":[${current.join(',')}]}`);
    current = [];
    currentBytes = overhead;
  };
  for (const change of changes) {
    const json = JSON.stringify(change);
    const bytes = Buffer.byteLength(json) + (current.length > 0 ? 1 : 0);
    if (overhead + Buffer.byteLength(json) > maxBytes) {
      oversized.push(change);
      continue;
    }
    if (currentBytes + bytes > maxBytes || current.length >= maxChanges) flush();
    currentBytes += Buffer.byteLength(json) + (current.length > 0 ? 1 : 0);
    current.push(json);
  }
  flush();
  return { bodies, oversized };
}

/** SendMessageBatch takes at most 10 entries whose bodies together fit the size limit. */
export function groupIntoBatches(bodies: readonly string[], maxBatchBytes: number, maxEntries = 10): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = Buffer.byteLength(body);
    if (current.length > 0 && (current.length === maxEntries || bytes + size > maxBatchBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(body);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
