/**
 * Versions: a hybrid logical clock (wall-clock milliseconds + a counter) with the origin
 * region as the final tie-break, encoded as a fixed-width string so that DynamoDB's string
 * comparison in a condition expression (`_rs_v < :v`) orders versions exactly as
 * {@link compareVersions} does. Two different changes never share a version: within one
 * region the clock only moves forward, and the region name separates regions.
 */

export interface Version {
  /** Milliseconds since the epoch (wall clock, pushed forward past any version seen). */
  readonly ms: number;
  /** Orders changes within the same millisecond. */
  readonly counter: number;
  /** Origin region: breaks ties between regions deterministically. */
  readonly region: string;
}

const MS_DIGITS = 15;
const COUNTER_DIGITS = 6;
const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1;
const VERSION_PATTERN = /^(\d{15})\.(\d{6})\.([a-z0-9-]+)$/;

export function encodeVersion(v: Version): string {
  if (!Number.isSafeInteger(v.ms) || v.ms < 0) throw new RangeError(`version ms must be a non-negative integer, got ${v.ms}`);
  if (!Number.isInteger(v.counter) || v.counter < 0 || v.counter > MAX_COUNTER) {
    throw new RangeError(`version counter must be 0..${MAX_COUNTER}, got ${v.counter}`);
  }
  return `${String(v.ms).padStart(MS_DIGITS, '0')}.${String(v.counter).padStart(COUNTER_DIGITS, '0')}.${v.region}`;
}

/** Parses an encoded version; returns undefined for anything that is not one. */
export function decodeVersion(s: unknown): Version | undefined {
  if (typeof s !== 'string') return undefined;
  const m = VERSION_PATTERN.exec(s);
  if (!m) return undefined;
  return { ms: Number(m[1]), counter: Number(m[2]), region: m[3]! };
}

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
 */
export class HybridLogicalClock {
  private lastMs = 0;
  private lastCounter = 0;

  constructor(
    private readonly region: string,
    private readonly now: () => number = Date.now,
  ) {}

  next(floor?: Version): Version {
    const wall = Math.floor(this.now());
    const floorMs = floor?.ms ?? 0;
    const ms = Math.max(wall, this.lastMs, floorMs);
    let counter = 0;
    if (ms === this.lastMs) counter = this.lastCounter + 1;
    if (floor && ms === floorMs) counter = Math.max(counter, floor.counter + 1);
    if (counter > MAX_COUNTER) {
      // A million changes in one millisecond: move to the next millisecond instead of overflowing.
      this.lastMs = ms + 1;
      this.lastCounter = 0;
      return { ms: this.lastMs, counter: 0, region: this.region };
    }
    this.lastMs = ms;
    this.lastCounter = counter;
    return { ms, counter, region: this.region };
  }
}
