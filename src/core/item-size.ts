/**
 * DynamoDB's item size, as its documentation computes it ("DynamoDB item sizes and formats",
 * developerguide/CapacityUnitCalculations.html): the sum, over attributes, of the UTF-8 length of
 * the name plus the value's size. Strings: UTF-8 bytes; numbers: about 1 byte per 2 significant
 * digits + 1; binary: raw bytes; null and booleans: 1; lists and maps: 3 + 1 per element + the
 * elements; sets: the sum of their members. The limit is 400 KB, with 1 KB = 1024 bytes
 * (developerguide/Constraints.html), so 409,600 bytes.
 *
 * An estimate (numbers are approximate, and emulators count their own way: moto refuses above
 * 405,000 of its own bytes): regionsync uses it to report sizes and to decide, before writing,
 * whether metadata can still fit, never to refuse a write DynamoDB would accept.
 */
import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from './change.ts';

/** DynamoDB's item size limit, 400 KB with 1 KB = 1024 bytes. */
export const DYNAMODB_MAX_ITEM_BYTES = 400 * 1024;

type Value = AttributeMap[string] | SdkAttributeValue;

/** An item's size as DynamoDB counts it (an estimate, see above), in the wire or the SDK shape. */
export function itemSizeBytes(item: Readonly<Record<string, Value>>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) total += Buffer.byteLength(name) + valueSize(value);
  return total;
}

function valueSize(v: Value): number {
  const a = v as unknown as Record<string, unknown>;
  if (typeof a.S === 'string') return Buffer.byteLength(a.S);
  if (typeof a.N === 'string') return numberSize(a.N);
  if (a.B !== undefined) return binarySize(a.B);
  if (a.BOOL !== undefined || a.NULL !== undefined) return 1;
  if (Array.isArray(a.SS)) return (a.SS as string[]).reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (Array.isArray(a.NS)) return (a.NS as string[]).reduce((n, s) => n + numberSize(s), 0);
  if (Array.isArray(a.BS)) return (a.BS as unknown[]).reduce<number>((n, b) => n + binarySize(b), 0);
  if (Array.isArray(a.L)) return 3 + (a.L as Value[]).reduce<number>((n, e) => n + 1 + valueSize(e), 0);
  if (a.M && typeof a.M === 'object')
    return 3 + Object.entries(a.M as Record<string, Value>).reduce((n, [k, e]) => n + 1 + Buffer.byteLength(k) + valueSize(e), 0);
  return 0;
}

function numberSize(n: string): number {
  const digits = n
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** Wire form (Lambda's JSON) is base64; the SDK's is bytes. DynamoDB counts the raw bytes. */
function binarySize(b: unknown): number {
  if (typeof b === 'string') return Buffer.from(b, 'base64').length;
  if (b instanceof Uint8Array) return b.length;
  return 0;
}
