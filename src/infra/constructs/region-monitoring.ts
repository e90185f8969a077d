/**
 * Everything regionsync monitors in one region, from the config's `monitoring` section: the
 * alarm topic and each table's alarms (unless alarms are off for this stack), the write fence
 * (when a table here fences), the region's dashboard and, in the chosen region, the global one
 * (unless dashboards are off for this stack).
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { ResolvedConfig } from '../config/schema.ts';
import { monitoringOf, tableMonitoring } from '../config/monitoring.ts';
import { AlarmTopic } from './alarm-topic.ts';
import { usesFleetDashboards } from './fleet-widgets.ts';
import { GlobalDashboard } from './global-dashboard.ts';
import { alarmArn } from './monitoring-metrics.ts';
import { RegionDashboard } from './region-dashboard.ts';
import { ReplicationAlarms } from './replication-alarms.ts';
import type { ReplicatedTable } from './replicated-table.ts';
import { WriteFence } from './write-fence.ts';

/** Properties of {@link RegionMonitoring}. */
export interface RegionMonitoringProps {
  readonly config: ResolvedConfig;
  readonly region: string;
  /** The stack's replicated tables, by table name. */
  readonly tables: ReadonlyMap<string, ReplicatedTable>;
  /**
   * Where a table's alarms go: beside the table when it has a nested stack of its own.
   * @default this construct
   */
  readonly alarmScope?: (tableName: string) => Construct;
}

/**
 * Everything regionsync monitors in one region (see the file comment); each part is absent where
 * the config leaves it out for this region's stack.
 */
export class RegionMonitoring extends Construct {
  /** The region's alarm topic; absent when alarms are off for this stack. */
  public readonly topic?: AlarmTopic;
  /** The write fence; absent when no table in this region fences. */
  public readonly fence?: WriteFence;
  /** Per table name. */
  public readonly alarms: ReadonlyMap<string, ReplicationAlarms>;
  /** The region's dashboard; absent when dashboards are off for this stack. */
  public readonly dashboard?: RegionDashboard;
  /** The global dashboard, in `monitoring.globalDashboardRegion`'s stack only (and only when its dashboards are on). */
  public readonly globalDashboard?: GlobalDashboard;

  constructor(scope: Construct, id: string, props: RegionMonitoringProps) {
    super(scope, id);
    const { config, region } = props;
    const monitoring = monitoringOf(config);
    const stack = monitoring.stacks[region] ?? { alarms: true, dashboards: true };
    const tables = [...props.tables].map(([name, replicated]) => ({
      config: config.tables.find((t) => t.name === name)!,
      replicated,
      thresholds: tableMonitoring(config, name),
    }));

    const account = config.regions.find((r) => r.region === region)?.account;
    const fencing = tables.some((t) => t.thresholds.fenceOn.length > 0);
    if (fencing) this.fence = new WriteFence(this, 'WriteFence', { appName: config.appName, alarmFunction: stack.alarms });

    // Many tables: dashboards over all tables at once (fleet-widgets.ts).
    const fleet = usesFleetDashboards(config);
    const alarms = new Map<string, ReplicationAlarms>();
    if (stack.alarms) {
      this.topic = new AlarmTopic(this, 'AlarmTopic', {
        appName: config.appName,
        emails: monitoring.alarmEmails,
        httpsEndpoints: monitoring.alarmHttpsEndpoints,
      });
      for (const t of tables) {
        alarms.set(
          t.config.name,
          new ReplicationAlarms(props.alarmScope?.(t.config.name) ?? this, `${t.config.name}Alarms`, {
            appName: config.appName,
            table: t.config,
            region,
            replicated: t.replicated,
            thresholds: t.thresholds,
            actions: [this.topic.action],
            ...(this.fence?.action ? { fenceAction: this.fence.action } : {}),
          }),
        );
      }
    }
    this.alarms = alarms;

    if (stack.dashboards) {
      this.dashboard = new RegionDashboard(this, 'Dashboard', {
        appName: config.appName,
        region,
        tables,
        // By name, not by the alarm resources (see alarmArn).
        alarms: [...alarms.values()]
          .flatMap((a) => a.alarms)
          .map((x, i) => cloudwatch.Alarm.fromAlarmArn(this, `DashboardAlarm${i}`, alarmArn(region, account, x.name))),
        fleet,
      });
      if (region === monitoring.globalDashboardRegion) this.globalDashboard = new GlobalDashboard(this, 'GlobalDashboard', { config, fleet });
    }
  }
}
