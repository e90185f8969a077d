/**
 * Attribute values travel as JSON in the shape Lambda's DynamoDB stream events use:
 * binary (B, BS) as base64 strings. The AWS SDK uses Uint8Array instead. These two
 * functions convert between the wire shape and the SDK shape, recursively.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from './change.ts';

type WireValue = Record<string, unknown>;

/** An SDK item (binary as bytes) in the wire shape that messages and stream events use (binary as base64). */
export function toWire(map: Record<string, AttributeValue>): AttributeMap {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(map)) out[k] = valueToWire(v);
  return out as AttributeMap;
}

/** A wire-shape item (from a message or a stream record) as the SDK takes it; binary already in bytes is kept. */
export function fromWire(map: AttributeMap | Record<string, unknown>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(map)) out[k] = valueFromWire(v as WireValue);
  return out;
}

function valueToWire(v: AttributeValue): WireValue {
  if (v.B !== undefined) return { B: toBase64(v.B) };
  if (v.BS !== undefined) return { BS: v.BS.map(toBase64) };
  if (v.L !== undefined) return { L: v.L.map(valueToWire) };
  if (v.M !== undefined) return { M: toWire(v.M) };
  return stripUndefined(v);
}

function valueFromWire(v: WireValue): AttributeValue {
  if (typeof v.B === 'string') return { B: Buffer.from(v.B, 'base64') };
  if (v.B instanceof Uint8Array) return { B: v.B };
  if (Array.isArray(v.BS)) return { BS: v.BS.map((b) => (typeof b === 'string' ? Buffer.from(b, 'base64') : (b as Uint8Array))) };
  if (Array.isArray(v.L)) return { L: v.L.map((x) => valueFromWire(x as WireValue)) };
  if (v.M !== undefined && typeof v.M === 'object') return { M: fromWire(v.M as Record<string, unknown>) };
  return v as unknown as AttributeValue;
}

function toBase64(b: Uint8Array | string): string {
  return typeof b === 'string' ? b : Buffer.from(b).toString('base64');
}

/** The SDK's union types carry `$unknown` and undefined members; keep only the one that is set. */
function stripUndefined(v: AttributeValue): WireValue {
  const out: WireValue = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined && k !== '$unknown') out[k] = x;
  return out;
}

/** Canonical JSON of an item (keys sorted, sets sorted) so replicas can be compared for equality. */
export function canonicalItem(map: AttributeMap): string {
  return JSON.stringify(canonicalValue({ M: map } as WireValue));
}

function canonicalValue(v: WireValue): unknown {
  const [type] = Object.keys(v);
  const inner = v[type as string];
  switch (type) {
    case 'M': {
      const m = inner as Record<string, WireValue>;
      return {
        M: Object.fromEntries(
          Object.keys(m)
            .sort()
            .map((k) => [k, canonicalValue(m[k]!)]),
        ),
      };
    }
    case 'L':
      return { L: (inner as WireValue[]).map(canonicalValue) };
    case 'SS':
    case 'NS':
    case 'BS':
      return { [type]: [...(inner as string[])].sort() };
    case 'N':
      return { N: String(Number(inner)) === inner ? inner : normalizeNumber(inner as string) };
    default:
      return v;
  }
}

function normalizeNumber(n: string): string {
  const x = Number(n);
  return Number.isFinite(x) && String(x).length <= 15 ? String(x) : n;
}

/** JSON with object keys sorted: merges in any order must store the same string. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
