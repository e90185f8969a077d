/**
 * The operations commands under selective replication, where pure: what ChangeSender may send to
 * a region (selectedFor), and what compare, verify's digests and repair's planner count as a
 * divergence (selection-view.ts) when items are filtered and attributes excluded.
 */
import { describe, expect, it } from 'vitest';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { toWire } from '../../src/core/codec.ts';
import { META } from '../../src/core/contract.ts';
import type { SelectionSpec } from '../../src/core/selection.ts';
import type { ResolvedTableConfig } from '../../src/infra/config/schema.ts';
import { compareScans } from '../../src/ops/compare.ts';
import { RegionDigest, differingBuckets, leafOf } from '../../src/ops/digest.ts';
import { planKey } from '../../src/ops/repair.ts';
import { comparisonScope } from '../../src/ops/selection-view.ts';
import { changeOf, keySchemaOf, selectedFor, type OpsTable } from '../../src/ops/ship.ts';

type Item = Record<string, AttributeValue>;
const [EU, US, AP] = ['eu-central-1', 'us-west-2', 'ap-south-1'] as const;
const NOW = 1_800_000_000;
// Orders: only French orders leave a region; the US never gets `email`.
const SELECTION: SelectionSpec = { filter: { attribute: 'country', equals: 'FR' }, to: { [US]: { exclude: ['email'] } } };

function tableConfig(selection?: SelectionSpec): ResolvedTableConfig {
  return {
    name: 'orders',
    partitionKey: { name: 'pk', type: 'string' },
    billingMode: 'PAY_PER_REQUEST',
    readCapacity: 5,
    writeCapacity: 5,
    regions: [EU, US],
    tombstoneTtlSeconds: 86_400,
    ttlAttribute: META.expiresAt,
    retainOnDelete: true,
    strategy: { strategy: 'lww' },
    replicateTtlDeletes: false,
    batchingWindowSeconds: { stream: 0, queue: 0 },
    lagBudgetMs: 1000,
    parallelizationFactor: 1,
    maxClockOffsetSeconds: 5,
    names: { [EU]: 'orders_eu', [US]: 'orders_us' },
    ...(selection ? { selection } : {}),
  };
}
const ops = (selection?: SelectionSpec): OpsTable => ({ target: {}, appName: 'opsel', table: tableConfig(selection), accounts: {} });
const v = (ms: number, region: string) => `${String(ms).padStart(15, '0')}.000000.${region}`;
const order = (id: string, version: string, attrs: Item): Item => ({
  pk: { S: id },
  ...attrs,
  [META.version]: { S: version },
  [META.origin]: { S: version.split('.')[2]! },
  [META.writer]: { S: 'repl' },
});
const tombstone = (id: string, version: string): Item => ({
  ...order(id, version, {}),
  [META.deleted]: { BOOL: true },
  [META.expiresAt]: { N: String(NOW + 3600) },
});
const scope = (regions: readonly string[] = [EU, US], selection: SelectionSpec | null = SELECTION) =>
  comparisonScope({ ...(selection ? { selection } : {}), key: keySchemaOf(tableConfig()) }, regions);

describe('ChangeSender sends only what the selection lets reach the region (selectedFor)', () => {
  it('drops filtered items and excluded attributes, as the shipper does', () => {
    // Prepare
    const o = ops(SELECTION);
    const fr = changeOf(o, order('fr', v(1, EU), { country: { S: 'FR' }, email: { S: 'a@b' }, total: { N: '3' } }), 1000);
    const de = changeOf(o, order('de', v(2, EU), { country: { S: 'DE' }, email: { S: 'c@d' } }), 1000);

    // Act
    const toUs = selectedFor(o.table, US, [fr, de]);
    const toAp = selectedFor({ ...o.table, regions: [EU, US, AP] }, AP, [fr, de]);

    // Assess
    expect(toUs.map((c) => c.key.pk?.S)).toEqual(['fr']);
    expect(Object.keys(toUs[0]!.item!).sort()).toEqual(['country', 'pk', 'total']);
    expect(toAp.map((c) => c.key.pk?.S)).toEqual(['fr']);
    expect(toAp[0]!.item!.email).toEqual({ S: 'a@b' });
  });

  it('sends everything unchanged when the table has no selection', () => {
    // Prepare
    const o = ops();
    const de = changeOf(o, order('de', v(2, EU), { country: { S: 'DE' }, email: { S: 'c@d' } }), 1000);

    // Act
    const out = selectedFor(o.table, US, [de]);

    // Assess
    expect(out).toEqual([de]);
  });

  it('deletes an item that stopped matching where the target held a matching copy, and sends nothing where it did not', () => {
    // Prepare
    const o = ops(SELECTION);
    const now = changeOf(o, order('moved', v(5, EU), { country: { S: 'DE' } }), 5000);
    const heldInUs = toWire(order('moved', v(1, EU), { country: { S: 'FR' } }));

    // Act
    const withCopy = selectedFor(o.table, US, [now], () => heldInUs);
    const withoutCopy = selectedFor(o.table, US, [now]);

    // Assess
    expect(withCopy).toHaveLength(1);
    expect(withCopy[0]!.op).toBe('delete');
    expect(withCopy[0]!.item).toBeUndefined();
    expect(withoutCopy).toEqual([]);
  });
});

describe('compare through the selection (compareScans)', () => {
  it('an excluded attribute and a filtered item are not divergences; a shared attribute that differs is', () => {
    // Prepare
    const eu = [
      order('fr-1', v(1, EU), { country: { S: 'FR' }, email: { S: 'eu@x' }, total: { N: '1' } }),
      order('de-1', v(2, EU), { country: { S: 'DE' }, total: { N: '9' } }),
      order('fr-2', v(3, EU), { country: { S: 'FR' }, total: { N: '2' } }),
    ];
    const us = [
      order('fr-1', v(1, EU), { country: { S: 'FR' }, email: { S: 'us-own' }, total: { N: '1' } }),
      order('fr-2', v(3, EU), { country: { S: 'FR' }, total: { N: '7' } }),
    ];

    // Act
    const withSelection = compareScans([eu, us], [EU, US], ['pk'], scope(), 'orders');
    const without = compareScans([eu, us], [EU, US], ['pk'], scope([EU, US], null), 'orders');

    // Assess
    expect(withSelection.divergent.map((d) => JSON.parse(d.key).M.pk.S)).toEqual(['fr-2']);
    expect(without.divergent.map((d) => JSON.parse(d.key).M.pk.S).sort()).toEqual(['de-1', 'fr-1', 'fr-2']);
  });

  it('under a filter a tombstone counts as absence, but a matching item missing elsewhere is a divergence', () => {
    // Prepare: `gone` was deleted in the EU while it never matched (the delete stays there); `lost` never arrived.
    const eu = [tombstone('gone', v(4, EU)), order('lost', v(5, EU), { country: { S: 'FR' } })];
    const us: Item[] = [];

    // Act
    const c = compareScans([eu, us], [EU, US], ['pk'], scope(), 'orders');

    // Assess
    expect(c.divergent.map((d) => JSON.parse(d.key).M.pk.S)).toEqual(['lost']);
  });

  it('an item that stopped matching (live in the source, deleted in the target) is not a divergence', () => {
    // Prepare
    const eu = [order('moved', v(6, EU), { country: { S: 'DE' } })];
    const us = [tombstone('moved', v(6, EU))];

    // Act
    const c = compareScans([eu, us], [EU, US], ['pk'], scope(), 'orders');

    // Assess
    expect(c.divergent).toEqual([]);
  });

  it('a filter on an attribute the region never receives is not judged on its copy', () => {
    // Prepare: the US gets neither `country` nor `email`, and only French orders.
    const sel: SelectionSpec = { filter: { attribute: 'country', equals: 'FR' }, to: { [US]: { exclude: ['country', 'email'] } } };
    const eu = [order('fr', v(1, EU), { country: { S: 'FR' }, total: { N: '1' } })];
    const us = [order('fr', v(1, EU), { total: { N: '2' } })];

    // Act
    const c = compareScans([eu, us], [EU, US], ['pk'], scope([EU, US], sel), 'orders');

    // Assess: compared on `total` (not skipped because the US copy lacks `country`), and it differs.
    expect(c.divergent).toHaveLength(1);
  });

  it('cuts the per-attribute versions of excluded attributes too', () => {
    // Prepare
    const fv = (names: string[]) => ({ [META.fieldVersions]: { M: Object.fromEntries(names.map((n) => [n, { S: v(1, EU) }])) } });
    const eu = [order('fr', v(1, EU), { country: { S: 'FR' }, email: { S: 'x' }, ...fv(['country', 'email']) })];
    const us = [order('fr', v(1, EU), { country: { S: 'FR' }, ...fv(['country']) })];

    // Act
    const c = compareScans([eu, us], [EU, US], ['pk'], scope(), 'orders');

    // Assess
    expect(c.divergent).toEqual([]);
  });
});

describe("verify's digests agree with compare under the selection", () => {
  const digest = (items: readonly Item[], region: string) => {
    const s = scope();
    const d = new RegionDigest(16);
    for (const it of items) {
      const l = leafOf(it, ['pk'], META.expiresAt, NOW, (x) => s.view(x, region));
      if (l) d.add(l);
    }
    return d;
  };

  it('regions that differ only in filtered items and excluded attributes have equal roots', () => {
    // Prepare
    const eu = [
      order('fr', v(1, EU), { country: { S: 'FR' }, email: { S: 'eu' } }),
      order('de', v(2, EU), { country: { S: 'DE' } }),
      tombstone('gone', v(3, EU)),
    ];
    const us = [order('fr', v(1, EU), { country: { S: 'FR' } })];

    // Act
    const [a, b] = [digest(eu, EU), digest(us, US)];

    // Assess
    expect(a.root()).toBe(b.root());
    expect(differingBuckets([a, b])).toEqual([]);
  });

  it('a shared attribute that differs still changes the root', () => {
    // Prepare
    const eu = [order('fr', v(1, EU), { country: { S: 'FR' }, total: { N: '1' } })];
    const us = [order('fr', v(1, EU), { country: { S: 'FR' }, total: { N: '2' } })];

    // Act
    const [a, b] = [digest(eu, EU), digest(us, US)];

    // Assess
    expect(differingBuckets([a, b])).toHaveLength(1);
  });
});

describe("repair's planner under the selection", () => {
  const plan = (states: Record<string, Item | undefined>) => planKey(states, { regions: [EU, US], tableRegions: [EU, US], view: (x, r) => scope().view(x, r) });

  it('plans nothing for copies that differ only in an excluded attribute (no touch, no ship)', () => {
    // Prepare
    const states = { [EU]: order('fr', v(1, EU), { country: { S: 'FR' }, email: { S: 'eu' } }), [US]: order('fr', v(1, EU), { country: { S: 'FR' } }) };

    // Act
    const p = plan(states);

    // Assess
    expect(p.steps).toEqual([]);
  });

  it('plans nothing for a filtered item held in one region only', () => {
    // Prepare
    const states = { [EU]: order('de', v(1, EU), { country: { S: 'DE' } }), [US]: undefined };

    // Act
    const p = plan(states);

    // Assess
    expect(p.steps).toEqual([]);
  });

  it('ships a matching item the other region lacks', () => {
    // Prepare
    const states = { [EU]: order('fr', v(1, EU), { country: { S: 'FR' } }), [US]: undefined };

    // Act
    const p = plan(states);

    // Assess
    expect(p.steps).toEqual([{ kind: 'ship', from: EU, to: [US], version: v(1, EU) }]);
  });
});
