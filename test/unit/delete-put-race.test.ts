/**
 * A replicated delete and an older replicated put of the same key, applied at the same time in one
 * region (one applier batch's messages run concurrently). Each side checks for the other: the put,
 * after writing, reads the tombstone row; the delete removes what is older than it. Found by the
 * chaos soak (seed 629628082): the delete looked at the item before the put landed and wrote its
 * tombstone row only after the put had read none, so each missed the other and the older put
 * stayed in that region alone, for good.
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { Applier } from '../../src/functions/applier/applier.ts';
import type { Change } from '../../src/core/change.ts';
import { META } from '../../src/core/contract.ts';
import { encodeVersion } from '../../src/core/version.ts';
import { KEY, settingsFor, silentLogger, silentMetrics, TOMBSTONES } from '../support/cluster.ts';
import { FakeSqs, FakeTable } from '../support/fakes.ts';

const [CA, EU, AP] = ['ca-west-1', 'eu-south-2', 'ap-southeast-4'];
const T0 = 1_764_000_000_000;
const key = { pk: { S: 'hot-9' }, sk: { S: 's' } };
const put: Change = {
  table: 'items',
  op: 'put',
  key,
  item: { ...key, v: { S: 'from ca' } },
  version: encodeVersion({ ms: T0, counter: 0, region: CA }),
  origin: CA,
  writtenAt: T0,
};
const del: Change = {
  table: 'items',
  op: 'delete',
  key,
  expiresAt: Math.floor(T0 / 1000) + 86_400,
  version: encodeVersion({ ms: T0 + 500, counter: 0, region: EU }),
  origin: EU,
  writtenAt: T0 + 500,
};

/** AP's applier over fake tables, with the delete's tombstone write held back until the put has looked for a tombstone. */
function raceInAp() {
  const now = () => T0 + 1_000;
  const table = new FakeTable(AP, KEY, now);
  const tombstones = new FakeTable(AP, { partitionKey: META.tombstoneKey }, now);
  let putLooked!: () => void;
  const putHasLooked = new Promise<void>((resolve) => (putLooked = resolve));
  const client = {
    send: async (command: { input: { TableName?: string } }) => {
      const toTombstones = command.input.TableName === TOMBSTONES;
      if (toTombstones && command instanceof PutItemCommand) await putHasLooked;
      const out = await (toTombstones ? tombstones : table).dispatch(command);
      if (toTombstones && command instanceof GetItemCommand) putLooked();
      return out;
    },
  } as never;
  const applier = new Applier(settingsFor(AP, [CA, EU, AP]), {
    dynamodb: client,
    sqs: new FakeSqs().client,
    logger: silentLogger(),
    metrics: silentMetrics(),
    now,
  });
  return { applier, table };
}

describe('a replicated delete racing an older replicated put in one region', () => {
  it('the older put does not survive: the delete looks again once its tombstone is written', async () => {
    // Prepare
    const { applier, table } = raceInAp();

    // Act: the delete first looks at the (still absent) item, then the put lands and finds no tombstone yet.
    await Promise.all([applier.apply(del), applier.apply(put)]);

    // Assess
    expect(table.get(key)).toBeUndefined();
  });
});
