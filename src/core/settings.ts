import { ENV, type FunctionSettings } from './contract.ts';
import { SettingsError } from './errors.ts';

/** Reads and checks the settings the stack passed to a function. Fails fast at cold start. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): FunctionSettings {
  const raw = env[ENV.settings];
  if (!raw) throw new SettingsError(`environment variable ${ENV.settings} is not set`);
  let s: FunctionSettings;
  try {
    s = JSON.parse(raw) as FunctionSettings;
  } catch (e) {
    throw new SettingsError(`${ENV.settings} is not JSON: ${(e as Error).message}`);
  }
  for (const field of ['tableName', 'logicalTable', 'region', 'ttlAttribute'] as const) {
    if (typeof s[field] !== 'string' || s[field] === '') throw new SettingsError(`${ENV.settings}.${field} must be a non-empty string`, { field });
  }
  if (typeof s.key?.partitionKey !== 'string') throw new SettingsError(`${ENV.settings}.key.partitionKey must be a string`);
  if (!(s.tombstoneTtlSeconds > 0)) throw new SettingsError(`${ENV.settings}.tombstoneTtlSeconds must be positive`);
  if (!(s.maxMessageBytes > 1024)) throw new SettingsError(`${ENV.settings}.maxMessageBytes must be above 1024`);
  if (s.clockBound !== undefined && !(s.clockBound.maxOffsetMs > 0 && (s.clockBound.holdMs ?? 0) >= 0)) {
    throw new SettingsError(`${ENV.settings}.clockBound must be { maxOffsetMs > 0, holdMs >= 0 }`, { field: 'clockBound' });
  }
  return s;
}
