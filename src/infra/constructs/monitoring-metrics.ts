/**
 * CloudWatch metrics as the alarms and dashboards read them, built from the metrics contract
 * (src/core/metrics.ts). Everything is addressed by literal names (queue names, alarm names),
 * never by tokens of another stack, so the global dashboard can show every region.
 */
import { Arn, ArnFormat, Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { backlogQueueName, deadLetterQueueName, inboundQueueName, streamFailureQueueName } from '../../core/contract.ts';
import { AWS_METRICS, METRICS, PAIR_METRICS, pairDimensions, SOURCE_METRICS, TABLE_METRICS, type Pair } from '../../core/metrics.ts';

/** The period of the metrics built here unless a caller passes another. */
export const ONE_MINUTE = Duration.minutes(1);

/** A per-pair metric, read in the region whose CloudWatch holds it (source for shipped, target otherwise). */
export function pairMetric(
  pair: Pair,
  which: keyof typeof PAIR_METRICS,
  statistic: string,
  options: { label?: string; period?: Duration; accountOf?: AccountOf } = {},
): cloudwatch.Metric {
  const m = PAIR_METRICS[which];
  return new cloudwatch.Metric({
    namespace: METRICS.namespace,
    metricName: m.name,
    dimensionsMap: pairDimensions(pair),
    statistic,
    period: options.period ?? ONE_MINUTE,
    region: m.region === 'source' ? pair.source : pair.target,
    ...accountProp(options.accountOf?.(m.region === 'source' ? pair.source : pair.target)),
    ...(options.label ? { label: options.label } : {}),
  });
}

/**
 * The account each region deploys to (the config's `regions[].account`), for dashboards that show
 * other regions' metrics: a region in another account is read from that account, which CloudWatch
 * allows once the accounts share their metrics (CloudWatch cross-account observability).
 */
export type AccountOf = (region: string) => string | undefined;

/** The {@link AccountOf} of the config's `regions`: undefined for a region that names no account, whose metrics are then read in the dashboard's own account. */
export function accountOfConfig(regions: readonly { readonly region: string; readonly account?: string }[]): AccountOf {
  return (region) => regions.find((r) => r.region === region)?.account;
}

function accountProp(account: string | undefined): { account?: string } {
  return account ? { account } : {};
}

/**
 * A table's queues in one region: inbound (from the other regions), its DLQ, the outage backlog
 * (parked for unreachable targets), and the stream failures (stream records that did not replicate).
 */
export type QueueKind = 'inbound' | 'dlq' | 'backlog' | 'streamFailures';

/** The literal name of a table's queue of `kind` (src/core/contract.ts), so a metric addresses it without a reference to the queue resource. */
export function queueName(appName: string, table: string, kind: QueueKind): string {
  switch (kind) {
    case 'inbound':
      return inboundQueueName(appName, table);
    case 'dlq':
      return deadLetterQueueName(appName, table);
    case 'backlog':
      return backlogQueueName(appName, table);
    case 'streamFailures':
      return streamFailureQueueName(appName, table);
  }
}

/** AWS/SQS metric of a table's inbound queue, DLQ or outage backlog in `region`. */
export function queueMetric(
  appName: string,
  table: string,
  region: string,
  kind: QueueKind,
  metric: 'visible' | 'inFlight' | 'oldestAge',
  statistic = 'Maximum',
  label?: string,
  account?: string,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: AWS_METRICS.sqs.namespace,
    metricName: AWS_METRICS.sqs[metric],
    dimensionsMap: { [AWS_METRICS.sqs.dimension]: queueName(appName, table, kind) },
    statistic,
    period: ONE_MINUTE,
    region,
    ...accountProp(account),
    ...(label ? { label } : {}),
  });
}

/** AWS/Lambda metric of a function in this stack. */
export function functionMetric(
  fn: lambda.IFunction,
  metric: 'invocations' | 'errors' | 'throttles' | 'iteratorAge' | 'duration',
  statistic: string,
  period = ONE_MINUTE,
  label?: string,
): cloudwatch.Metric {
  return fn.metric(AWS_METRICS.lambda[metric], { statistic, period, ...(label ? { label } : {}) });
}

/**
 * Percentage of invocations that failed or were throttled over `period`; no invocations gives
 * no data (not 0 % and not an alarm).
 */
export function errorRate(fn: lambda.IFunction, period: Duration, label: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: '100 * (errors + throttles) / (invocations + throttles)',
    usingMetrics: {
      errors: functionMetric(fn, 'errors', 'Sum', period),
      throttles: functionMetric(fn, 'throttles', 'Sum', period),
      invocations: functionMetric(fn, 'invocations', 'Sum', period),
    },
    period,
    label,
  });
}

/**
 * Changes parked in a table's outage backlog in `region` (the source), visible or being retried:
 * visible + in flight, each the minute's Maximum. The drainer hides a message it could not
 * deliver (backoff), so in flight counts as parked too.
 */
export function parkedDepth(appName: string, table: string, region: string, label = 'parked'): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'visible + inFlight',
    usingMetrics: { visible: queueMetric(appName, table, region, 'backlog', 'visible'), inFlight: queueMetric(appName, table, region, 'backlog', 'inFlight') },
    period: ONE_MINUTE,
    label,
  });
}

/** The outage backlog's counters (emitted by the source's shipper, with `service`): a SEARCH by Table and SourceRegion. */
export function sourceSearch(metric: keyof typeof SOURCE_METRICS, table: string, region: string, label: string): cloudwatch.MathExpression {
  return searchSum(SOURCE_METRICS[metric], table, METRICS.dimensions.sourceRegion, region, label);
}

/**
 * Metrics emitted per table and target region whose full dimension set may include more than
 * Table and TargetRegion (Conflicts carry Strategy; Powertools adds `service`): a SEARCH sums
 * whatever dimension sets exist.
 */
export function tableSearch(metric: keyof typeof TABLE_METRICS, table: string, region: string, label: string, account?: string): cloudwatch.MathExpression {
  return searchSum(TABLE_METRICS[metric], table, METRICS.dimensions.targetRegion, region, label, account);
}

/** The per-minute sum of every dimension set of `name` with this table and region dimension. */
function searchSum(name: string, table: string, regionDimension: string, region: string, label: string, account?: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SUM(SEARCH('Namespace="${METRICS.namespace}" MetricName="${name}" ${METRICS.dimensions.table}="${table}" ${regionDimension}="${region}"', 'Sum', 60))`,
    usingMetrics: {},
    period: ONE_MINUTE,
    label,
    searchRegion: region,
    ...(account ? { searchAccount: account } : {}),
  });
}

/**
 * An alarm's ARN from its name. Dashboards refer to alarms this way rather than by the alarm
 * resource's Arn attribute: the global dashboard shows other regions' alarms, and emulators that
 * skip AWS::CloudWatch::Alarm (moto) would fail the template on a reference to one.
 */
export function alarmArn(region: string, account: string | undefined, name: string): string {
  return Arn.format({
    partition: Aws.PARTITION,
    service: 'cloudwatch',
    region,
    account: account ?? Aws.ACCOUNT_ID,
    resource: 'alarm',
    resourceName: name,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
