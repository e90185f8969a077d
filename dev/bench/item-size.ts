/**
 * DynamoDB's item size, as it bills write units: the UTF-8 length of every attribute name plus
 * the size of its value. Strings and binaries by length, numbers about one byte per two
 * significant digits plus one, booleans and nulls one byte, lists and maps three bytes plus one
 * per element ("Item sizes" in the DynamoDB Developer Guide). Works on the JSON wire form
 * (binaries as base64) and on SDK attribute values alike.
 */
type Wire = Record<string, unknown>;

export const WRITE_UNIT_BYTES = 1024;

export function itemSize(item: Readonly<Record<string, unknown>> | undefined): number {
  if (!item) return 0;
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8(name) + valueSize(value as Wire);
  return size;
}

/** Write units for one write of an item of `bytes` (at least 1). */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
}

export function valueSize(v: Wire | undefined): number {
  if (!v || typeof v !== 'object') return 0;
  if ('S' in v) return utf8(String(v.S));
  if ('N' in v) return numberSize(String(v.N));
  if ('B' in v) return binarySize(v.B);
  if ('BOOL' in v || 'NULL' in v) return 1;
  if ('SS' in v) return (v.SS as string[]).reduce((n, s) => n + utf8(s), 0);
  if ('NS' in v) return (v.NS as string[]).reduce((n, s) => n + numberSize(s), 0);
  if ('BS' in v) return (v.BS as unknown[]).reduce((n: number, b) => n + binarySize(b), 0);
  if ('M' in v) {
    const entries = Object.entries(v.M as Record<string, Wire>);
    return 3 + entries.reduce((n, [k, x]) => n + utf8(k) + valueSize(x) + 1, 0);
  }
  if ('L' in v) return 3 + (v.L as Wire[]).reduce((n, x) => n + valueSize(x) + 1, 0);
  return 0;
}

function numberSize(n: string): number {
  const digits = n.replace(/^[-+]/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

function binarySize(b: unknown): number {
  if (typeof b === 'string') return Buffer.from(b, 'base64').length;
  if (b instanceof Uint8Array) return b.length;
  return 0;
}

function utf8(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
