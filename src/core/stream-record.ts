/**
 * What the shipper does with one DynamoDB stream record. Pure: decides from the record's
 * images alone, so the rules are unit-testable and the same in AWS and locally.
 *
 * The rules that keep replication loop-free without a "replicated=true" flag on the item
 * (the flag earlier replicators used made a later local update on a replica never replicate):
 *   - a record whose metadata regionsync moved forward (a greater version, or a greater merge
 *     lock) and whose content matches the hash regionsync stored (or a stamp, which changes no
 *     content) was written by regionsync itself: the applier (`repl`/`repl2`, an echo: never
 *     re-shipped), the shipper's own stamp (`stamp`, shipped when stamped), or the client helper
 *     (`app`, already versioned: ship as is);
 *   - anything else is an application write (PutItem/UpdateItem/transactions/batches from code
 *     that knows nothing of regionsync, whatever `_rs_*` attributes it put back): stamp it, at
 *     the version of when it happened (the record's creation time).
 */
import { createHash } from 'node:crypto';
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord } from 'aws-lambda';
import { META, REPLICATED_META } from './contract.ts';
import { keyOf, stripMeta, type AttributeMap, type Change } from './change.ts';
import { isReplicationWriter } from './echo-filter.ts';
import { compareVersions, decodeVersion, encodeVersion, maxVersion, regionOfVersion, type Version, versionAt } from './version.ts';
import { sameContent, writtenByRegionsync } from './content-hash.ts';
import { clientWriteRestamp } from './clock-bound.ts';
import { REMOVAL_WRITER } from './tombstones.ts';
import { mergeVectors, vectorFromAttribute, type VersionVector } from './vector.ts';
import type { KeySchema } from './contract.ts';

/** What the shipper does with one stream record: skip it, ship it as it is, stamp a plain write, or tombstone a plain delete. */
export type ShipperAction =
  | { readonly kind: 'skip'; readonly reason: 'replicated' | 'stamp-echo' | 'ttl-expiry' | 'not-a-change' | 'removal-mark' }
  | { readonly kind: 'ship'; readonly change: Change }
  /** A plain put/update: give it `version` and ship the item as it then is. */
  | {
      readonly kind: 'stamp';
      readonly key: AttributeMap;
      /** The write's own version: from when it happened (versionAt), above the newest version the record shows. */
      readonly version: Version;
      readonly floor?: Version;
      /** The version attribute as the write left it (the stamp's guard: nothing has been written since). */
      readonly expectedVersion?: string;
      /** The item as the application wrote it (restored if an older replicated change overwrote it). */
      readonly image: AttributeMap;
      /** The write re-created a tombstone and kept its expiry in the user's TTL attribute: the stamp removes it. */
      readonly clearTtl?: boolean;
      /** The item before the write (merge strategies fold in the difference). */
      readonly oldImage?: AttributeMap;
      /** The history the record shows (version vectors of both images merged). */
      readonly baseVector: VersionVector;
      readonly sequenceNumber: string;
      /** What the fold keeps in `_rs_sq`: the stream and the record's place in it (see foldMarkOf). */
      readonly foldMark: string;
      readonly writtenAt: number;
      /** Set when this restamps a client-helper write whose version was this far ahead of DynamoDB's clock (clock-bound.ts). */
      readonly aheadOfClockMs?: number;
    }
  /** A plain delete: write a tombstone at `version` and ship the delete. */
  | {
      readonly kind: 'tombstone';
      readonly key: AttributeMap;
      readonly version: Version;
      readonly floor?: Version;
      /** Only when restamping a client-helper tombstone (`aheadOfClockMs`): the version and content hash it must still carry. */
      readonly guard?: ItemGuard;
      readonly aheadOfClockMs?: number;
      readonly oldImage?: AttributeMap;
      readonly baseVector: VersionVector;
      readonly sequenceNumber: string;
      readonly foldMark: string;
      readonly writtenAt: number;
    };

/** What {@link classifyRecord} needs to know about the table and the region. */
export interface ClassifyContext {
  readonly logicalTable: string;
  readonly region: string;
  readonly key: KeySchema;
  /** Used when the record carries no creation time. */
  readonly now: number;
  /** Replicate TTL expirations as deletes. @default false */
  readonly replicateTtlDeletes?: boolean;
  /** The table's TTL attribute: a tombstone's expiry travels with its delete. @default '_rs_exp' */
  readonly ttlAttribute?: string;
  /** `lww` tables: restamp client-helper writes more than this ahead of the record's creation time (clock-bound.ts). @default never */
  readonly maxClockOffsetMs?: number;
}

/** Decides, from the record's images alone, what the shipper does with it (the rules above). */
export function classifyRecord(record: DynamoDBRecord, ctx: ClassifyContext): ShipperAction {
  const db = record.dynamodb;
  if (!db?.Keys) return { kind: 'skip', reason: 'not-a-change' };
  const key = db.Keys as unknown as AttributeMap;
  const oldImage = db.OldImage as AttributeMap | undefined;
  const newImage = db.NewImage as AttributeMap | undefined;
  const writtenAt = creationMs(db.ApproximateCreationDateTime, ctx.now);
  const sequenceNumber = (db.SequenceNumber ?? '').padStart(40, '0');
  const foldMark = foldMarkOf(record.eventSourceARN, sequenceNumber);
  const baseVector = mergeVectors(
    vectorFromAttribute(oldImage?.[META.vector], oldImage?.[META.version]?.S),
    vectorFromAttribute(newImage?.[META.vector], newImage?.[META.version]?.S),
  );

  if (record.eventName === 'REMOVE') {
    // TTL deletions are made by the DynamoDB service, not a user; each region's TTL expires
    // its own copy (the TTL attribute replicates), and purging a tombstone must never ship.
    if (isTtlExpiry(record)) {
      // Purging a tombstone never ships; expiring a live item does only if the table asks for it.
      if (!ctx.replicateTtlDeletes || oldImage?.[META.deleted]?.BOOL === true) return { kind: 'skip', reason: 'ttl-expiry' };
    }
    const floor = versionOf(oldImage);
    return {
      kind: 'tombstone',
      key,
      version: versionAt(writtenAt, ctx.region, floor),
      floor,
      ...(oldImage ? { oldImage } : {}),
      baseVector,
      sequenceNumber,
      foldMark,
      writtenAt,
    };
  }
  if (!newImage) return { kind: 'skip', reason: 'not-a-change' };

  const newVersion = stringAttr(newImage[META.version]);
  // Regionsync marking an item it is about to remove (src/functions/shared/remove-item.ts): only the writer changed.
  if (
    stringAttr(newImage[META.writer]) === REMOVAL_WRITER &&
    oldImage &&
    stringAttr(oldImage[META.version]) === newVersion &&
    sameContent(oldImage, newImage)
  ) {
    return { kind: 'skip', reason: 'removal-mark' };
  }
  // The one regionsync write that lowers a version: the restamp of a client-helper write from a
  // host clock beyond the bound (below). It changed no content, and the version it replaced is that far ahead.
  const restampEcho =
    stringAttr(newImage[META.writer]) === 'stamp' &&
    stringAttr(oldImage?.[META.writer]) === 'app' &&
    oldImage !== undefined &&
    sameContent(oldImage, newImage) &&
    clientWriteRestamp(versionOf(oldImage), undefined, writtenAt, ctx.maxClockOffsetMs) !== undefined;
  if (restampEcho) return { kind: 'skip', reason: 'stamp-echo' };
  if (writtenByRegionsyncNow(oldImage, newImage)) {
    const writer = stringAttr(newImage[META.writer]);
    if (isReplicationWriter(writer)) return { kind: 'skip', reason: 'replicated' };
    if (writer === 'stamp') return { kind: 'skip', reason: 'stamp-echo' };
    if (writer === 'app' && decodeVersion(newVersion)?.region === ctx.region) {
      // Clock bound: a version from a host clock beyond the bound ahead of DynamoDB's is restamped, never shipped.
      const restamp = clientWriteRestamp(decodeVersion(newVersion), versionOf(oldImage), writtenAt, ctx.maxClockOffsetMs);
      if (!restamp) return { kind: 'ship', change: changeFromImage(newImage, ctx, writtenAt, ctx.ttlAttribute ?? META.expiresAt) };
      const common = {
        key,
        version: versionAt(writtenAt, ctx.region, restamp.floor),
        floor: restamp.floor,
        aheadOfClockMs: restamp.aheadMs,
        ...(oldImage ? { oldImage } : {}),
        baseVector,
        sequenceNumber,
        foldMark,
        writtenAt,
      };
      if (newImage[META.deleted]?.BOOL !== true) return { kind: 'stamp', ...common, expectedVersion: newVersion, image: newImage };
      const hash = stringAttr(newImage[META.contentHash]);
      return {
        kind: 'tombstone',
        ...common,
        guard: { ...(newVersion !== undefined ? { version: newVersion } : {}), ...(hash !== undefined ? { contentHash: hash } : {}) },
      };
    }
  }
  // An application write (or metadata regionsync does not recognise): stamp it. The stamp is
  // conditional on the version attribute still being the one this record left, so a replicated
  // change that landed in between is never overwritten by the stamp (the shipper reconciles instead).
  // The floor is the newest version the item held before or after the write: a PutItem that
  // replaced the whole item dropped the metadata (or put back a stale copy), yet its version
  // must still beat the version it replaced.
  const floor = maxVersion(versionOf(oldImage), decodeVersion(newVersion));
  // An UpdateItem that re-creates a deleted item keeps every attribute it does not set, the
  // tombstone's expiry in a user-owned TTL attribute too: left there, the new item would expire
  // with the tombstone (finding 8). Unless the write set it, the stamp removes it.
  const ttl = ctx.ttlAttribute;
  const inheritsExpiry =
    ttl !== undefined &&
    ttl !== META.expiresAt &&
    oldImage?.[META.deleted]?.BOOL === true &&
    newImage[ttl] !== undefined &&
    JSON.stringify(newImage[ttl]) === JSON.stringify(oldImage[ttl]);
  const image = inheritsExpiry ? Object.fromEntries(Object.entries(newImage).filter(([name]) => name !== ttl)) : newImage;
  return {
    kind: 'stamp',
    key,
    version: versionAt(writtenAt, ctx.region, floor),
    floor,
    expectedVersion: newVersion,
    image,
    ...(inheritsExpiry ? { clearTtl: true } : {}),
    ...(oldImage ? { oldImage } : {}),
    baseVector,
    sequenceNumber,
    foldMark,
    writtenAt,
  };
}

/**
 * Whether the record is regionsync's own write (the applier's, a stamp, the client helper's) rather
 * than the application's. An application may put back any `_rs_*` attribute it read, stale or
 * current (a whole-item read-modify-write does), so "the metadata changed" is not enough. Every
 * regionsync write moves the item's metadata forward (a greater version, or the same version and
 * a greater merge lock when an older change was merged in) and stores the hash of the content it
 * wrote; a stamp changes no content. Metadata that stayed, went back, or does not match the
 * content is the application's.
 */
export function writtenByRegionsyncNow(oldImage: AttributeMap | undefined, newImage: AttributeMap): boolean {
  const next = versionOf(newImage);
  if (!next) return false;
  const previous = versionOf(oldImage);
  const order = previous ? compareVersions(next, previous) : 1;
  const advanced = order > 0 || (order === 0 && lockOf(newImage) > lockOf(oldImage));
  if (!advanced) return false;
  // A stamp (UpdateItem) changes metadata only, and its hash is that of the write it stamped,
  // which a later write may already have replaced: it is recognised by content it left unchanged.
  const stampEcho = stringAttr(newImage[META.writer]) === 'stamp' && oldImage !== undefined && sameContent(oldImage, newImage);
  return stampEcho || writtenByRegionsync(newImage);
}

/** The merge lock as a number (older items carry a random token: 0). */
function lockOf(image: AttributeMap | undefined): number {
  const n = Number(stringAttr(image?.[META.lock]));
  return Number.isSafeInteger(n) ? n : 0;
}

/**
 * Builds the change to ship from an item as stored (with metadata). `as`: the version to ship it
 * at when that is not the item's (a merge strategy's local write ships at its own version, while
 * the item's stays the newest it holds, perhaps another region's).
 */
export function changeFromImage(
  image: AttributeMap,
  ctx: Pick<ClassifyContext, 'logicalTable' | 'key'>,
  writtenAt: number,
  ttlAttribute?: string,
  as?: Version,
): Change {
  const version = as ? encodeVersion(as) : stringAttr(image[META.version]);
  const origin = as ? as.region : regionOfVersion(version);
  if (!version || !origin) throw new Error('image has no regionsync version');
  const key = keyOf(image, ctx.key);
  const meta = Object.fromEntries(REPLICATED_META.filter((m) => image[m] !== undefined).map((m) => [m, image[m]!]));
  const withMeta = Object.keys(meta).length > 0 ? { meta } : {};
  if (image[META.deleted]?.BOOL === true) {
    const exp = ttlAttribute ? Number(image[ttlAttribute]?.N) : NaN;
    // A merge-strategy tombstone still carries state (counters, removed attributes): keep its content.
    const item = stripMeta(image, ttlAttribute ? [ttlAttribute] : []);
    const content = Object.keys(item).length > Object.keys(key).length ? { item } : {};
    return { table: ctx.logicalTable, op: 'delete', key, ...content, expiresAt: Number.isFinite(exp) ? exp : 0, version, origin, writtenAt, ...withMeta };
  }
  return { table: ctx.logicalTable, op: 'put', key, item: stripMeta(image), version, origin, writtenAt, ...withMeta };
}

/** Whether a REMOVE record is a TTL deletion: made by the DynamoDB service, not by the application. */
export function isTtlExpiry(record: DynamoDBRecord): boolean {
  return record.userIdentity?.type === 'Service' && record.userIdentity?.principalId === 'dynamodb.amazonaws.com';
}

/** The regionsync version an image carries, or undefined (no image, or no readable version). */
export function versionOf(image: AttributeMap | undefined): Version | undefined {
  return decodeVersion(stringAttr(image?.[META.version]));
}

function stringAttr(v: LambdaAttributeValue | AttributeMap[string] | undefined): string | undefined {
  return v && 'S' in v && typeof v.S === 'string' ? v.S : undefined;
}

/** Stream creation time is seconds (AWS rounds it); a fractional value is used as is. */
function creationMs(seconds: number | undefined, fallback: number): number {
  return typeof seconds === 'number' && Number.isFinite(seconds) ? Math.round(seconds * 1000) : fallback;
}

/** What the shipper does when its stamp or tombstone found the item changed since the record. */
export type Reconciliation =
  /** Nothing to ship: the item is gone (a later REMOVE record follows), a newer change replaced the write, or a later local write is on top (its own record follows). */
  | { readonly kind: 'none' }
  /** The item holds this write's content at this region's version, or one above it: ship it as it is (idempotent on retry). */
  | { readonly kind: 'ship'; readonly current: AttributeMap }
  /** The item holds this write's content without a version as high as the write's: stamp it at `version`, guarded by `expected`. */
  | { readonly kind: 'restamp'; readonly version: Version; readonly expected: ItemGuard }
  /**
   * An older change from another region overwrote the write before it was stamped (the applier
   * cannot tell an unstamped write from an old one): put back what the record wrote at `version`,
   * guarded by `expected`, so the write that happened later wins.
   */
  | { readonly kind: 'restore'; readonly version: Version; readonly expected: ItemGuard };

/** What a reconciling write is conditional on: the item's version and content hash exactly as the shipper saw them. */
export interface ItemGuard {
  /** @default none (the item must carry no version) */
  readonly version?: string;
  /** @default none (the item must carry no content hash) */
  readonly contentHash?: string;
}

/**
 * Decides, from the item as it is now (returned by the failed condition), how to make the region
 * hold what the last write wins: this record's write at `version` unless a newer change replaced
 * it. `image` is the record's new image (undefined for a delete).
 */
export function reconcile(current: AttributeMap | undefined, image: AttributeMap | undefined, version: Version, region: string): Reconciliation {
  if (!current) return { kind: 'none' };
  const encoded = stringAttr(current[META.version]);
  const stored = decodeVersion(encoded);
  const expected: ItemGuard = {
    ...(encoded !== undefined ? { version: encoded } : {}),
    ...(current[META.contentHash]?.S ? { contentHash: current[META.contentHash].S } : {}),
  };
  // Never below what is stored: two contents of one item must never share a version.
  const above = stored && compareVersions(stored, version) >= 0 ? versionAt(stored.ms, region, stored) : version;
  const ours = stringAttr(current[META.writer]) === 'stamp' && regionOfVersion(encoded) === region;
  const holdsThisWrite = image ? current[META.deleted]?.BOOL !== true && sameContent(current, image) : current[META.deleted]?.BOOL === true;
  if (holdsThisWrite) {
    if (stored && compareVersions(stored, version) >= 0) {
      if (!ours) return { kind: 'none' };
      // An earlier record's stamp landed on this write's content (the application wrote twice in
      // the same instant): keep the version, correct the content hash, ship.
      return writtenByRegionsync(current) ? { kind: 'ship', current } : { kind: 'restamp', version: stored, expected };
    }
    return image ? { kind: 'restamp', version: above, expected } : { kind: 'restore', version: above, expected };
  }
  // Another content. Not regionsync's: a later application write is on top, and its own record follows.
  if (!writtenByRegionsync(current)) return { kind: 'none' };
  // Regionsync's, at a version as new as this write's or newer: that change wins.
  if (stored && compareVersions(stored, version) >= 0) return { kind: 'none' };
  return { kind: 'restore', version: above, expected };
}

/**
 * The merge strategies' guard against folding a retried record twice (`_rs_sq`): the record's
 * sequence number, prefixed with a short hash of its stream's label. Sequence numbers mean nothing
 * across streams: after a point-in-time restore, or a stream disabled and enabled again, the new
 * stream's numbers bear no relation to the old ones, and a bare comparison could take a new write
 * for one already folded. Pure.
 */
export function foldMarkOf(streamArn: string | undefined, paddedSequence: string): string {
  const label = streamArn?.split('/stream/')[1];
  if (!label) return paddedSequence;
  return `${createHash('sha256').update(label).digest('base64url').slice(0, 6)}#${paddedSequence}`;
}

/** Whether the item's `_rs_sq` says the record marked `mark` has been folded in already (same stream, same or later record). */
export function alreadyFolded(stored: string | undefined, mark: string): boolean {
  if (!stored) return false;
  const [storedStream, storedSequence] = stored.includes('#') ? stored.split('#') : [undefined, stored];
  const [stream, sequence] = mark.includes('#') ? mark.split('#') : [undefined, mark];
  // A mark from another stream says nothing about this one (an unmarked, older mark is this table's only stream).
  if (storedStream !== undefined && stream !== undefined && storedStream !== stream) return false;
  return storedSequence! >= sequence!;
}
