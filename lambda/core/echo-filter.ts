/**
 * Keeping the shipper from being invoked for its region's echoes of replication.
 *
 * Every change the applier writes shows up in the target's own stream, where the shipper skips it
 * (it came from elsewhere). Without a filter that skip still costs a Lambda invocation per stream
 * poll, the largest part of regionsync's invocations per replicated item. Lambda event filtering
 * drops records before invocation, but a filter sees one record and cannot compare its old and new
 * images, and an application's plain UpdateItem of a replicated item keeps `_rs_w = repl` (it never
 * touches `_rs_*`): a filter on "written by the applier" alone would drop that application write.
 *
 * So the applier alternates between two writer markers and the filter drops a record only when the
 * marker CHANGED from something else to a replication marker, on an item that has a version.
 * Applications do not write `_rs_*`, so an application write (marker unchanged, or none) reaches
 * the shipper. Every dropped record is one `classifyRecord` skips as `replicated` anyway (its
 * metadata changed, it has a version and its writer is a replication marker; a property test
 * checks this over arbitrary images): the filter saves invocations and changes no outcome.
 *
 * The applier picks the marker different from the stored one when it has read the item (merging
 * strategies); last-writer-wins writes blind, so its marker comes from the new version (inserts
 * are always dropped; an update of a replicated item is dropped when the markers differ, about
 * half the time, and otherwise invokes the shipper, which skips it as before).
 */
import type { AttributeMap } from './change.ts';
import { META } from './contract.ts';

/** The two writer markers of the applier. `repl` is the one older items carry. */
export const REPLICATION_WRITERS = ['repl', 'repl2'] as const;
export type ReplicationWriter = (typeof REPLICATION_WRITERS)[number];

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
 * the `dynamodb` key only). Delivered: deletes (no new image, so no marker and no version);
 * writes whose new image has no replication marker (plain and helper writes, stamps) or no
 * version; writes that kept the same replication marker (an application's update of a replicated
 * item). Dropped: a versioned write that set a replication marker the item did not have (an
 * applier insert, or an applier update that switched markers).
 */
export function shipperStreamFilterPatterns(): Record<string, unknown>[] {
  const newImage = (attribute: string, match: unknown[]) => ({ dynamodb: { NewImage: { [attribute]: { S: match } } } });
  return [
    newImage(META.writer, [{ 'anything-but': [...REPLICATION_WRITERS] }]),
    newImage(META.writer, [{ exists: false }]),
    newImage(META.version, [{ exists: false }]),
    ...REPLICATION_WRITERS.map((w) => ({ dynamodb: { OldImage: { [META.writer]: { S: [w] } }, NewImage: { [META.writer]: { S: [w] } } } })),
  ];
}
