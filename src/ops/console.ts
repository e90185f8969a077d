/**
 * The ops console's data: the app's deployed dashboards (dashboards.ts) and, for one of them, what
 * each widget shows now: the series of its metric widgets (GetMetricData in the regions the
 * widget names) and the state of its alarm widgets' alarms (DescribeAlarms), plus every alarm
 * state change seen since the console started (it reads every alarm's state in the background,
 * whichever view a page shows). `regionsync console` (src/cli/console.ts) serves
 * it to the page (console-server.ts). The same calls read AWS or an emulator.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { errorMessage } from '../core/errors.ts';
import type { ResolvedConfig } from '../infra/config/schema.ts';
import { cloudwatch as cloudwatchOf, type Target } from './aws.ts';
import { describeAlarms, getMetricData } from './cloudwatch-read.ts';
import { type AlarmRef, type Dashboard, type DashboardWidget, loadDashboards, widgetAlarms, widgetQueries } from './dashboards.ts';

/** What {@link ConsoleSource} reads: the config (app name, regions) and where. */
export interface ConsoleSourceOptions extends Target {
  readonly config: ResolvedConfig;
  /** Clock, epoch ms. @default Date.now */
  readonly now?: () => number;
  /** How long the dashboards read are kept before they are read again, ms. @default 60000 */
  readonly dashboardTtlMs?: number;
}

/** One line of a metric widget: its label, axis and points (epoch ms, value), oldest first. */
export interface ConsoleLine {
  readonly id: string;
  readonly label: string;
  readonly yAxis: 'left' | 'right';
  /** @default the page's palette, in the widget's order */
  readonly color?: string;
  readonly points: readonly (readonly [number, number])[];
}

/** An alarm as an alarm widget shows it; `state` is `MISSING` when the region has no alarm of that name. */
export interface ConsoleAlarm {
  readonly name: string;
  readonly region: string;
  readonly state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | 'MISSING';
  /** @default none (no such alarm) */
  readonly reason?: string;
  /** When the state last changed, ISO 8601. @default none (no such alarm) */
  readonly updatedAt?: string;
  /** @default none (the alarm has no description) */
  readonly description?: string;
}

/** One widget's data, by its index in the dashboard's widgets. */
export interface ConsoleWidgetData {
  readonly index: number;
  /** A metric widget's lines. @default none (not a metric widget) */
  readonly lines?: readonly ConsoleLine[];
  /** An alarm widget's alarms. @default none (not an alarm widget) */
  readonly alarms?: readonly ConsoleAlarm[];
  /** Why the widget shows nothing (its queries failed, its region cannot be read). @default none: it read */
  readonly error?: string;
}

/** An alarm state change the console saw (DescribeAlarms' StateUpdatedTimestamp moved). */
export interface AlarmEvent {
  readonly at: string;
  readonly region: string;
  readonly name: string;
  readonly from: string;
  readonly to: string;
  /** The reason CloudWatch gave. @default none */
  readonly reason?: string;
}

/** What one view (dashboard) shows now. */
export interface ConsoleViewData {
  readonly view: string;
  readonly generatedAt: string;
  /** The time range the metric widgets cover, epoch ms. */
  readonly start: number;
  readonly end: number;
  readonly widgets: readonly ConsoleWidgetData[];
  /** Alarm state changes since the console started, newest first (at most {@link MAX_EVENTS}). */
  readonly alarmEvents: readonly AlarmEvent[];
}

/** Alarm state changes kept. */
export const MAX_EVENTS = 200;

/** A view name that is not one of the app's dashboards. */
export class UnknownViewError extends Error {}

/** Reads the app's dashboards and what their widgets show; keeps one CloudWatch client per region and the alarm states seen. */
export class ConsoleSource {
  private readonly clients = new Map<string, CloudWatchClient>();
  private dashboards?: { at: number; list: Promise<Dashboard[]> };
  private readonly states = new Map<string, { state: string; updatedAt: string }>();
  private readonly events: AlarmEvent[] = [];
  private watcher?: NodeJS.Timeout;

  constructor(private readonly o: ConsoleSourceOptions) {}

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** The app's dashboards (global first), read again once older than the TTL. */
  async views(): Promise<Dashboard[]> {
    const ttl = this.o.dashboardTtlMs ?? 60_000;
    if (!this.dashboards || this.now() - this.dashboards.at > ttl) {
      const list = loadDashboards(this.o, this.o.config);
      this.dashboards = { at: this.now(), list };
      list.catch(() => {
        this.dashboards = undefined;
      });
    }
    return this.dashboards.list;
  }

  /** What the view `name` shows over the last `minutes` minutes. */
  async viewData(name: string, minutes: number): Promise<ConsoleViewData> {
    const view = (await this.views()).find((d) => d.name === name);
    if (!view) throw new UnknownViewError(`no dashboard named "${name}" (dashboards: ${(await this.views()).map((d) => d.name).join(', ') || 'none'})`);
    const now = this.now();
    // Whole 5-minute periods from the start (what the widgets' 60 s and 300 s periods both divide), to the end of the current minute.
    const start = Math.floor((now - minutes * 60_000) / 300_000) * 300_000;
    const end = Math.floor(now / 60_000) * 60_000 + 60_000;
    const widgets = await Promise.all(view.widgets.map((w, index) => this.widgetData(view, w, index, start, end)));
    return { view: name, generatedAt: new Date(now).toISOString(), start, end, widgets, alarmEvents: [...this.events] };
  }

  /**
   * Reads the state of every alarm of every dashboard every `intervalMs` until {@link close}, so
   * that state changes are recorded whether or not a page shows the view they are in.
   */
  watchAlarms(intervalMs: number): void {
    clearInterval(this.watcher);
    let busy = false;
    this.watcher = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.readAllAlarms()
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, intervalMs);
    this.watcher.unref();
  }

  /** The states of every alarm the dashboards show (what {@link watchAlarms} reads). */
  async readAllAlarms(): Promise<ConsoleAlarm[]> {
    const refs = new Map<string, AlarmRef>();
    for (const view of await this.views()) {
      for (const w of view.widgets) if (w.type === 'alarm') for (const r of widgetAlarms(w)) refs.set(`${r.region}\0${r.name}`, r);
    }
    return this.alarms([...refs.values()]);
  }

  /** Stops watching and releases the SDK clients. */
  close(): void {
    clearInterval(this.watcher);
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  private client(region: string): CloudWatchClient {
    let c = this.clients.get(region);
    if (!c) this.clients.set(region, (c = cloudwatchOf(this.o, region)));
    return c;
  }

  private async widgetData(view: Dashboard, widget: DashboardWidget, index: number, start: number, end: number): Promise<ConsoleWidgetData> {
    try {
      if (widget.type === 'metric') return { index, lines: await this.lines(view, widget, start, end) };
      if (widget.type === 'alarm') return { index, alarms: await this.alarms(widgetAlarms(widget)) };
      return { index };
    } catch (e) {
      return { index, error: errorMessage(e) };
    }
  }

  private async lines(view: Dashboard, widget: DashboardWidget, start: number, end: number): Promise<ConsoleLine[]> {
    const groups = widgetQueries(widget, view.forRegion ?? view.region);
    const perRegion = await Promise.all(
      groups.map(async (g) => {
        const results = await getMetricData(this.client(g.region), g.queries, start, end).catch((e: unknown) => {
          throw new Error(`${g.region}: ${errorMessage(e)}`);
        });
        return results.map((r) => ({
          id: r.id,
          label: r.label,
          ...g.styles[r.id]!,
          points: [...r.points].reverse().map((p) => [p.t, p.v] as const),
        }));
      }),
    );
    // In the widget's order: the order of the queries.
    const order = groups.flatMap((g) => g.queries.map((q) => q.Id!));
    return perRegion.flat().sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  }

  private async alarms(refs: readonly AlarmRef[]): Promise<ConsoleAlarm[]> {
    const regions = [...new Set(refs.map((r) => r.region))];
    const found = new Map<string, ConsoleAlarm>();
    await Promise.all(
      regions.map(async (region) => {
        const names = refs.filter((r) => r.region === region).map((r) => r.name);
        for (const a of await describeAlarms(this.client(region), { names })) {
          const alarm: ConsoleAlarm = {
            name: a.AlarmName!,
            region,
            state: (a.StateValue as ConsoleAlarm['state'] | undefined) ?? 'INSUFFICIENT_DATA',
            ...(a.StateReason ? { reason: a.StateReason } : {}),
            ...(a.StateUpdatedTimestamp ? { updatedAt: new Date(a.StateUpdatedTimestamp).toISOString() } : {}),
            ...(a.AlarmDescription ? { description: a.AlarmDescription } : {}),
          };
          this.observe(alarm);
          found.set(`${region}\0${alarm.name}`, alarm);
        }
      }),
    );
    return refs.map((r) => found.get(`${r.region}\0${r.name}`) ?? { name: r.name, region: r.region, state: 'MISSING' });
  }

  /** Records a state change of an alarm seen before (the first sight is its state, not a change). */
  private observe(a: ConsoleAlarm): void {
    const key = `${a.region}\0${a.name}`;
    const before = this.states.get(key);
    const updatedAt = a.updatedAt ?? '';
    this.states.set(key, { state: a.state, updatedAt });
    if (!before || (before.state === a.state && before.updatedAt === updatedAt)) return;
    this.events.unshift({
      at: updatedAt || new Date(this.now()).toISOString(),
      region: a.region,
      name: a.name,
      from: before.state,
      to: a.state,
      ...(a.reason ? { reason: a.reason } : {}),
    });
    this.events.splice(MAX_EVENTS);
  }
}
