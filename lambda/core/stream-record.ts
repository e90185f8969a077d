/**
 * What the shipper does with one DynamoDB stream record. Pure: decides from the record's
 * images alone, so the rules are unit-testable and the same in AWS and locally.
 *
 * The rules that keep replication loop-free without a "replicated=true" flag on the item
 * (the flag earlier replicators used made a later local update on a replica never replicate):
 *   - a record whose version attribute did not change is a plain application write
 *     (PutItem/UpdateItem from code that knows nothing of regionsync): stamp it;
 *   - a record whose version changed was written by regionsync itself: the applier (`repl`,
 *     an echo: never re-shipped), the shipper's own stamp (`stamp`, shipped when stamped),
 *     or the client helper (`app`, already versioned: ship as is).
 */
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord } from 'aws-lambda';
import { META, META_ATTRIBUTES, REPLICATED_META } from './contract.ts';
import { canonicalItem } from './codec.ts';
import { keyOf, stripMeta, type AttributeMap, type Change } from './change.ts';
import { isReplicationWriter } from './echo-filter.ts';
import { compareVersions, decodeVersion, type Version } from './version.ts';
import { clientWriteRestamp } from './clock-bound.ts';
import { mergeVectors, vectorFromAttribute, type VersionVector } from './vector.ts';
import type { KeySchema } from './contract.ts';

export type ShipperAction =
  | { readonly kind: 'skip'; readonly reason: 'replicated' | 'stamp-echo' | 'ttl-expiry' | 'not-a-change' }
  | { readonly kind: 'ship'; readonly change: Change }
  /** A plain put/update: give it a version (greater than `floor`) and ship the item as it then is. */
  | {
      readonly kind: 'stamp';
      readonly key: AttributeMap;
      readonly floor?: Version;
      readonly expectedVersion?: string;
      /** The item as the application wrote it (restored if a stale replicated change overwrote it). */
      readonly image: AttributeMap;
      /** The item before the write (merge strategies fold in the difference). */
      readonly oldImage?: AttributeMap;
      /** The history the record shows (version vectors of both images merged). */
      readonly baseVector: VersionVector;
      readonly sequenceNumber: string;
      readonly writtenAt: number;
      /** Set when this restamps a client-helper write whose version was this far ahead of DynamoDB's clock (clock-bound.ts). */
      readonly aheadOfClockMs?: number;
    }
  /** A plain delete: write a versioned tombstone (greater than `floor`) and ship the delete. */
  | {
      readonly kind: 'tombstone';
      readonly key: AttributeMap;
      readonly floor?: Version;
      /** Only when restamping a client-helper tombstone (`aheadOfClockMs`): the version it must still carry. */
      readonly expectedVersion?: string;
      readonly aheadOfClockMs?: number;
      readonly oldImage?: AttributeMap;
      readonly baseVector: VersionVector;
      readonly sequenceNumber: string;
      readonly writtenAt: number;
    };

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

export function classifyRecord(record: DynamoDBRecord, ctx: ClassifyContext): ShipperAction {
  const db = record.dynamodb;
  if (!db?.Keys) return { kind: 'skip', reason: 'not-a-change' };
  const key = db.Keys as unknown as AttributeMap;
  const oldImage = db.OldImage as AttributeMap | undefined;
  const newImage = db.NewImage as AttributeMap | undefined;
  const writtenAt = creationMs(db.ApproximateCreationDateTime, ctx.now);
  const sequenceNumber = (db.SequenceNumber ?? '').padStart(40, '0');
  const baseVector = mergeVectors(vectorFromAttribute(oldImage?.[META.vector]), vectorFromAttribute(newImage?.[META.vector]));

  if (record.eventName === 'REMOVE') {
    // TTL deletions are made by the DynamoDB service, not a user; each region's TTL expires
    // its own copy (the TTL attribute replicates), and purging a tombstone must never ship.
    if (isTtlExpiry(record)) {
      // Purging a tombstone never ships; expiring a live item does only if the table asks for it.
      if (!ctx.replicateTtlDeletes || oldImage?.[META.deleted]?.BOOL === true) return { kind: 'skip', reason: 'ttl-expiry' };
    }
    return { kind: 'tombstone', key, floor: versionOf(oldImage), ...(oldImage ? { oldImage } : {}), baseVector, sequenceNumber, writtenAt };
  }
  if (!newImage) return { kind: 'skip', reason: 'not-a-change' };

  const newVersion = stringAttr(newImage[META.version]);
  // Applications never touch `_rs_*` attributes (a PutItem drops them all), so a record whose
  // metadata changed was written by regionsync. The version alone is not enough: merging an
  // older change into a newer item changes the merge state but keeps the version.
  const metaChanged = newVersion !== undefined && META_ATTRIBUTES.some((m) => m !== META.sequence && !sameAttr(oldImage?.[m], newImage[m]));
  if (metaChanged) {
    const writer = stringAttr(newImage[META.writer]);
    if (isReplicationWriter(writer)) return { kind: 'skip', reason: 'replicated' };
    if (writer === 'stamp') return { kind: 'skip', reason: 'stamp-echo' };
    if (writer === 'app' && stringAttr(newImage[META.origin]) === ctx.region && decodeVersion(newVersion)?.region === ctx.region) {
      // Clock bound: a version from a host clock beyond the bound ahead of DynamoDB's is restamped, never shipped.
      const restamp = clientWriteRestamp(decodeVersion(newVersion), versionOf(oldImage), writtenAt, ctx.maxClockOffsetMs);
      if (!restamp) return { kind: 'ship', change: changeFromImage(newImage, ctx, writtenAt, ctx.ttlAttribute ?? META.expiresAt) };
      const common = { key, floor: restamp.floor, expectedVersion: newVersion, aheadOfClockMs: restamp.aheadMs, ...(oldImage ? { oldImage } : {}), baseVector, sequenceNumber, writtenAt };
      return newImage[META.deleted]?.BOOL === true ? { kind: 'tombstone', ...common } : { kind: 'stamp', ...common, image: newImage };
    }
  }
  // Plain application write (or metadata regionsync does not recognise): stamp it. The stamp is
  // conditional on the version still being the one this record saw, so a replicated change that
  // landed in between is never overwritten by the stamp.
  // The floor is the newest version the item held before or after the write: a PutItem that
  // replaced the whole item dropped the metadata, yet its stamp must still beat the version it
  // replaced, or a region whose clock runs behind would lose its own later write.
  return { kind: 'stamp', key, floor: newest(versionOf(oldImage), decodeVersion(newVersion)), expectedVersion: newVersion, image: newImage, ...(oldImage ? { oldImage } : {}), baseVector, sequenceNumber, writtenAt };
}

/** Builds the change to ship from an item as stored (with metadata). */
export function changeFromImage(image: AttributeMap, ctx: Pick<ClassifyContext, 'logicalTable' | 'key'>, writtenAt: number, ttlAttribute?: string): Change {
  const version = stringAttr(image[META.version]);
  const origin = stringAttr(image[META.origin]);
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

export function isTtlExpiry(record: DynamoDBRecord): boolean {
  return record.userIdentity?.type === 'Service' && record.userIdentity?.principalId === 'dynamodb.amazonaws.com';
}

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

function newest(a: Version | undefined, b: Version | undefined): Version | undefined {
  if (!a) return b;
  if (!b) return a;
  return compareVersions(a, b) >= 0 ? a : b;
}

/** What the shipper does when its stamp or tombstone found the item changed since the record. */
export type Reconciliation =
  /** Nothing to ship: the item is gone (a later REMOVE record follows) or a newer change from elsewhere replaced the write. */
  | { readonly kind: 'none' }
  /** The item carries this region's stamp above the record's history: ship it as it is (idempotent on retry). */
  | { readonly kind: 'ship'; readonly current: AttributeMap }
  /** A local state without a high enough version of ours: stamp it (again) above `floor`, conditional on `expectedVersion`. */
  | { readonly kind: 'restamp'; readonly floor?: Version; readonly expectedVersion?: string; readonly tombstone: boolean }
  /**
   * A change from another region that is no newer than what this record replaced has landed on an
   * unstamped local write (the applier cannot see a version the write removed): put back what the
   * record wrote, above both versions, so the region does not fall back to older data.
   */
  | { readonly kind: 'restore'; readonly floor?: Version; readonly expectedVersion: string };

/**
 * Decides from the item as it is now (returned by the failed condition) how to make sure the
 * current local state carries a version above every version this record shows in its history.
 */
export function reconcile(current: AttributeMap | undefined, floor: Version | undefined, region: string): Reconciliation {
  if (!current) return { kind: 'none' };
  const encoded = current[META.version]?.S;
  const version = decodeVersion(encoded);
  const tombstone = current[META.deleted]?.BOOL === true;
  // An unversioned item is a later plain write not stamped yet; stamping it here is safe and
  // carries this record's floor forward (the later record alone may not know it).
  if (!version) return { kind: 'restamp', floor, tombstone: false };
  const ours = current[META.writer]?.S === 'stamp' && current[META.origin]?.S === region;
  const newest = floor === undefined || compareVersions(version, floor) > 0 ? version : floor;
  const aboveHistory = newest === version;
  if (ours) return aboveHistory ? { kind: 'ship', current } : { kind: 'restamp', floor: newest, expectedVersion: encoded, tombstone };
  return aboveHistory ? { kind: 'none' } : { kind: 'restore', floor: newest, expectedVersion: encoded! };
}

function sameAttr(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonicalItem({ x: a } as unknown as AttributeMap) === canonicalItem({ x: b } as unknown as AttributeMap);
}
