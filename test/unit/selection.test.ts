/**
 * Selective replication, pure part: predicates, what each target receives (filtered, projected,
 * deletes when an item stops matching), redaction of merge metadata, and the config checks.
 */
import { describe, expect, it } from 'vitest';
import type { AttributeMap, Change } from '../../src/core/change.ts';
import { META } from '../../src/core/contract.ts';
import {
  checkPredicate,
  checkSelection,
  localOnlyAttributes,
  matches,
  selectFor,
  withLocalAttributes,
  type Predicate,
  type SelectionSpec,
} from '../../src/core/selection.ts';
import { validateConfig } from '../../src/infra/config/validate.ts';
import type { ConfigError } from '../../src/core/errors.ts';

const KEY = { partitionKey: 'pk' };
const [EU, US, AP] = ['eu-west-1', 'us-east-1', 'ap-south-1'];
const put = (pk: string, attrs: AttributeMap, meta?: AttributeMap): Change => ({
  table: 'orders',
  op: 'put',
  key: { pk: { S: pk } },
  item: { pk: { S: pk }, ...attrs },
  version: '000001700000000.000000.eu-west-1',
  origin: EU,
  writtenAt: 1,
  ...(meta ? { meta } : {}),
});
const item = (attrs: AttributeMap): AttributeMap => ({ pk: { S: 'k' }, ...attrs });

describe('matches', () => {
  const de = item({ country: { S: 'DE' }, total: { N: '42' }, vip: { BOOL: true }, sku: { S: 'AB-12' } });
  it.each<[string, Predicate, boolean]>([
    ['equals string', { attribute: 'country', equals: 'DE' }, true],
    ['equals other string', { attribute: 'country', equals: 'FR' }, false],
    ['equals number compares numerically', { attribute: 'total', equals: 42.0 }, true],
    ['equals boolean', { attribute: 'vip', equals: true }, true],
    ['equals string does not match a number', { attribute: 'total', equals: '42' }, false],
    ['in', { attribute: 'country', in: ['FR', 'DE'] }, true],
    ['in, no member', { attribute: 'country', in: ['FR', 'IT'] }, false],
    ['exists', { attribute: 'vip', exists: true }, true],
    ['exists, missing', { attribute: 'email', exists: true }, false],
    ['notExists, missing', { attribute: 'email', notExists: true }, true],
    ['notExists, present', { attribute: 'country', notExists: true }, false],
    ['beginsWith', { attribute: 'sku', beginsWith: 'AB-' }, true],
    ['beginsWith on a number', { attribute: 'total', beginsWith: '4' }, false],
    ['lt', { attribute: 'total', lt: 43 }, true],
    ['lt, equal', { attribute: 'total', lt: 42 }, false],
    ['gt', { attribute: 'total', gt: 41.5 }, true],
    ['gt on a missing attribute', { attribute: 'missing', gt: 0 }, false],
    ['lt on a string', { attribute: 'country', lt: 100 }, false],
    [
      'and',
      {
        and: [
          { attribute: 'country', equals: 'DE' },
          { attribute: 'total', gt: 40 },
        ],
      },
      true,
    ],
    [
      'and, one false',
      {
        and: [
          { attribute: 'country', equals: 'DE' },
          { attribute: 'total', gt: 50 },
        ],
      },
      false,
    ],
    [
      'or',
      {
        or: [
          { attribute: 'country', equals: 'FR' },
          { attribute: 'vip', equals: true },
        ],
      },
      true,
    ],
    ['not', { not: { attribute: 'country', equals: 'DE' } }, false],
    ['not of a missing attribute', { not: { attribute: 'email', equals: 'x' } }, true],
  ])('%s', (_name, predicate, expected) => {
    expect(matches(predicate, de)).toBe(expected);
  });
  it('a NULL attribute counts as absent', () => {
    expect(matches({ attribute: 'x', notExists: true }, item({ x: { NULL: true } }))).toBe(true);
    expect(matches({ attribute: 'x', exists: true }, item({ x: { NULL: true } }))).toBe(false);
  });
});

describe('checkPredicate', () => {
  it('accepts every operator and combinator', () => {
    const p: Predicate = {
      and: [
        {
          or: [
            { attribute: 'a', in: [1, 'x', true] },
            { attribute: 'b', beginsWith: 'p' },
          ],
        },
        { not: { attribute: 'c', notExists: true } },
        { attribute: 'd', lt: 3 },
      ],
    };
    expect(checkPredicate(p, 'f')).toEqual([]);
  });
  it.each<[unknown, string]>([
    [{ attribute: 'a' }, 'f: needs exactly one of'],
    [{ attribute: 'a', equals: 'x', lt: 3 }, 'f: needs exactly one of'],
    [{ attribute: 'a', like: 'x' }, 'f: needs exactly one of'],
    [{ attribute: '', equals: 'x' }, 'f.attribute: must name an attribute (got "")'],
    [{ attribute: '_rs_v', exists: true }, 'f.attribute: regionsync metadata cannot be filtered on (got "_rs_v")'],
    [{ attribute: 'a', in: [] }, 'f.in: must be a non-empty list'],
    [{ attribute: 'a', lt: '3' }, 'f.lt: must be a finite number (got "3")'],
    [{ attribute: 'a', exists: false }, 'f.exists: must be true (got false)'],
    [{ and: [] }, 'f.and: must be a non-empty list of predicates (got [])'],
    [{ or: [{ attribute: 'a', equals: {} }] }, 'f.or[0].equals: must be a string, number or boolean (got {})'],
    [{ not: { attribute: 'a', gt: 1 }, and: [] }, 'f: "and" must be the predicate\'s only field'],
    ['country = DE', 'f: a predicate must be an object (got "country = DE")'],
  ])('rejects %j naming the field and value', (p, message) => {
    const problems = checkPredicate(p, 'f');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });
});

describe('selectFor', () => {
  const spec: SelectionSpec = { to: { [US]: { filter: { attribute: 'country', equals: 'US' }, exclude: ['email'] }, [AP]: { include: ['country'] } } };
  const c = put('a', { country: { S: 'US' }, email: { S: 'x@example.com' }, total: { N: '1' } });

  it('sends a matching put projected: excluded attributes absent, others intact', () => {
    const [sent] = selectFor([{ change: c }], spec, US, KEY);
    expect(sent?.op).toBe('put');
    expect(sent?.item).toEqual({ pk: { S: 'a' }, country: { S: 'US' }, total: { N: '1' } });
    expect(JSON.stringify(sent)).not.toContain('x@example.com');
  });

  it('include keeps only the listed attributes and the key', () => {
    const [sent] = selectFor([{ change: c }], spec, AP, KEY);
    expect(sent?.item).toEqual({ pk: { S: 'a' }, country: { S: 'US' } });
  });

  it('sends nothing at all for an item that did not and does not match', () => {
    const fr = put('b', { country: { S: 'FR' } });
    expect(selectFor([{ change: fr, old: item({ country: { S: 'DE' } }) }, { change: fr }], spec, US, KEY)).toEqual([]);
  });

  it('an item that starts matching is sent whole (projected)', () => {
    const [sent] = selectFor([{ change: c, old: item({ country: { S: 'FR' }, total: { N: '0' } }) }], spec, US, KEY);
    expect(sent?.op).toBe('put');
    expect(sent?.item?.total).toEqual({ N: '1' });
  });

  it('an item that stops matching becomes a delete carrying nothing of the item', () => {
    const fr = put(
      'a',
      { country: { S: 'FR' }, email: { S: 'x@example.com' } },
      { [META.vector]: { M: { [EU]: { S: 'v' } } }, [META.fieldVersions]: { M: { country: { S: 'v' } } } },
    );
    const [sent] = selectFor([{ change: fr, old: item({ country: { S: 'US' } }) }], spec, US, KEY, 1000);
    expect(sent).toMatchObject({ op: 'delete', key: { pk: { S: 'a' } }, version: fr.version, origin: EU, expiresAt: Math.floor(fr.writtenAt / 1000) + 1000 });
    expect(sent?.item).toBeUndefined();
    // fields/merge: every field the target may hold is removed at the delete's version.
    expect(sent?.meta).toEqual({ [META.vector]: { M: { [EU]: { S: 'v' } } }, [META.fieldVersions]: { M: { country: { S: fr.version } } } });
    expect(JSON.stringify(sent)).not.toContain('FR');
  });

  it('a delete goes only where the deleted item matched', () => {
    const del: Change = { table: 'orders', op: 'delete', key: { pk: { S: 'a' } }, expiresAt: 9, version: c.version, origin: EU, writtenAt: 1 };
    expect(selectFor([{ change: del, old: item({ country: { S: 'US' } }) }], spec, US, KEY)).toHaveLength(1);
    expect(selectFor([{ change: del, old: item({ country: { S: 'FR' } }) }], spec, US, KEY)).toEqual([]);
    expect(selectFor([{ change: del, old: item({ country: { S: 'US' }, [META.deleted]: { BOOL: true } }) }], spec, US, KEY)).toEqual([]);
  });

  it('redacts excluded attributes from merge metadata (_rs_fv, _rs_crdt)', () => {
    const crdt = { c: { likes: { p: {}, n: {} } }, s: { email: { a: ['x@example.com'] } }, g: {}, l: {}, d: '', x: 0 };
    const m = put(
      'a',
      { country: { S: 'US' }, email: { S: 'x@example.com' } },
      { [META.fieldVersions]: { M: { email: { S: 'v1' }, country: { S: 'v2' } } }, [META.crdt]: { S: JSON.stringify(crdt) } },
    );
    const [sent] = selectFor([{ change: m }], spec, US, KEY);
    expect(sent?.meta?.[META.fieldVersions]).toEqual({ M: { country: { S: 'v2' } } });
    expect(JSON.parse(sent!.meta![META.crdt]!.S!)).toEqual({ ...crdt, s: {} });
    expect(JSON.stringify(sent)).not.toContain('email');
  });

  it('without a spec for the target, changes go unchanged', () => {
    expect(selectFor([{ change: c }], spec, 'sa-east-1', KEY)).toEqual([c]);
    expect(selectFor([{ change: c }], undefined, US, KEY)).toEqual([c]);
  });
});

describe('localOnlyAttributes and withLocalAttributes (applier)', () => {
  const spec: SelectionSpec = { to: { [US]: { exclude: ['email'] } } };
  it('attributes excluded in either direction of the pair stay local', () => {
    expect(localOnlyAttributes(spec, US, EU, KEY)?.('email')).toBe(true); // EU never sends it to US
    expect(localOnlyAttributes(spec, EU, US, KEY)?.('email')).toBe(true); // US's copy never saw EU's value
    expect(localOnlyAttributes(spec, EU, US, KEY)?.('total')).toBe(false);
    expect(localOnlyAttributes(spec, EU, AP, KEY)).toBeUndefined();
  });
  it('keeps the stored value of a local attribute and drops the incoming one', () => {
    const isLocal = (n: string) => n === 'email';
    const incoming = item({ total: { N: '2' }, email: { S: 'theirs' }, [META.version]: { S: 'v2' } });
    expect(withLocalAttributes(incoming, item({ email: { S: 'mine' }, total: { N: '1' } }), isLocal)).toEqual(
      item({ total: { N: '2' }, email: { S: 'mine' }, [META.version]: { S: 'v2' } }),
    );
    expect(withLocalAttributes(incoming, undefined, isLocal)).toEqual(item({ total: { N: '2' }, [META.version]: { S: 'v2' } }));
    const tombstone = item({ [META.deleted]: { BOOL: true } });
    expect(withLocalAttributes(tombstone, item({ email: { S: 'mine' } }), isLocal)).toEqual(tombstone);
  });
});

describe('config: replicate and names', () => {
  const base = { appName: 'sel', regions: [EU, US] };
  const table = { name: 'orders', partitionKey: { name: 'pk', type: 'string' as const } };
  const problems = (t: object): string[] => {
    try {
      validateConfig({ ...base, tables: [{ ...table, ...t }] });
      return [];
    } catch (e) {
      return (e as ConfigError).problems as string[];
    }
  };
  it('accepts a valid selection and per-region names', () => {
    const resolved = validateConfig({
      ...base,
      tables: [{ ...table, names: { [US]: 'orders-us' }, replicate: { filter: { attribute: 'a', exists: true }, to: { [US]: { exclude: ['email'] } } } }],
    });
    expect(resolved.tables[0]!.names).toEqual({ [EU]: 'orders', [US]: 'orders-us' });
    expect(resolved.tables[0]!.selection?.to?.[US]?.exclude).toEqual(['email']);
  });
  it.each<[object, string]>([
    [{ replicate: { to: { 'sa-east-1': {} } } }, "tables[0].replicate.to.sa-east-1: not one of the table's regions"],
    [{ replicate: { to: { [US]: { exclude: ['pk'] } } } }, 'tables[0].replicate.to.us-east-1.exclude: key attributes always replicate (got "pk")'],
    [{ replicate: { to: { [US]: { exclude: ['a'], include: ['b'] } } } }, 'tables[0].replicate.to.us-east-1: give exclude or include, not both'],
    [{ replicate: { filter: { attribute: 'country', equal: 'DE' } } }, 'tables[0].replicate.filter: needs exactly one of'],
    [
      { replicate: { to: { [US]: { exclude: ['a'] } } }, conflictResolution: { strategy: 'custom', resolver: 'test/unit/selection.test.ts' } },
      'not supported with the custom strategy',
    ],
    [{ replicate: { only: 'x' } }, 'tables[0].replicate: unknown fields (allowed: filter, to) (got ["only"])'],
    [{ names: { 'sa-east-1': 'orders-sa' } }, "tables[0].names.sa-east-1: not one of the table's regions"],
    [{ names: { [US]: 'x' } }, 'tables[0].names.us-east-1: must be 3-255 characters of letters, digits, _ . or - (got "x")'],
  ])('rejects %j naming the field and value', (t, message) => {
    expect(problems(t).join('\n')).toContain(message);
  });
  it('checkSelection collects every problem at once', () => {
    expect(checkSelection({ filter: { attribute: '' }, to: { x: { exclude: [1] } } }, 'r', { regions: [EU, US], key: KEY, strategy: 'lww' })).toHaveLength(3);
  });
});
