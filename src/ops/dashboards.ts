/**
 * The app's CloudWatch dashboards as deployed (GetDashboard: the bodies the CDK app synthesized,
 * resolved by CloudFormation), and what their widgets ask CloudWatch for: each metric widget's
 * `metrics` array turned into GetMetricData queries, each alarm widget's ARNs into alarm names per
 * region. What the ops console (console.ts) draws comes from here, never from a second definition
 * of the widgets; it reads the same on AWS and on an emulator.
 *
 * The body format is CloudWatch's (Dashboard Body Structure and Syntax): widgets of type `metric`,
 * `text` and `alarm` placed on a 24-column grid; a metric entry is
 * `[namespace, name, dim1, value1, ..., {options}]` (`"."` repeats the entry above's value at that
 * place) or `[{expression, label, id, ...}]`.
 */
import { GetDashboardCommand, ListDashboardsCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { globalDashboardName, regionDashboardName } from '../core/contract.ts';
import type { ResolvedConfig } from '../infra/config/schema.ts';
import { cloudwatch as cloudwatchOf, type Target } from './aws.ts';

/** A widget as the dashboard body holds it. */
export interface DashboardWidget {
  readonly type: string;
  /** Grid column (of 24). @default after the previous widget (CloudWatch's placement) */
  readonly x?: number;
  /** Grid row. @default after the previous widget (CloudWatch's placement) */
  readonly y?: number;
  /** Grid columns. @default 6 (CloudWatch's) */
  readonly width?: number;
  /** Grid rows. @default 6 (CloudWatch's) */
  readonly height?: number;
  /** The widget's type-specific settings (metrics, alarms, markdown). @default none */
  readonly properties?: Record<string, unknown>;
}

/** One deployed dashboard: its name, the region it was read in, its widgets. */
export interface Dashboard {
  readonly name: string;
  /** The region whose CloudWatch returned it (dashboards are global to an account on AWS, per region on moto). */
  readonly region: string;
  /** The dashboard's region when it is a region's (`<app>-<region>`). @default undefined: the global one */
  readonly forRegion?: string;
  readonly widgets: readonly DashboardWidget[];
}

/** The dashboard named `name` could not be read or has a body that is not a dashboard. */
export class DashboardError extends Error {}

/**
 * The app's dashboards, global first, then one per region in the config's order: every
 * `<app>-global` and `<app>-<region>` that ListDashboards finds in the config's regions.
 */
export async function loadDashboards(target: Target, config: ResolvedConfig): Promise<Dashboard[]> {
  const app = config.appName;
  const regions = config.regions.map((r) => r.region);
  const wanted = new Map<string, string | undefined>([[globalDashboardName(app), undefined], ...regions.map((r) => [regionDashboardName(app, r), r] as const)]);
  const found = new Map<string, Dashboard>();
  for (const region of regions) {
    const cw = cloudwatchOf(target, region);
    try {
      const listed = await cw.send(new ListDashboardsCommand({ DashboardNamePrefix: `${app}-` }));
      for (const entry of listed.DashboardEntries ?? []) {
        const name = entry.DashboardName;
        if (!name || !wanted.has(name) || found.has(name)) continue;
        const got = await cw.send(new GetDashboardCommand({ DashboardName: name }));
        const forRegion = wanted.get(name);
        found.set(name, { name, region, ...(forRegion ? { forRegion } : {}), widgets: parseDashboardBody(name, got.DashboardBody ?? '') });
      }
    } finally {
      cw.destroy();
    }
  }
  return [...wanted.keys()].filter((n) => found.has(n)).map((n) => found.get(n)!);
}

/** The widgets of a dashboard body (JSON); a body that is not a dashboard fails, naming the dashboard. */
export function parseDashboardBody(name: string, body: string): DashboardWidget[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw new DashboardError(`dashboard ${name}: the body is not JSON (${(e as Error).message})`);
  }
  const widgets = (parsed as { widgets?: unknown }).widgets;
  if (!Array.isArray(widgets)) throw new DashboardError(`dashboard ${name}: the body has no "widgets" array`);
  return widgets.filter((w): w is DashboardWidget => typeof w === 'object' && w !== null && typeof (w as DashboardWidget).type === 'string');
}

/** How one line of a metric widget is drawn: the entry's options that are not part of the query. */
export interface LineStyle {
  readonly yAxis: 'left' | 'right';
  /** The line's colour as the widget sets it. @default the charting library's palette */
  readonly color?: string;
}

/** One GetMetricData call a metric widget needs: the queries in one region (expressions read ids of the same call). */
export interface WidgetQueries {
  readonly region: string;
  readonly queries: MetricDataQuery[];
  /** By query id: how its series are drawn. */
  readonly styles: Readonly<Record<string, LineStyle>>;
}

/** A metric widget whose `metrics` array cannot be read; names the widget and the entry. */
export class WidgetError extends Error {}

/**
 * The GetMetricData queries of a metric widget, per region (an entry's `region`, else the
 * widget's, else `defaultRegion`): statistic and period from the entry, else the widget
 * (CloudWatch's defaults Average and 300 s); entries with `visible: false` are queried for the
 * expressions that read them and not returned.
 */
export function widgetQueries(widget: DashboardWidget, defaultRegion: string): WidgetQueries[] {
  const p = widget.properties ?? {};
  const title = String(p.title ?? 'untitled widget');
  const metrics = p.metrics;
  if (!Array.isArray(metrics)) throw new WidgetError(`widget "${title}": "metrics" is not an array`);
  const widgetStat = typeof p.stat === 'string' ? p.stat : 'Average';
  const widgetPeriod = typeof p.period === 'number' ? p.period : 300;
  const widgetRegion = typeof p.region === 'string' && p.region ? p.region : defaultRegion;
  const byRegion = new Map<string, { queries: MetricDataQuery[]; styles: Record<string, LineStyle> }>();
  const usedIds = new Set(
    metrics.flatMap((m) => {
      const o = Array.isArray(m) ? m[m.length - 1] : undefined;
      return typeof o === 'object' && o !== null && typeof (o as { id?: unknown }).id === 'string' ? [(o as { id: string }).id] : [];
    }),
  );
  let previous: unknown[] = [];
  metrics.forEach((entry, i) => {
    if (!Array.isArray(entry) || entry.length === 0) throw new WidgetError(`widget "${title}": metrics[${i}] is not a non-empty array`);
    const last = entry[entry.length - 1];
    const options = (typeof last === 'object' && last !== null ? last : {}) as Record<string, unknown>;
    const path = typeof last === 'object' && last !== null ? entry.slice(0, -1) : entry;
    let id = typeof options.id === 'string' ? options.id : `m${i}`;
    while (typeof options.id !== 'string' && usedIds.has(id)) id = `${id}_`;
    usedIds.add(id);
    const region = typeof options.region === 'string' && options.region ? options.region : widgetRegion;
    const label = typeof options.label === 'string' ? options.label : undefined;
    const returnData = options.visible !== false;
    let query: MetricDataQuery;
    if (typeof options.expression === 'string') {
      query = {
        Id: id,
        Expression: options.expression,
        ReturnData: returnData,
        ...(label ? { Label: label } : {}),
        ...(typeof options.period === 'number' ? { Period: options.period } : {}),
      };
    } else {
      const resolved = path.map((v, j) => (v === '.' ? previous[j] : v));
      if (resolved.some((v) => typeof v !== 'string') || resolved.length < 2 || resolved.length % 2 !== 0)
        throw new WidgetError(
          `widget "${title}": metrics[${i}] is neither [namespace, name, dimension, value, ...] nor an expression: ${JSON.stringify(entry)}`,
        );
      previous = resolved;
      const [namespace, name, ...dims] = resolved as string[];
      const dimensions = [];
      for (let j = 0; j < dims.length; j += 2) dimensions.push({ Name: dims[j]!, Value: dims[j + 1]! });
      query = {
        Id: id,
        MetricStat: {
          Metric: { Namespace: namespace!, MetricName: name!, Dimensions: dimensions },
          Period: typeof options.period === 'number' ? options.period : widgetPeriod,
          Stat: typeof options.stat === 'string' ? options.stat : widgetStat,
        },
        ReturnData: returnData,
        ...(label ? { Label: label } : {}),
        ...(typeof options.accountId === 'string' ? { AccountId: options.accountId } : {}),
      };
    }
    const group = byRegion.get(region) ?? { queries: [], styles: {} };
    group.queries.push(query);
    group.styles[id] = { yAxis: options.yAxis === 'right' ? 'right' : 'left', ...(typeof options.color === 'string' ? { color: options.color } : {}) };
    byRegion.set(region, group);
  });
  return [...byRegion].map(([region, g]) => ({ region, queries: g.queries, styles: g.styles }));
}

/** An alarm an alarm widget shows, from its ARN. */
export interface AlarmRef {
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

/** The alarms of an alarm widget (`properties.alarms`, ARNs `arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME`); an ARN of another form fails, naming it. */
export function widgetAlarms(widget: DashboardWidget): AlarmRef[] {
  const arns = widget.properties?.alarms;
  if (!Array.isArray(arns)) return [];
  return arns.map((arn) => {
    const parts = String(arn).split(':');
    if (parts.length < 7 || parts[2] !== 'cloudwatch' || parts[5] !== 'alarm')
      throw new WidgetError(`widget "${String(widget.properties?.title ?? 'alarms')}": "${String(arn)}" is not a CloudWatch alarm ARN`);
    return { region: parts[3]!, account: parts[4]!, name: parts.slice(6).join(':') };
  });
}
