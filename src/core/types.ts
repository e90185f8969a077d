/**
 * The core's shared types, in a module of their own (as Powertools keeps `types/` beside the
 * behaviour): the modules that define behaviour on them import them from here, so no two of
 * those modules need each other. Each is re-exported where it used to live.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** An item, a key or an image, in DynamoDB's wire shape. */
export type AttributeMap = Record<string, AttributeValue>;

/** One replicated write (core/change.ts encodes, validates and packs them into messages). */
export interface Change {
  /** Logical table name (the same in every region). */
  readonly table: string;
  readonly op: 'put' | 'delete';
  /** Key attributes of the item. */
  readonly key: AttributeMap;
  /**
   * put: the whole item without regionsync metadata. delete: what a merge-strategy tombstone still
   * carries (counters, removed attributes), when it holds more than the key.
   * @default none (required on a put; a delete without it holds only the key)
   */
  readonly item?: AttributeMap;
  /**
   * delete: epoch seconds at which the tombstone may be purged (the same in every region).
   * @default none (a put; a delete without it is invalid)
   */
  readonly expiresAt?: number;
  /** Encoded version (see version.ts). */
  readonly version: string;
  readonly origin: string;
  /** Epoch ms of the write in the origin region, for lag. */
  readonly writtenAt: number;
  /**
   * Replicated metadata: version vector, and the strategy's merge state (`_rs_vv`, `_rs_fv`, `_rs_crdt`).
   * @default none (nothing travels but the version, e.g. an lww item only ever written in one region)
   */
  readonly meta?: AttributeMap;
}

/** A version (core/version.ts encodes and orders them). */
export interface Version {
  /** Milliseconds since the epoch (wall clock, pushed forward past any version seen). */
  readonly ms: number;
  /** Orders changes within the same millisecond. */
  readonly counter: number;
  /** Origin region: breaks ties between regions deterministically. */
  readonly region: string;
}

/** A value a predicate compares an attribute with. */
export type Scalar = string | number | boolean;

/** A condition on top-level attributes of the item (the application's attributes, never metadata). */
export type Predicate =
  | { readonly attribute: string; readonly equals: Scalar }
  | { readonly attribute: string; readonly in: readonly Scalar[] }
  | { readonly attribute: string; readonly exists: true }
  | { readonly attribute: string; readonly notExists: true }
  | { readonly attribute: string; readonly beginsWith: string }
  | { readonly attribute: string; readonly lt: number }
  | { readonly attribute: string; readonly gt: number }
  | { readonly and: readonly Predicate[] }
  | { readonly or: readonly Predicate[] }
  | { readonly not: Predicate };

/** What goes to one target region: which items, and which of their attributes (`exclude` or `include`, not both). */
export interface TargetSelection {
  /**
   * Only items matching this (and the table's `filter`) go to the region.
   * @default none (every item the table's `filter` lets through)
   */
  readonly filter?: Predicate;
  /**
   * Attributes never sent to the region.
   * @default none (no attribute is left out)
   */
  readonly exclude?: readonly string[];
  /**
   * Only these attributes (and the key) are sent to the region.
   * @default none (every attribute not in `exclude`)
   */
  readonly include?: readonly string[];
}

/** A table's `replicate` setting. */
export interface SelectionSpec {
  /**
   * Only items matching this go to any other region.
   * @default none (every item)
   */
  readonly filter?: Predicate;
  /**
   * Per target region.
   * @default none (every region gets every item the `filter` lets through, whole)
   */
  readonly to?: Readonly<Record<string, TargetSelection>>;
}
