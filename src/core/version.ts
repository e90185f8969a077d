/**
 * Versions: a hybrid logical clock (wall-clock milliseconds + a counter) with the origin
 * region as the final tie-break, encoded as a fixed-width string so that DynamoDB's string
 * comparison in a condition expression (`_rs_v < :v`) orders versions exactly as
 * {@link compareVersions} does. Two different changes never share a version: within one
 * region the clock only moves forward, and the region name separates regions.
 */

import { DEFAULT_MAX_CLOCK_OFFSET_MS } from './clock-bound.ts';
import type { Version } from './types.ts';

export type { Version };
import { ClockOffsetError } from './errors.ts';

/**
 * `<ms><counter>.<region>`: the wall-clock milliseconds in 9 base-36 digits (enough until the year
 * 5138), the counter in 4 (up to 1,679,615; capped at {@link MAX_COUNTER}), then the region. The
 * digits 0-9a-z sort in ASCII as they do in value, and both fields are fixed-width, so DynamoDB's
 * string order is the version order; 23 bytes for us-east-1, where the decimal form took 32.
 */
const MS_DIGITS = 9;
const COUNTER_DIGITS = 4;
const MAX_COUNTER = 999_999;
const MAX_MS = 36 ** MS_DIGITS - 1;
const VERSION_PATTERN = /^([0-9a-z]{9})([0-9a-z]{4})\.([a-z0-9-]+)$/;
/** The first release's decimal form (`001732000000000.000000.us-east-1`), still read. */
const LEGACY_VERSION_PATTERN = /^(\d{15})\.(\d{6})\.([a-z0-9-]+)$/;

/** The version as stored in `_rs_v` and carried in changes: fixed width, so string order is version order. */
export function encodeVersion(v: Version): string {
  return `${timePart(v)}.${v.region}`;
}

/** The version without its region: what a version vector stores under the region's name. */
export function timePart(v: Pick<Version, 'ms' | 'counter'>): string {
  if (!Number.isSafeInteger(v.ms) || v.ms < 0 || v.ms > MAX_MS) throw new RangeError(`version ms must be an integer from 0 to ${MAX_MS}, got ${v.ms}`);
  if (!Number.isInteger(v.counter) || v.counter < 0 || v.counter > MAX_COUNTER) {
    throw new RangeError(`version counter must be 0..${MAX_COUNTER}, got ${v.counter}`);
  }
  return `${v.ms.toString(36).padStart(MS_DIGITS, '0')}${v.counter.toString(36).padStart(COUNTER_DIGITS, '0')}`;
}

/** Parses an encoded version (or the legacy decimal form); returns undefined for anything that is not one. */
export function decodeVersion(s: unknown): Version | undefined {
  if (typeof s !== 'string') return undefined;
  const m = VERSION_PATTERN.exec(s);
  if (m) return { ms: parseInt(m[1]!, 36), counter: parseInt(m[2]!, 36), region: m[3]! };
  const legacy = LEGACY_VERSION_PATTERN.exec(s);
  if (legacy) return { ms: Number(legacy[1]), counter: Number(legacy[2]), region: legacy[3]! };
  return undefined;
}

/** The region that made an encoded version (its suffix), or undefined for anything that is not one. */
export function regionOfVersion(s: unknown): string | undefined {
  return decodeVersion(s)?.region;
}

/** Whether a value is an encoded version (either form): what validateChange checks a change's version with. */
export function isVersion(s: unknown): s is string {
  return decodeVersion(s) !== undefined;
}

/** Total order, identical to the order of the encoded strings. */
export function compareVersions(a: Version, b: Version): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return a.region < b.region ? -1 : a.region > b.region ? 1 : 0;
}

/**
 * The version of a plain application write, made from when it happened rather than when the
 * shipper got to it: `physicalMs` is the stream record's creation time (DynamoDB's clock: whole
 * seconds on AWS, milliseconds on the emulator), pushed past `floor` (the newest version the item
 * held before the write) as a hybrid logical clock would. Deterministic, so a retried record gets
 * the same version; and a write that happened later than another, by more than the stream's
 * timestamp resolution, always gets the greater version, however late either is shipped.
 */
export function versionAt(physicalMs: number, region: string, floor?: Version): Version {
  const wall = Math.max(0, Math.floor(physicalMs));
  if (!floor || wall > floor.ms) return { ms: wall, counter: 0, region };
  if (floor.counter < MAX_COUNTER) return { ms: floor.ms, counter: floor.counter + 1, region };
  return { ms: floor.ms + 1, counter: 0, region };
}

/** The greater of two versions (either may be missing). */
export function maxVersion(a: Version | undefined, b: Version | undefined): Version | undefined {
  if (!a) return b;
  if (!b) return a;
  return compareVersions(a, b) >= 0 ? a : b;
}

/**
 * A hybrid logical clock for one region. `next(floor)` returns a version greater than every
 * version it returned before and greater than `floor` (the version the item carries now), so a
 * write stamped on top of a replicated change always wins over it, whatever the clocks say.
 *
 * Bounded (review finding 10, see clock-bound.ts): it never returns a version more than
 * `maxOffsetMs` ahead of the highest wall-clock reading it has taken. A floor beyond that is a
 * clock from the future: `next` throws ClockOffsetError and changes nothing, rather than clamp,
 * because a clamped version would lose to the very version the write replaced. So every version
 * it returns is above its floor, and no other clock can drag this one further than the bound.
 */
export class HybridLogicalClock {
  private lastMs = 0;
  private lastCounter = 0;
  private maxWall = 0;

  constructor(
    private readonly region: string,
    private readonly now: () => number = Date.now,
    private readonly maxOffsetMs: number = DEFAULT_MAX_CLOCK_OFFSET_MS,
  ) {}

  next(floor?: Version): Version {
    const wall = Math.floor(this.now());
    // The highest reading, so a wall clock stepping back does not tighten the bound under versions already returned.
    this.maxWall = Math.max(wall, this.maxWall);
    const limit = this.maxWall + this.maxOffsetMs;
    const floorMs = floor?.ms ?? 0;
    let ms = Math.max(wall, this.lastMs, floorMs);
    let counter = 0;
    if (ms === this.lastMs) counter = this.lastCounter + 1;
    if (floor && ms === floorMs) counter = Math.max(counter, floor.counter + 1);
    // A million changes in one millisecond: move to the next millisecond instead of overflowing.
    if (counter > MAX_COUNTER) [ms, counter] = [ms + 1, 0];
    if (ms > limit) {
      const aheadMs = floorMs - this.maxWall;
      throw new ClockOffsetError(
        `version ${floor ? encodeVersion(floor) : ''} is ${aheadMs} ms ahead of the ${this.region} clock (maxClockOffsetSeconds: ${this.maxOffsetMs / 1000}); ` +
          'refusing to stamp above it: one of the clocks is off (check NTP); retry once they agree',
        aheadMs,
        this.maxOffsetMs,
        { region: this.region, floor: floor ? encodeVersion(floor) : undefined, wall },
      );
    }
    this.lastMs = ms;
    this.lastCounter = counter;
    return { ms, counter, region: this.region };
  }
}
