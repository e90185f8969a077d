/**
 * The content hash regionsync keeps on every item it writes (`_rs_h`, see contract.ts). Pure.
 *
 * An application that knows nothing of regionsync may put back any `_rs_*` attribute it read,
 * stale or not (a whole-item read-modify-write does), so no metadata attribute alone says who
 * wrote an item last. The content does: regionsync stores the hash of the content it wrote, and
 * content that does not match it was written by the application afterwards.
 */
import { createHash } from 'node:crypto';
import type { AttributeMap } from './change.ts';
import { canonicalItem } from './codec.ts';
import { META, META_ATTRIBUTES } from './contract.ts';

/** 66 bits of SHA-256 in base64url: 11 characters, enough that two contents of one item never collide in practice. */
const HASH_CHARS = 11;

/** The hash of an item's application content (every attribute but regionsync's `_rs_*` ones). */
export function contentHash(item: AttributeMap): string {
  const content: AttributeMap = {};
  for (const [name, value] of Object.entries(item)) if (!META_ATTRIBUTES.includes(name)) content[name] = value;
  return createHash('sha256').update(canonicalItem(content)).digest('base64url').slice(0, HASH_CHARS);
}

/** The item with the hash of its content, as regionsync writes it. */
export function withContentHash(item: AttributeMap): AttributeMap {
  return { ...item, [META.contentHash]: { S: contentHash(item) } };
}

/**
 * Whether the item's content is still what regionsync last wrote. An item without a hash (written
 * before regionsync kept one) counts as the application's: the shipper stamps it once more, which
 * is harmless, whereas trusting a bare version would trust any stale copy of one.
 */
export function writtenByRegionsync(item: AttributeMap): boolean {
  const stored = item[META.contentHash]?.S;
  return stored !== undefined && stored === contentHash(item);
}

/** Whether two items hold the same application content (metadata aside). */
export function sameContent(a: AttributeMap, b: AttributeMap): boolean {
  return contentHash(a) === contentHash(b);
}
