/**
 * For the application's own consumers of a replicated table's stream (its other Lambda functions,
 * Pipes, Kinesis adapters): what regionsync adds to the stream, and how to skip it. Pure.
 *
 * Regionsync writes to the table, and so to its stream:
 *  - replicated changes: the applier's writes of other regions' changes (`_rs_w` = `repl`/`repl2`),
 *    and its removals of items deleted elsewhere. These are real changes of the region's data: a
 *    consumer that keeps a per-region copy (a search index, a cache) wants them; one that must act
 *    once per write (send an email) wants only its region's own writes;
 *  - bookkeeping: the shipper's stamps (a version and hash added to the application's write,
 *    content unchanged), and the mark regionsync puts on an item it is about to remove (`_rs_w = rm`).
 *
 * A Lambda event filter sees one record at a time and cannot compare its two images, so it cannot
 * tell a stamp, or an applier's update, from an application's update of the same item (an
 * `UpdateItem` keeps every `_rs_*` attribute). {@link regionsyncConsumerFilterPatterns} therefore
 * drops only what no application write looks like: the applier's inserts, removal marks and
 * regionsync's removals. {@link isRegionsyncBookkeeping} is exact, in code, for the rest.
 */
import type { DynamoDBRecord } from 'aws-lambda';
import type { AttributeMap } from './change.ts';
import { canonicalItem } from './codec.ts';
import { META } from './contract.ts';
import { REPLICATION_WRITERS } from './echo-filter.ts';
import { REMOVAL_WRITER } from './tombstones.ts';
import { writtenByRegionsyncNow } from './stream-record.ts';

/**
 * Lambda event filter patterns (any one matching delivers the record; five, Lambda's default limit)
 * for a consumer of a replicated table's stream. Delivered: every application write, stamps and
 * the applier's updates of existing items (see above). Dropped: the applier's first write of an
 * item in this region, the mark on an item regionsync is about to remove, and that removal.
 */
export function regionsyncConsumerFilterPatterns(): Record<string, unknown>[] {
  const writer = (image: 'NewImage' | 'OldImage', match: unknown[], events: string[]) => ({
    eventName: events,
    dynamodb: { [image]: { [META.writer]: { S: match } } },
  });
  // `exists: false` directly under the image, which the record always has: a write without a
  // marker is delivered however `exists` treats a missing parent (echo-filter.ts explains).
  const noMarker = (image: 'NewImage' | 'OldImage', events: string[]) => ({ eventName: events, dynamodb: { [image]: { [META.writer]: [{ exists: false }] } } });
  return [
    // Another marker, or one that is not a string.
    writer('NewImage', [{ 'anything-but': [...REPLICATION_WRITERS, REMOVAL_WRITER] }, { exists: false }], ['INSERT', 'MODIFY']),
    noMarker('NewImage', ['INSERT', 'MODIFY']),
    // An update of an item the applier wrote last keeps its marker, whoever made it.
    writer('NewImage', [...REPLICATION_WRITERS], ['MODIFY']),
    writer('OldImage', [{ 'anything-but': [REMOVAL_WRITER] }, { exists: false }], ['REMOVE']),
    noMarker('OldImage', ['REMOVE']),
  ];
}

/**
 * Exact, in code: whether a record is regionsync's bookkeeping (a stamp or a removal mark: only
 * `_rs_*` attributes changed), which a consumer can skip without missing any change of data.
 */
export function isRegionsyncBookkeeping(record: DynamoDBRecord): boolean {
  if (record.eventName !== 'MODIFY') return false;
  const strip = (image: unknown) => Object.fromEntries(Object.entries((image ?? {}) as AttributeMap).filter(([name]) => !name.startsWith('_rs_')));
  return canonicalItem(strip(record.dynamodb?.OldImage)) === canonicalItem(strip(record.dynamodb?.NewImage));
}

/** Whether a record is a change another region made, applied here by regionsync (a replicated write or removal). */
export function isReplicatedChange(record: DynamoDBRecord): boolean {
  const writer = (record.dynamodb?.NewImage as AttributeMap | undefined)?.[META.writer]?.S;
  if (record.eventName === 'REMOVE') return (record.dynamodb?.OldImage as AttributeMap | undefined)?.[META.writer]?.S === REMOVAL_WRITER;
  const newImage = record.dynamodb?.NewImage as AttributeMap | undefined;
  // The shipper's own rule (stream-record.ts): metadata moved forward and the content hash matches.
  return (
    !!newImage &&
    (REPLICATION_WRITERS as readonly (string | undefined)[]).includes(writer) &&
    writtenByRegionsyncNow(record.dynamodb?.OldImage as AttributeMap | undefined, newImage)
  );
}
