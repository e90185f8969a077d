/**
 * Reads CloudWatch Embedded Metric Format lines (what Powertools Metrics prints) into values per
 * metric and dimension set: how the local runtime and `npm start` see what the functions emit.
 */
export interface MetricPoint {
  readonly name: string;
  /** The document's CloudWatch namespace (EMF lines always name one). @default none: parseEmf always sets it */
  readonly namespace?: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
  readonly timestamp: number;
  /** CloudWatch unit (`Count`, `Milliseconds`, ...), when the document names one. @default none: no unit (CloudWatch's `None`) */
  readonly unit?: string;
}

interface EmfDocument {
  _aws?: { Timestamp?: number; CloudWatchMetrics?: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit?: string }[] }[] };
  [k: string]: unknown;
}

/** Parses one log line; returns [] for anything that is not an EMF document. */
export function parseEmf(line: string): MetricPoint[] {
  const start = line.indexOf('{');
  if (start < 0 || !line.includes('"_aws"')) return [];
  let doc: EmfDocument;
  try {
    doc = JSON.parse(line.slice(start)) as EmfDocument;
  } catch {
    return [];
  }
  const points: MetricPoint[] = [];
  for (const directive of doc._aws?.CloudWatchMetrics ?? []) {
    const dimNames = directive.Dimensions.flat();
    const dimensions = Object.fromEntries(dimNames.map((d) => [d, String(doc[d])]));
    for (const m of directive.Metrics) {
      const raw = doc[m.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number');
      points.push({
        name: m.Name,
        dimensions,
        values,
        timestamp: doc._aws?.Timestamp ?? Date.now(),
        ...(m.Unit ? { unit: m.Unit } : {}),
        namespace: directive.Namespace,
      });
    }
  }
  return points;
}

/**
 * Collects the metric points of log lines (the local runtime feeds it the functions' output) and lists
 * or sums a metric's values, optionally only those with the given dimension values.
 */
export class MetricCollector {
  readonly points: MetricPoint[] = [];

  accept(line: string): void {
    this.points.push(...parseEmf(line));
  }

  values(name: string, match: Readonly<Record<string, string>> = {}): number[] {
    return this.points.filter((p) => p.name === name && Object.entries(match).every(([k, v]) => p.dimensions[k] === v)).flatMap((p) => p.values);
  }

  sum(name: string, match: Readonly<Record<string, string>> = {}): number {
    return this.values(name, match).reduce((a, b) => a + b, 0);
  }
}

/** The nearest-rank `p`th percentile (0 to 100) of `values`; undefined when there are none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
