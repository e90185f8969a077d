/**
 * The shipper's batches for one target region under selective replication: only the changes
 * that region may receive, projected (core/selection.ts), packed like every other batch.
 */
import { groupIntoBatches, keyToString, packChanges, type AttributeMap, type Change } from '../../core/change.ts';
import type { FunctionSettings } from '../../core/contract.ts';
import { selectFor } from '../../core/selection.ts';

const SQS_MAX_BYTES = 1024 * 1024;

/**
 * The SendMessageBatch groups for `target`: the changes it may receive, projected and packed; a
 * change larger than the packing target goes in a message of its own (up to SQS's 1 MiB).
 */
export function selectedBatches(changes: readonly { change: Change; old?: AttributeMap }[], settings: FunctionSettings, target: string): string[][] {
  const selected = selectFor(changes, settings.selection, target, settings.key, settings.tombstoneTtlSeconds);
  const { bodies, oversized } = packChanges(selected, settings.maxMessageBytes);
  for (const c of oversized) {
    const alone = packChanges([c], SQS_MAX_BYTES).bodies[0];
    if (!alone) throw new Error(`change for ${keyToString(c.key)} is larger than SQS's 1 MiB message limit`);
    bodies.push(alone);
  }
  return groupIntoBatches(bodies, SQS_MAX_BYTES);
}
