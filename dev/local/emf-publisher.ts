/**
 * Plays CloudWatch Logs' Embedded Metric Format extraction for the local runtime: every EMF
 * line a function prints becomes metric data in the emulator's CloudWatch (PutMetricData), in the
 * function's region, so dashboards, `regionsync status` and the tests read real metrics. Also
 * takes metrics the runtime itself publishes in AWS's place (service-metrics.ts).
 *
 * Batched: data points are queued per region and namespace and sent every `flushIntervalMs`, or
 * as soon as a queue holds `maxBatch` of them (PutMetricData takes 1000 per call). A line's
 * values (Powertools puts up to 100 per metric) travel as one datum with Values/Counts, so
 * percentiles come out exact.
 */
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import { parseEmf } from '../../src/ops/emf.ts';
import type { Credentials } from './clients.ts';
import { EMULATOR_CREDENTIALS } from '../../src/ops/aws.ts';
import { errorMessage } from '../../src/core/errors.ts';
import type { RuntimeLogger } from './poller-common.ts';

export interface EmfPublisherOptions {
  readonly endpoint: string;
  readonly credentials?: Credentials;
  /** How often queued data points are sent. @default 1000 */
  readonly flushIntervalMs?: number;
  /** Send at once when a region's queue reaches this many data points. @default 500 */
  readonly maxBatch?: number;
  readonly log?: RuntimeLogger;
}

export interface MetricInput {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
  readonly unit?: string;
  /** Epoch ms. @default now */
  readonly timestamp?: number;
}

export interface EmfPublisherStats {
  /** EMF lines turned into data points. */
  emfLines: number;
  /** Data points sent. */
  datums: number;
  /** PutMetricData calls made, and failed. */
  calls: number;
  failures: number;
}

/** PutMetricData accepts at most 150 values per datum. */
const MAX_VALUES_PER_DATUM = 150;
const MAX_DATUMS_PER_CALL = 1000;

export class EmfPublisher {
  readonly stats: EmfPublisherStats = { emfLines: 0, datums: 0, calls: 0, failures: 0 };
  private readonly queues = new Map<string, { region: string; namespace: string; data: MetricDatum[] }>();
  private readonly clients = new Map<string, CloudWatchClient>();
  private readonly timer: NodeJS.Timeout;
  private inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: EmfPublisherOptions) {
    this.timer = setInterval(() => void this.flush(), o.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** A line a function in `region` printed; anything but an EMF document is ignored. */
  acceptLine(region: string, line: string): void {
    const points = parseEmf(line);
    if (points.length === 0) return;
    this.stats.emfLines++;
    for (const p of points) {
      if (p.values.length === 0 || !p.namespace) continue;
      this.put(region, { namespace: p.namespace, name: p.name, dimensions: p.dimensions, values: p.values, unit: p.unit, timestamp: p.timestamp });
    }
  }

  /** Queues one metric's values for `region`. */
  put(region: string, m: MetricInput): void {
    if (this.stopped) return;
    const key = `${region}\0${m.namespace}`;
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = { region, namespace: m.namespace, data: [] }));
    // Sorted by name: the order CloudWatch identifies a metric by does not matter in AWS, and
    // canonical order keeps every emulator's dimension matching happy.
    const dimensions = Object.keys(m.dimensions)
      .sort()
      .map((Name) => ({ Name, Value: m.dimensions[Name]! }));
    for (let i = 0; i < m.values.length; i += MAX_VALUES_PER_DATUM) {
      q.data.push({
        MetricName: m.name,
        Dimensions: dimensions,
        ...valuesAndCounts(m.values.slice(i, i + MAX_VALUES_PER_DATUM)),
        Timestamp: new Date(m.timestamp ?? Date.now()),
        ...(m.unit ? { Unit: m.unit as StandardUnit } : {}),
      });
    }
    if (q.data.length >= (this.o.maxBatch ?? 500)) void this.flush();
  }

  /** Sends everything queued; resolves when sent (failures are logged and counted, not thrown). */
  async flush(): Promise<void> {
    const sends: Promise<void>[] = [];
    for (const q of this.queues.values()) {
      while (q.data.length > 0) sends.push(this.send(q.region, q.namespace, q.data.splice(0, MAX_DATUMS_PER_CALL)));
    }
    const all = Promise.all([...this.inFlight, ...sends]).then(() => undefined);
    await all;
  }

  /** Sends what is queued and stops; later data points are dropped. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    this.stopped = true;
    for (const c of this.clients.values()) c.destroy();
  }

  private send(region: string, namespace: string, data: MetricDatum[]): Promise<void> {
    const p = (async () => {
      this.stats.calls++;
      try {
        await this.client(region).send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data }));
        this.stats.datums += data.length;
      } catch (err) {
        this.stats.failures++;
        this.o.log?.('warn', `cannot publish ${data.length} metric data point(s) to the emulator's CloudWatch in ${region}: ${errorMessage(err)}`);
      }
    })();
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  // No gzip: the SDK compresses PutMetricData bodies over 10 KB, and moto 5.2 fails on them (BadGzipFile).
  private client(region: string): CloudWatchClient {
    let c = this.clients.get(region);
    if (!c)
      this.clients.set(
        region,
        (c = new CloudWatchClient({
          region,
          endpoint: this.o.endpoint,
          credentials: this.o.credentials ?? EMULATOR_CREDENTIALS,
          maxAttempts: 2,
          disableRequestCompression: true,
        })),
      );
    return c;
  }
}

/** Repeated values travel once with a count (PutMetricData's Values/Counts). */
function valuesAndCounts(values: readonly number[]): { Values: number[]; Counts: number[] } {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return { Values: [...counts.keys()], Counts: [...counts.values()] };
}
