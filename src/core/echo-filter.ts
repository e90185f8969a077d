/**
 * Keeping the shipper from being invoked for its region's echoes of replication.
 *
 * Every change the applier writes shows up in the target's own stream, where the shipper skips it
 * (it came from elsewhere). Lambda event filtering drops records before invocation, but a filter
 * sees one record at a time, cannot compare its old and new images, and cannot tell an applier
 * write from an application's write that put back copies of the `_rs_*` attributes it read (a
 * whole-item read-modify-write does, and a replicated change may have landed between its GetItem
 * and its PutItem, so the copied metadata differs from the stored one exactly as an applier write's
 * does). The shipper tells them apart by the content hash (stream-record.ts); a filter cannot.
 *
 * So the filter drops only what no application write looks like in practice: an insert (no old
 * image) carrying a replication marker and a version, which is how the applier's first write of
 * an item arrives. Every update and delete reaches the shipper. The one application write that
 * could look the same is a put-back copy of an item that has been deleted and whose tombstone has
 * expired since it was read (README, "Guarantees").
 *
 * The applier alternates two writer markers (`repl`, `repl2`, the one other than the stored one
 * when it has read the item), which older filters relied on; the shipper treats both alike.
 */
import type { AttributeMap } from './change.ts';
import { META } from './contract.ts';

/** The two writer markers of the applier. `repl` is the one older items carry. */
export const REPLICATION_WRITERS = ['repl', 'repl2'] as const;
/** A writer marker of the applier: `repl` or `repl2`. */
export type ReplicationWriter = (typeof REPLICATION_WRITERS)[number];

/** Whether a writer marker is the applier's (either of the two): the shipper treats both alike. */
export function isReplicationWriter(writer: string | undefined): writer is ReplicationWriter {
  return writer === 'repl' || writer === 'repl2';
}

/**
 * The marker for an applier write of `version`: the other one than the stored item's when it is
 * known, else one picked by the version (deterministic, so a retried write is identical).
 */
export function replicationWriterFor(version: string, stored?: AttributeMap): ReplicationWriter {
  const previous = stored?.[META.writer]?.S;
  if (previous === 'repl') return 'repl2';
  if (previous === 'repl2') return 'repl';
  let h = 0x811c9dc5; // FNV-1a: cheap and spreads consecutive versions evenly over both markers
  for (let i = 0; i < version.length; i++) h = Math.imul(h ^ version.charCodeAt(i), 0x01000193);
  return REPLICATION_WRITERS[(h >>> 0) % 2]!;
}

/**
 * The Lambda event filter patterns of the shipper's stream mapping (a record is delivered when it
 * matches ANY of them; five is Lambda's default limit per mapping, and DynamoDB mappings filter on
 * the `dynamodb` key only). Delivered: every record with an old image (updates and deletes: the
 * table's partition key is in every old image); writes whose new image has no replication marker
 * (plain and helper writes, stamps), another marker, no version or no content hash. Dropped: an
 * insert with a version, a content hash and a replication marker (the applier's first write).
 *
 * Each `exists: false` that must deliver an application write sits directly under `NewImage`,
 * which every insert has: so a plain insert is delivered whether or not `exists: false` needs the
 * field's parent to be present, a point AWS's documentation leaves open. If `exists` saw a field
 * holding an object (`_rs_w: { S: ... }`) as absent, those patterns would match every insert and
 * the filter would only cost invocations; it can never drop an application write under any of
 * these readings (test/unit/echo-filter.test.ts runs the property under each).
 */
export function shipperStreamFilterPatterns(partitionKey: { readonly name: string; readonly type: 'S' | 'N' | 'B' }): Record<string, unknown>[] {
  const newImage = (match: Record<string, unknown>) => ({ dynamodb: { NewImage: match } });
  const absent = [{ exists: false }];
  return [
    { dynamodb: { OldImage: { [partitionKey.name]: { [partitionKey.type]: [{ exists: true }] } } } },
    // A marker that is not the applier's, or one that is not a string.
    newImage({ [META.writer]: { S: [{ 'anything-but': [...REPLICATION_WRITERS] }, { exists: false }] } }),
    newImage({ [META.writer]: absent }),
    newImage({ [META.version]: absent }),
    // Every applier write carries a content hash: an insert without one is not the applier's.
    newImage({ [META.contentHash]: absent }),
  ];
}
