/**
 * Lambda event filtering (FilterCriteria) for the local event source mappings: a record is
 * delivered when it matches any filter's pattern; the others are dropped before batching, and
 * never invoke the function, as in Lambda. Patterns use EventBridge's syntax: nested objects
 * follow the record's fields; a leaf is an array of alternatives, each a literal (string, number,
 * boolean, null) or one of `exists`, `anything-but`, `prefix`, `suffix`, `equals-ignore-case`,
 * `numeric`. Any other operator is an error when the mapping starts, not a silent pass.
 */

type Matcher = (value: unknown, present: boolean, parentPresent: boolean) => boolean;

/**
 * How `exists` is read where AWS's documentation leaves room (tests run the filters under every
 * reading: test/unit/echo-filter.test.ts). The runtime uses the default, AWS's documented one.
 */
export interface FilterReading {
  /** `exists: false` matches only when the field's parent object is in the record. @default false */
  readonly existsFalseNeedsParent?: boolean;
  /** `exists` sees a field holding an object as absent ("exists works on leaf nodes only"). @default false */
  readonly objectsAreNotLeaves?: boolean;
}
type Compiled = { readonly leaf: Matcher } | { readonly fields: ReadonlyMap<string, Compiled> };

export class EventFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventFilterError';
  }
}

/** Compiles a mapping's FilterCriteria (`{ Filters: [{ Pattern: '<json>' }] }`); undefined: no filtering. */
export function compileFilterCriteria(criteria: unknown, reading: FilterReading = {}): ((record: unknown) => boolean) | undefined {
  const filters = (criteria as { Filters?: { Pattern?: string }[] } | undefined)?.Filters ?? [];
  if (filters.length === 0) return undefined;
  const compiled = filters.map((f, i) => {
    let pattern: unknown;
    try {
      pattern = JSON.parse(f.Pattern ?? '');
    } catch (e) {
      throw new EventFilterError(`FilterCriteria.Filters[${i}].Pattern is not JSON: ${(e as Error).message}`);
    }
    return compileObject(pattern, `Filters[${i}]`, reading);
  });
  return (record) => compiled.some((c) => matches(c, record, true, true));
}

function compileObject(pattern: unknown, path: string, reading: FilterReading): Compiled {
  if (Array.isArray(pattern)) return { leaf: compileLeaf(pattern, path, reading) };
  if (pattern === null || typeof pattern !== 'object')
    throw new EventFilterError(`${path}: expected an object or an array of values, got ${JSON.stringify(pattern)}`);
  return { fields: new Map(Object.entries(pattern).map(([k, v]) => [k, compileObject(v, `${path}.${k}`, reading)])) };
}

function matches(c: Compiled, value: unknown, present: boolean, parentPresent: boolean): boolean {
  if ('leaf' in c) {
    // A field holding an array matches when any element does.
    if (present && Array.isArray(value)) return value.some((v) => c.leaf(v, true, parentPresent));
    return c.leaf(value, present, parentPresent);
  }
  const obj = present && value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  for (const [k, child] of c.fields) {
    const has = obj !== undefined && Object.hasOwn(obj, k);
    if (!matches(child, has ? obj[k] : undefined, has, obj !== undefined)) return false;
  }
  return true;
}

function compileLeaf(alternatives: unknown[], path: string, reading: FilterReading): Matcher {
  const ms = alternatives.map((a, i) => compileAlternative(a, `${path}[${i}]`, reading));
  return (v, present, parentPresent) => ms.some((m) => m(v, present, parentPresent));
}

function compileAlternative(a: unknown, path: string, reading: FilterReading): Matcher {
  if (a === null || typeof a !== 'object') return (v, present) => present && v === a;
  const entries = Object.entries(a);
  if (entries.length !== 1) throw new EventFilterError(`${path}: expected one operator, got ${JSON.stringify(a)}`);
  const [op, arg] = entries[0]!;
  switch (op) {
    case 'exists':
      if (typeof arg !== 'boolean') throw new EventFilterError(`${path}: exists takes true or false, got ${JSON.stringify(arg)}`);
      return (v, present, parentPresent) => {
        const leafPresent = present && !(reading.objectsAreNotLeaves && v !== null && typeof v === 'object' && !Array.isArray(v));
        return arg ? leafPresent : !leafPresent && (parentPresent || !reading.existsFalseNeedsParent);
      };
    case 'anything-but': {
      if (arg !== null && typeof arg === 'object' && !Array.isArray(arg)) {
        const inner = compileAlternative(arg, `${path}.anything-but`, reading);
        return (v, present, parentPresent) => present && !inner(v, present, parentPresent);
      }
      const excluded = Array.isArray(arg) ? arg : [arg];
      return (v, present) => present && !excluded.includes(v);
    }
    case 'prefix': {
      const s = stringArg(op, arg, path);
      return (v, present) => present && typeof v === 'string' && v.startsWith(s);
    }
    case 'suffix': {
      const s = stringArg(op, arg, path);
      return (v, present) => present && typeof v === 'string' && v.endsWith(s);
    }
    case 'equals-ignore-case': {
      const s = stringArg(op, arg, path).toLowerCase();
      return (v, present) => present && typeof v === 'string' && v.toLowerCase() === s;
    }
    case 'numeric':
      return compileNumeric(arg, path);
    default:
      throw new EventFilterError(`${path}: filter operator "${op}" is not supported by the local runtime`);
  }
}

function stringArg(op: string, arg: unknown, path: string): string {
  if (typeof arg !== 'string') throw new EventFilterError(`${path}: ${op} takes a string, got ${JSON.stringify(arg)}`);
  return arg;
}

function compileNumeric(arg: unknown, path: string): Matcher {
  if (!Array.isArray(arg) || arg.length % 2 !== 0) throw new EventFilterError(`${path}: numeric expects [op, value, ...], got ${JSON.stringify(arg)}`);
  const tests: ((n: number) => boolean)[] = [];
  for (let i = 0; i < arg.length; i += 2) {
    const [op, bound] = [arg[i], Number(arg[i + 1])];
    const t = {
      '=': (n: number) => n === bound,
      '<': (n: number) => n < bound,
      '<=': (n: number) => n <= bound,
      '>': (n: number) => n > bound,
      '>=': (n: number) => n >= bound,
    }[String(op)];
    if (!t || Number.isNaN(bound)) throw new EventFilterError(`${path}: bad numeric comparison ${JSON.stringify([op, arg[i + 1]])}`);
    tests.push(t);
  }
  return (v, present) =>
    present && (typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)))) && tests.every((t) => t(Number(v)));
}
