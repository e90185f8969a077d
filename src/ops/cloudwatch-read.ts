/**
 * Reading CloudWatch, shared by `regionsync status` (status.ts), the ops console (console.ts) and
 * the local alarm evaluator: GetMetricData in batches of 500 queries, every page, each result as
 * (id, label, points); and DescribeAlarms, every page.
 */
import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type MetricAlarm,
  type MetricDataQuery,
  type StateValue,
} from '@aws-sdk/client-cloudwatch';

/** One data point: the period's start (epoch ms) and its value. */
export interface MetricPoint {
  readonly t: number;
  readonly v: number;
}

/**
 * One time series GetMetricData returned. A query normally gives one; an expression that returns
 * several series (a SEARCH) gives one per series, all with the query's id and each its own label.
 */
export interface MetricResult {
  readonly id: string;
  readonly label: string;
  /** Newest first. */
  readonly points: readonly MetricPoint[];
}

/** Every series of `queries` between `start` and `end` (epoch ms), every page; results of one id and label are joined. */
export async function getMetricData(cw: CloudWatchClient, queries: readonly MetricDataQuery[], start: number, end: number): Promise<MetricResult[]> {
  const out = new Map<string, { id: string; label: string; points: MetricPoint[] }>();
  for (let i = 0; i < queries.length; i += 500) {
    let token: string | undefined;
    do {
      const res = await cw.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries.slice(i, i + 500),
          StartTime: new Date(start),
          EndTime: new Date(end),
          ScanBy: 'TimestampDescending',
          NextToken: token,
        }),
      );
      for (const r of res.MetricDataResults ?? []) {
        const id = r.Id!;
        const label = r.Label ?? id;
        const points = (r.Timestamps ?? [])
          .map((t, j) => ({ t: new Date(t).getTime(), v: r.Values?.[j] }))
          .filter((p): p is MetricPoint => typeof p.v === 'number' && Number.isFinite(p.v));
        const key = `${id}\0${label}`;
        const entry = out.get(key) ?? { id, label, points: [] };
        entry.points.push(...points);
        out.set(key, entry);
      }
      token = res.NextToken;
    } while (token);
  }
  for (const e of out.values()) e.points.sort((a, b) => b.t - a.t);
  return [...out.values()];
}

/** Which alarms {@link describeAlarms} reads: by name prefix or by names (at most 100 per call), optionally in one state only. */
export interface AlarmFilter {
  /** @default every alarm (unless `names`) */
  readonly prefix?: string;
  /** @default every alarm (unless `prefix`) */
  readonly names?: readonly string[];
  /** @default every state */
  readonly state?: StateValue;
}

/** The metric alarms of the region `cw` is bound to that match `filter`, every page. */
export async function describeAlarms(cw: CloudWatchClient, filter: AlarmFilter = {}): Promise<MetricAlarm[]> {
  const out: MetricAlarm[] = [];
  const batches = filter.names ? chunks(filter.names, 100) : [undefined];
  for (const names of batches) {
    if (names?.length === 0) continue;
    let token: string | undefined;
    do {
      const res = await cw.send(
        new DescribeAlarmsCommand({
          ...(filter.prefix ? { AlarmNamePrefix: filter.prefix } : {}),
          ...(names ? { AlarmNames: [...names] } : {}),
          ...(filter.state ? { StateValue: filter.state } : {}),
          NextToken: token,
        }),
      );
      out.push(...(res.MetricAlarms ?? []));
      token = res.NextToken;
    } while (token);
  }
  return out;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
