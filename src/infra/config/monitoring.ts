/**
 * The `monitoring` section of the config: validation and defaults (called by validateConfig,
 * which reports its problems together with every other one).
 */
import { ALARM_KINDS, type AlarmKind } from '../../core/metrics.ts';
// Stream records are kept 24 h: an iterator-age alarm at or beyond that fires after the loss.
import { STREAM_RETENTION_SECONDS } from './retention.ts';
import type {
  AlarmThresholds,
  MonitoringConfig,
  RegionSyncConfig,
  ResolvedConfig,
  ResolvedMonitoring,
  ResolvedTableMonitoring,
  ResolvedThresholds,
  TableMonitoringConfig,
} from './schema.ts';

/** Alarm thresholds where neither `monitoring` nor a table's `monitoring` sets one (the `@default`s documented on AlarmThresholds). */
export const DEFAULT_THRESHOLDS: ResolvedThresholds = {
  lagP99ThresholdMs: 5_000,
  lagEvaluationMinutes: 5,
  lagMaxThresholdMs: 60_000,
  backlogAgeThresholdSeconds: 300,
  iteratorAgeThresholdSeconds: 3_600,
  errorRateThresholdPercent: 5,
  parkedAgeThresholdSeconds: 600,
};

/**
 * What `fence: true` fences on: the alarms that say changes are not getting through. Not
 * `parkedAge`: it fires in the SOURCE region, which keeps taking writes and shipping them to the
 * healthy targets while the parked ones wait safely (14 days); fencing it would stop a healthy
 * region because another one is down. It can still be listed in `fence.on`.
 */
export const DEFAULT_FENCE_ON: readonly AlarmKind[] = ['lagP99', 'backlogAge', 'iteratorAge'];

/** The 1-minute periods the `parkedAge` alarm (and `status`) need the outage backlog non-empty: the threshold rounded up to whole minutes. */
export function parkedAlarmMinutes(thresholdSeconds: number): number {
  return Math.max(1, Math.ceil(thresholdSeconds / 60));
}

// Unknown settings are reported by the config's strict schema (schema.ts, unknown-keys.ts).
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

type Bad = (path: string, value: unknown, why: string) => void;

/** Validates `input.monitoring` and every `tables[i].monitoring`; returns the resolved section (with problems reported through `bad`). */
export function validateMonitoring(input: RegionSyncConfig, regionNames: readonly string[], bad: Bad): ResolvedMonitoring {
  const m: MonitoringConfig = isObject(input.monitoring) ? input.monitoring : {};
  if (input.monitoring !== undefined && !isObject(input.monitoring)) bad('monitoring', input.monitoring, 'must be an object');
  const defaults = thresholds(m, DEFAULT_THRESHOLDS, 'monitoring', bad);
  const alarms = bool(m.alarms, true, 'monitoring.alarms', bad);
  const dashboards = bool(m.dashboards, true, 'monitoring.dashboards', bad);

  const stacks: Record<string, { alarms: boolean; dashboards: boolean }> = {};
  for (const region of regionNames) stacks[region] = { alarms, dashboards };
  if (m.stacks !== undefined) {
    if (!isObject(m.stacks)) bad('monitoring.stacks', m.stacks, 'must map region names to { alarms?, dashboards? }');
    else {
      for (const [region, s] of Object.entries(m.stacks)) {
        const path = `monitoring.stacks.${region}`;
        if (!regionNames.includes(region)) bad(path, region, `not one of the configured regions (${regionNames.join(', ')})`);
        if (!isObject(s)) {
          bad(path, s, 'must be { alarms?, dashboards? }');
          continue;
        }
        stacks[region] = { alarms: bool(s.alarms, alarms, `${path}.alarms`, bad), dashboards: bool(s.dashboards, dashboards, `${path}.dashboards`, bad) };
      }
    }
  }

  // Only regions that hold a table get a stack.
  const stacked = regionNames.filter((r) =>
    (Array.isArray(input.tables) ? input.tables : []).some((t) => !isObject(t) || !Array.isArray(t.regions) || t.regions.includes(r)),
  );
  const globalDashboardRegion = m.globalDashboardRegion ?? stacked[0] ?? regionNames[0] ?? '';
  if (m.globalDashboardRegion !== undefined && !stacked.includes(m.globalDashboardRegion)) {
    bad('monitoring.globalDashboardRegion', m.globalDashboardRegion, `must be a region that holds a table, so that it has a stack (${stacked.join(', ')})`);
  }
  const alarmEmails = list(m.alarmEmails, 'monitoring.alarmEmails', bad, (v) => EMAIL.test(v), 'is not an email address');
  const alarmHttpsEndpoints = list(m.alarmHttpsEndpoints, 'monitoring.alarmHttpsEndpoints', bad, isHttpsUrl, 'must be an https:// URL');

  const tables: Record<string, ResolvedTableMonitoring> = {};
  (Array.isArray(input.tables) ? input.tables : []).forEach((t, i) => {
    if (!isObject(t) || typeof t.name !== 'string') return;
    tables[t.name] = validateTableMonitoring(t.monitoring, defaults, `tables[${i}].monitoring`, bad);
  });
  return { stacks, globalDashboardRegion, alarmEmails, alarmHttpsEndpoints, tables };
}

function validateTableMonitoring(input: TableMonitoringConfig | undefined, defaults: ResolvedThresholds, path: string, bad: Bad): ResolvedTableMonitoring {
  if (input === undefined) return { ...defaults, fenceOn: [] };
  if (!isObject(input)) {
    bad(path, input, 'must be an object');
    return { ...defaults, fenceOn: [] };
  }
  const resolved = thresholds(input, defaults, path, bad);
  let fenceOn: AlarmKind[] = [];
  const fence = input.fence;
  if (fence === true) fenceOn = [...DEFAULT_FENCE_ON];
  else if (fence !== undefined && fence !== false) {
    if (!isObject(fence) || !Array.isArray(fence.on) || fence.on.length === 0)
      bad(`${path}.fence`, fence, 'must be true, false or { on: [alarm kinds] } with at least one kind');
    else {
      fence.on.forEach((k, j) => {
        if (!(ALARM_KINDS as readonly string[]).includes(k)) bad(`${path}.fence.on[${j}]`, k, `must be one of ${ALARM_KINDS.join(', ')}`);
      });
      fenceOn = [...new Set(fence.on.filter((k) => (ALARM_KINDS as readonly string[]).includes(k)))];
    }
  }
  return { ...resolved, fenceOn };
}

function thresholds(input: AlarmThresholds, defaults: ResolvedThresholds, path: string, bad: Bad): ResolvedThresholds {
  const out: Record<string, number> = { ...defaults };
  const check = (key: keyof ResolvedThresholds, ok: (v: number) => boolean, why: string) => {
    const v = input[key];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) bad(`${path}.${key}`, v, why);
    else out[key] = v;
  };
  check('lagP99ThresholdMs', (v) => v > 0, 'must be a positive number of milliseconds');
  check('lagMaxThresholdMs', (v) => v > 0, 'must be a positive number of milliseconds');
  // CloudWatch evaluates at most one day of periods.
  check('lagEvaluationMinutes', (v) => Number.isInteger(v) && v >= 1 && v <= 1440, 'must be a whole number of minutes from 1 to 1440');
  check('backlogAgeThresholdSeconds', (v) => v > 0, 'must be a positive number of seconds');
  check(
    'iteratorAgeThresholdSeconds',
    (v) => v > 0 && v < STREAM_RETENTION_SECONDS,
    `must be positive and below the stream's retention (${STREAM_RETENTION_SECONDS} s), or it fires after records are lost`,
  );
  check('errorRateThresholdPercent', (v) => v > 0 && v <= 100, 'must be a percentage above 0 and at most 100');
  // The alarm counts whole 1-minute periods, and CloudWatch evaluates at most one day of them.
  check(
    'parkedAgeThresholdSeconds',
    (v) => v >= 60 && v <= 86_400,
    'must be from 60 to 86400 seconds (whole minutes of a non-empty outage backlog, at most a day)',
  );
  return out as unknown as ResolvedThresholds;
}

/** The resolved monitoring section; defaults when the config was resolved without one (e.g. built by hand in a test). */
export function monitoringOf(config: ResolvedConfig): ResolvedMonitoring {
  if (config.monitoring) return config.monitoring;
  const regions = config.regions.map((r) => r.region);
  return {
    stacks: Object.fromEntries(regions.map((r) => [r, { alarms: true, dashboards: true }])),
    globalDashboardRegion: regions[0] ?? '',
    alarmEmails: [],
    alarmHttpsEndpoints: [],
    tables: Object.fromEntries(config.tables.map((t) => [t.name, { ...DEFAULT_THRESHOLDS, fenceOn: [] }])),
  };
}

/** One table's resolved thresholds and fence, by table name; the defaults and no fence for a table the monitoring section does not list. */
export function tableMonitoring(config: ResolvedConfig, table: string): ResolvedTableMonitoring {
  return monitoringOf(config).tables[table] ?? { ...DEFAULT_THRESHOLDS, fenceOn: [] };
}

function bool(v: unknown, fallback: boolean, path: string, bad: Bad): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') {
    bad(path, v, 'must be true or false');
    return fallback;
  }
  return v;
}

function list(v: unknown, path: string, bad: Bad, ok: (s: string) => boolean, why: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    bad(path, v, 'must be a list');
    return [];
  }
  const out: string[] = [];
  v.forEach((x, i) => {
    if (typeof x !== 'string' || !ok(x)) bad(`${path}[${i}]`, x, why);
    else out.push(x);
  });
  return out;
}

function isHttpsUrl(s: string): boolean {
  try {
    return new URL(s).protocol === 'https:';
  } catch {
    return false;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a user-supplied config value, checked field by field
function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
