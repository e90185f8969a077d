/**
 * IAM proven against what the code really does, not against a list written by hand: the real
 * Shipper and Applier run random workloads (creates, puts, updates, deletes, re-creates, with
 * duplicate and reordered deliveries) over the in-memory fakes, which record every AWS call they
 * make (test/support/cluster.ts). Each recorded call must be allowed by the synthesized role of
 * the same function in a deployment of the same table, and every item-level DynamoDB grant must
 * be used by some call: moto checks no IAM, so this is where a missing grant fails, as it would
 * fail on AWS with AccessDenied.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StrategySpec } from '../../src/core/contract.ts';
import type { SelectionSpec } from '../../src/core/selection.ts';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import { resolveDocument } from '../../resolvers/documents.ts';
import { Cluster, TOMBSTONES, type ScheduleOp } from '../support/cluster.ts';
import { isScheduleOp, togetherArb } from '../support/schedule.ts';
import {
  ACCOUNTS,
  APP_NAME,
  inboundQueueArn,
  logicalId,
  ref,
  regionOf,
  replicatedTable,
  synthesizeFixture,
  type SynthesizedRegion,
} from '../support/infra-fixture.ts';
import { allowedOf } from '../support/infra-iam.ts';

const [R1, R2] = ['us-east-1', 'eu-west-1'] as const;
const REGIONS = [R1, R2];

interface Scenario {
  readonly table: string;
  readonly spec: StrategySpec;
  readonly selection?: SelectionSpec;
}

/** One table per way the functions behave differently. */
const SCENARIOS: readonly Scenario[] = [
  { table: 'iam_lww', spec: { strategy: 'lww' } },
  // Attributes kept out of a region: the applier keeps that region's own values (keep-local.ts).
  { table: 'iam_lww_excluded', spec: { strategy: 'lww' }, selection: { to: { [R2]: { exclude: ['secret'] } } } },
  { table: 'iam_fields', spec: { strategy: 'fields' } },
  { table: 'iam_merge', spec: { strategy: 'merge', attributes: { visits: 'counter' } } },
  { table: 'iam_custom', spec: { strategy: 'custom' } },
];

const CONFIG: RegionSyncConfig = {
  appName: APP_NAME,
  regions: REGIONS.map((region) => ({ region, account: ACCOUNTS[region]! })),
  tables: SCENARIOS.map((s) => ({
    name: s.table,
    partitionKey: { name: 'pk', type: 'string' },
    sortKey: { name: 'sk', type: 'number' },
    conflictResolution: s.spec.strategy === 'custom' ? { strategy: 'custom', resolver: 'resolvers/documents.ts#resolveDocument' } : s.spec,
    ...(s.selection ? { replicate: s.selection } : {}),
  })),
};

type AppOp = { kind: 'put' | 'create' | 'update' | 'add' | 'delete'; region: number; key: number; value: number };
const appOpArb: fc.Arbitrary<AppOp> = fc.record({
  kind: fc.constantFrom('put', 'create', 'update', 'add', 'delete'),
  region: fc.nat(1),
  key: fc.nat(2),
  value: fc.integer({ min: 0, max: 99 }),
});
const scheduleArb: fc.Arbitrary<ScheduleOp> = fc.oneof(
  fc.record({ kind: fc.constant('ship' as const), region: fc.nat(1), max: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(20), duplicate: fc.boolean() }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 1500 }) }),
  togetherArb(2),
);

const key = (n: number): Record<string, AttributeValue> => ({ pk: { S: `k${n}` }, sk: { N: '1' } });

/** Every `<function> <resource> <action>` the functions of `scenario` made over many random workloads. */
async function observedCalls(scenario: Scenario): Promise<Set<string>> {
  const observed = new Set<string>();
  const workloads = fc.sample(fc.array(fc.oneof(appOpArb, scheduleArb), { minLength: 10, maxLength: 60 }), { numRuns: 60, seed: 15 });
  for (const ops of workloads) {
    const cluster = new Cluster(REGIONS, {}, scenario.spec, scenario.spec.strategy === 'custom' ? resolveDocument : undefined, {
      // As deployed (region-stack.ts): every table keeps its tombstones apart.
      tombstoneTable: TOMBSTONES,
      ...(scenario.selection ? { selection: scenario.selection } : {}),
    });
    for (const op of ops) {
      if (isScheduleOp(op)) {
        await cluster.step(op);
        continue;
      }
      const table = cluster.table(REGIONS[op.region]!);
      const k = key(op.key);
      if (op.kind === 'put') table.appPut({ ...k, a: { N: String(op.value) }, secret: { S: `s${op.value}` } });
      else if (op.kind === 'create') table.appCreate({ ...k, a: { N: String(op.value) } });
      else if (op.kind === 'update') table.appUpdate(k, { a: { N: String(op.value) } });
      else if (op.kind === 'add') table.appAdd(k, 'visits', op.value);
      else table.delete(k);
    }
    await cluster.drain();
    for (const call of cluster.observed) observed.add(call);
  }
  return observed;
}

let synth: Map<string, SynthesizedRegion>;
const observedByTable = new Map<string, Set<string>>();

beforeAll(async () => {
  synth = synthesizeFixture(CONFIG);
  for (const s of SCENARIOS) observedByTable.set(s.table, await observedCalls(s));
}, 120_000);

/** The grant (as `allowedOf` renders it) that a recorded call needs, made in `region`. */
function grantFor(region: string, table: string, call: string): { fn: 'shipper' | 'applier'; grant: string } {
  const [fn, resource, action] = call.split(' ') as ['shipper' | 'applier', string, string];
  const r = regionOf(synth, region);
  const rt = replicatedTable(r, table);
  const arnOf = (): string => {
    if (resource === 'table') return ref(logicalId(rt.table), 'Arn');
    if (resource === 'tombstones') return ref(logicalId(r.stack.tombstones!.table), 'Arn');
    if (resource === 'queue:dlq') return ref(logicalId(rt.deadLetterQueue), 'Arn');
    // The cluster's shippers send to the other region's inbound queue.
    if (resource === 'queue:inbound') return inboundQueueArn(table, REGIONS.find((x) => x !== region)!);
    throw new Error(`no resource in the template for ${resource}`);
  };
  return { fn, grant: `${action} on ${arnOf()}` };
}

describe('every AWS call the functions make is allowed by their deployed role', () => {
  it.each(SCENARIOS.flatMap((s) => REGIONS.map((region) => ({ ...s, region }))))('$table in $region', ({ table, region }) => {
    // Prepare
    const observed = [...observedByTable.get(table)!];
    const rt = replicatedTable(regionOf(synth, region), table);
    const allowed = {
      shipper: allowedOf(regionOf(synth, region).template, logicalId(rt.shipper)),
      applier: allowedOf(regionOf(synth, region).template, logicalId(rt.applier)),
    };

    // Act
    const needed = observed.map((call) => grantFor(region, table, call));

    // Assess: the workloads reached deletes and replicated writes, and each call is granted.
    expect(observed.some((c) => c.startsWith('applier table dynamodb:PutItem'))).toBe(true);
    expect(needed.filter(({ fn, grant }) => !allowed[fn].includes(grant)).map(({ fn, grant }) => `${fn} lacks ${grant}`)).toEqual([]);
  });

  it.each(SCENARIOS.flatMap((s) => REGIONS.map((region) => ({ ...s, region }))))('$table in $region: no item-level DynamoDB grant the functions never use', ({
    table,
    region,
  }) => {
    // Prepare
    const needed = new Set(
      [...observedByTable.get(table)!].map((call) => {
        const g = grantFor(region, table, call);
        return `${g.fn} ${g.grant}`;
      }),
    );
    const rt = replicatedTable(regionOf(synth, region), table);
    const itemLevel = /^dynamodb:(GetItem|PutItem|UpdateItem|DeleteItem) /;

    // Act
    const granted = (['shipper', 'applier'] as const).flatMap((fn) =>
      allowedOf(regionOf(synth, region).template, logicalId(fn === 'shipper' ? rt.shipper : rt.applier))
        .filter((g) => itemLevel.test(g))
        // The conflict log is written only when resolutions conflict; the workloads do not aim at it.
        .filter((g) => !regionOf(synth, region).stack.conflictLog || !g.includes(logicalId(regionOf(synth, region).stack.conflictLog!.table)))
        .map((g) => `${fn} ${g}`),
    );

    // Assess
    expect(granted.filter((g) => !needed.has(g))).toEqual([]);
  });
});
