/**
 * Checks of a change's values beyond its shape (change.ts validateChange): key values of a key
 * type, and an item DynamoDB can store. A change failing them can never apply: it goes to the
 * DLQ with the reason instead of failing the conditional write on every redelivery.
 */
import type { AttributeMap } from './types.ts';

/** DynamoDB's item size limit (attribute names and values, UTF-8). */
export const MAX_ITEM_BYTES = 400 * 1024;

/** The reason the change's values are invalid, or undefined. Expects a change validateChange accepted. */
export function checkChangeLimits(change: { readonly key: AttributeMap; readonly item?: AttributeMap; readonly writtenAt: number }): string | undefined {
  for (const [name, value] of Object.entries(change.key)) {
    const types = Object.keys(value as object);
    const v = (value as unknown as Record<string, unknown>)[types[0] ?? ''];
    if (types.length !== 1 || !['S', 'N', 'B'].includes(types[0]!) || typeof v !== 'string' || v === '') {
      return `change.key.${name} must be one non-empty string, number or binary value, got ${JSON.stringify(value).slice(0, 100)}`;
    }
  }
  if (change.writtenAt <= 0) return `change.writtenAt must be a positive epoch-ms time, got ${change.writtenAt}`;
  if (change.item) {
    const size = itemBytes(change.item);
    if (size > MAX_ITEM_BYTES) return `change.item is ${size} bytes, above DynamoDB's ${MAX_ITEM_BYTES}-byte item limit`;
  }
  return undefined;
}

/** DynamoDB's item size: names plus values (numbers and binaries approximated by their text). */
export function itemBytes(item: AttributeMap): number {
  return Object.entries(item).reduce((n, [name, v]) => n + Buffer.byteLength(name) + valueBytes(v), 0);
}

function valueBytes(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  const [type, inner] = Object.entries(v)[0] ?? [];
  switch (type) {
    case 'S':
    case 'N':
      return Buffer.byteLength(String(inner));
    case 'B':
      return typeof inner === 'string' ? Buffer.from(inner, 'base64').length : ((inner as Uint8Array | undefined)?.length ?? 0);
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
    case 'NS':
      return (inner as string[]).reduce((n, s) => n + Buffer.byteLength(s), 0);
    case 'BS':
      return (inner as (string | Uint8Array)[]).reduce((n, b) => n + (typeof b === 'string' ? Buffer.from(b, 'base64').length : b.length), 0);
    case 'L':
      return 3 + (inner as unknown[]).reduce((n: number, x) => n + 1 + valueBytes(x), 0);
    case 'M':
      return 3 + Object.entries(inner as Record<string, unknown>).reduce((n, [k, x]) => n + 1 + Buffer.byteLength(k) + valueBytes(x), 0);
    default:
      return 0;
  }
}
