/**
 * Progress for long scans on stderr: a bar with rate and ETA, redrawn in place, when stderr is a
 * terminal; otherwise (CI, logs, pipes) a plain line every few seconds. stdout stays clean for
 * --json.
 */
export interface ProgressSink {
  /** A terminal: the bar is redrawn in place. @default false: a plain line every few seconds */
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Options of a {@link Progress}. */
export interface ProgressOptions {
  readonly label: string;
  /**
   * Expected units (items): DescribeTable's ItemCount, which AWS refreshes about every 6 hours.
   * @default unknown: no bar, percentage or ETA, only the count and rate
   */
  readonly total?: number;
  /** Where progress is written (the CLI passes process.stderr). */
  readonly stream: ProgressSink;
  /** Minimum ms between redraws on a terminal. @default 200 */
  readonly ttyIntervalMs?: number;
  /** Ms between plain lines when not a terminal. @default 5000 */
  readonly lineIntervalMs?: number;
  /** Clock, epoch ms (tests). @default Date.now */
  readonly now?: () => number;
  /** Print nothing at all. @default false */
  readonly quiet?: boolean;
}

/**
 * Progress of a long count (items scanned): a bar redrawn in place on a terminal, else a plain line
 * every few seconds, and a final line from `finish`.
 */
export class Progress {
  private done = 0;
  /** Where this run started counting (a resumed run does not claim the earlier runs' work as its rate). */
  private base = 0;
  private detail = '';
  private readonly started: number;
  private lastDraw: number | undefined;
  private readonly stream: ProgressSink;
  private readonly now: () => number;
  private total: number | undefined;
  private finished = false;

  constructor(private readonly o: ProgressOptions) {
    this.stream = o.stream;
    this.now = o.now ?? Date.now;
    this.started = this.now();
    this.total = o.total && o.total > 0 ? o.total : undefined;
  }

  get count(): number {
    return this.done;
  }

  setTotal(total: number | undefined): void {
    this.total = total && total > 0 ? total : undefined;
  }

  /** Starts counting from `n` (a resumed run). */
  resumeAt(n: number): void {
    this.done = n;
    this.base = n;
  }

  add(n: number, detail?: string): void {
    this.done += n;
    if (detail !== undefined) this.detail = detail;
    this.draw(false);
  }

  /** Ends the bar with a final line. */
  finish(summary?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (summary !== undefined) this.detail = summary;
    this.draw(true);
  }

  /** The line as printed (without terminal control characters). */
  render(): string {
    const elapsed = (this.now() - this.started) / 1000;
    const rate = elapsed > 0 ? (this.done - this.base) / elapsed : 0;
    const parts = [this.o.label];
    if (this.total !== undefined) {
      // ItemCount is an estimate: never show more than 100% or a negative ETA.
      const fraction = Math.min(1, this.done / this.total);
      const width = 24;
      const filled = Math.round(fraction * width);
      parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`);
      parts.push(`${this.done}/~${this.total}`);
    } else {
      parts.push(`${this.done}`);
    }
    parts.push(`${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)}/s`);
    if (!this.finished && this.total !== undefined && rate > 0) parts.push(`ETA ${formatDuration(Math.max(0, this.total - this.done) / rate)}`);
    if (this.finished) parts.push(`in ${formatDuration(elapsed)}`);
    if (this.detail) parts.push(this.detail);
    return parts.join('  ');
  }

  private draw(final: boolean): void {
    if (this.o.quiet) return;
    const t = this.now();
    if (this.stream.isTTY) {
      if (!final && this.lastDraw !== undefined && t - this.lastDraw < (this.o.ttyIntervalMs ?? 200)) return;
      this.lastDraw = t;
      this.stream.write(`\r\x1b[2K${this.render()}${final ? '\n' : ''}`);
      return;
    }
    // Plain lines: the first one after an interval, so short runs print only their final line.
    if (!final && t - (this.lastDraw ?? this.started) < (this.o.lineIntervalMs ?? 5000)) return;
    this.lastDraw = t;
    this.stream.write(`${this.render()}\n`);
  }
}

/** A Progress on the given sink, or none without one (the library prints nothing unless its caller, the CLI, hands it a sink). */
export function progressFor(sink: ProgressSink | false | undefined, label: string, total?: number): Progress | undefined {
  if (!sink) return undefined;
  return new Progress({ label, stream: sink, ...(total !== undefined ? { total } : {}) });
}

/** Seconds as `42s`, `3m05s` or `1h02m` (rounded); `?` when not finite (an unknown ETA). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
