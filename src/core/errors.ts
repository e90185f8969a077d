/**
 * Every error regionsync raises on purpose. Each carries a context object that names the
 * field, record or message involved, so logs and dead-letter reasons say what was wrong.
 */
export class RegionSyncError extends Error {
  constructor(
    message: string,
    public readonly context: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Invalid configuration: raised before synth, names the field path and the bad value. */
export class ConfigError extends RegionSyncError {
  constructor(public readonly problems: readonly string[]) {
    super(`invalid regionsync configuration:\n  - ${problems.join('\n  - ')}`, { problems });
  }
}

/** A message or change that can never be applied, whatever the retries: it goes to the DLQ with this reason. */
export class InvalidMessageError extends RegionSyncError {}

/** A function was deployed with settings it cannot use. */
export class SettingsError extends RegionSyncError {}

/**
 * A clock reading more than the configured bound (`maxClockOffsetSeconds`) away from another:
 * a version from the future, or a host clock ahead of DynamoDB's. Nothing was written; the
 * operation can be retried once the clocks agree (see src/core/clock-bound.ts).
 */
export class ClockOffsetError extends RegionSyncError {
  constructor(
    message: string,
    public readonly aheadMs: number,
    public readonly maxOffsetMs: number,
    context: Readonly<Record<string, unknown>> = {},
  ) {
    super(message, { ...context, aheadMs, maxOffsetMs });
  }
}

/**
 * A stream record the shipper can never stamp or fold (DynamoDB refuses the write as invalid, e.g.
 * an item with no room left for regionsync's metadata): it is parked in the stream-failures queue
 * with this error's message as its reason, and the batch goes on. Context: key, sequence number,
 * item size, what failed.
 */
export class UnstampableRecordError extends RegionSyncError {}

/** An error as one line: its name when it says more than "Error", then its message (anything else as a string). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
