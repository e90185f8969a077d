/**
 * `regionsync status`, the view: one row per source→target pair, breached figures highlighted.
 * One layout, two renderings: ANSI text for the terminal (colours only when asked) and HTML for
 * pictures (docs/status.png is made from it by dev/scripts/status-picture.ts).
 */
import type { PairStatus, ParkedStatus, StatusReport } from './status.ts';

type Style = 'plain' | 'head' | 'ok' | 'bad' | 'dim' | 'warn' | 'title';

interface Cell {
  readonly text: string;
  readonly style: Style;
  readonly align?: 'left' | 'right';
}

type Line = readonly Cell[];

const COLUMNS: readonly { readonly title: string; readonly align: 'left' | 'right' }[] = [
  { title: 'TABLE', align: 'left' },
  { title: 'SOURCE → TARGET', align: 'left' },
  { title: 'LAG p50', align: 'right' },
  { title: 'p99', align: 'right' },
  { title: 'max', align: 'right' },
  { title: 'APPLIED', align: 'right' },
  { title: 'STALE', align: 'right' },
  { title: 'BACKLOG', align: 'right' },
  { title: 'OLDEST', align: 'right' },
  { title: 'DLQ', align: 'right' },
  { title: 'ITER AGE', align: 'right' },
  { title: 'STATE', align: 'left' },
];

/** The status as lines of cells: a title, the table (header + a row per pair), then notes. */
export function statusLines(report: StatusReport): { title: Line; table: Line[]; notes: Line[] } {
  const title: Line = [
    {
      text: `regionsync status · ${report.app} · last ${report.windowMinutes} min · ${report.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
      style: 'title',
    },
    { text: report.healthy ? '  healthy' : '  ATTENTION', style: report.healthy ? 'ok' : 'bad' },
  ];
  const header: Line = COLUMNS.map((c) => ({ text: c.title, style: 'head', align: c.align }));
  const rows = report.pairs.map(pairRow);
  const notes: Line[] = [];
  const thresholds = new Map<string, string[]>();
  for (const p of report.pairs) {
    const t = p.thresholds;
    const text = `lag p99 > ${ms(t.lagP99ThresholdMs)} for ${t.lagEvaluationMinutes} min, max > ${ms(t.lagMaxThresholdMs)}, oldest > ${age(t.backlogAgeThresholdSeconds)}, iterator age > ${age(t.iteratorAgeThresholdSeconds)}, DLQ > 0, errors > ${t.errorRateThresholdPercent}%, parked > ${age(t.parkedAgeThresholdSeconds)}`;
    const tables = thresholds.get(text) ?? [];
    if (!tables.includes(p.table)) tables.push(p.table);
    thresholds.set(text, tables);
  }
  for (const [text, tables] of thresholds) notes.push([{ text: `thresholds (${tables.join(', ')}): ${text}`, style: 'dim' }]);
  notes.push(...parkedLines(report.parked ?? []));
  for (const r of report.regions) {
    const line: Cell[] = [{ text: `${r.region}: `, style: 'plain' }];
    line.push(r.alarmsFiring.length === 0 ? { text: 'no alarm firing', style: 'ok' } : { text: `ALARM ${r.alarmsFiring.join(', ')}`, style: 'bad' });
    for (const f of r.fences)
      line.push({ text: `; ${f.table} FENCED (${f.reasons.map((x) => x.source + (x.reason ? `: ${x.reason}` : '')).join('; ')})`, style: 'bad' });
    notes.push(line);
  }
  for (const p of report.problems) notes.push([{ text: `could not read: ${p}`, style: 'warn' }]);
  return { title, table: [header, ...rows], notes };
}

function pairRow(p: PairStatus): Line {
  const b = new Set(p.breaches);
  const num = (v: number | null, fmt: (n: number) => string, breached = false): Cell =>
    v === null ? { text: '–', style: 'dim', align: 'right' } : { text: fmt(v), style: breached ? 'bad' : 'plain', align: 'right' };
  const state: Cell = p.breaches.length === 0 ? { text: 'ok', style: 'ok' } : { text: p.breaches.join(' '), style: 'bad' };
  const backlog = p.backlog.messages === null ? null : p.backlog.messages + (p.backlog.inFlight ?? 0);
  return [
    { text: p.table, style: 'plain' },
    { text: `${p.source} → ${p.target}`, style: 'plain' },
    num(p.lag.p50, ms),
    num(p.lag.p99, ms, b.has('lagP99')),
    num(p.lag.max, ms, b.has('lagMax')),
    num(p.changes.applied, String),
    num(p.changes.stale, String),
    num(backlog, String),
    num(p.backlog.oldestAgeSeconds, age, b.has('backlogAge')),
    num(p.dlq.messages, String, b.has('dlq')),
    num(p.iteratorAgeMs, ms, b.has('iteratorAge')),
    state,
  ];
}

/**
 * One line per table: the changes parked in each source region's outage backlog for a target that
 * was unreachable, how old the oldest is and how long the backlog has been non-empty; breached
 * regions in red with the alarm's kind.
 */
export function parkedLines(parked: readonly ParkedStatus[]): Line[] {
  const byTable = new Map<string, ParkedStatus[]>();
  for (const p of parked) byTable.set(p.table, [...(byTable.get(p.table) ?? []), p]);
  return [...byTable].map(([table, regions]) => {
    const line: Cell[] = [{ text: `parked for unreachable targets, ${table}: `, style: 'plain' }];
    regions.forEach((p, i) => {
      const parts = [p.messages === null ? '–' : String(p.messages)];
      if ((p.messages ?? 0) > 0 || p.messages === null) {
        if (p.oldestAgeSeconds !== null) parts.push(`oldest ≥ ${age(p.oldestAgeSeconds)}`);
        if (p.nonEmptySeconds !== null && p.nonEmptySeconds > 0) parts.push(`waiting ${age(p.nonEmptySeconds)}`);
      }
      const style: Style = p.breached ? 'bad' : p.messages === null ? 'dim' : (p.messages ?? 0) > 0 ? 'warn' : 'plain';
      line.push({ text: `${i > 0 ? ' · ' : ''}${p.region} ${parts.join(', ')}${p.breached ? ' parkedAge' : ''}`, style });
    });
    return line;
  });
}

/** Milliseconds for the status view: `850 ms`, `12.5 s`, and from 2 minutes on as {@link age}. */
export function ms(v: number): string {
  if (v < 10_000) return `${Math.round(v)} ms`;
  if (v < 120_000) return `${(v / 1000).toFixed(1)} s`;
  return age(v / 1000);
}

/** Seconds for the status view: `45 s`, `12 min`, or `3.5 h`. */
export function age(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const ANSI: Record<Style, [string, string]> = {
  plain: ['', ''],
  head: ['\x1b[1m', '\x1b[22m'],
  title: ['\x1b[1m', '\x1b[22m'],
  ok: ['\x1b[32m', '\x1b[39m'],
  bad: ['\x1b[1;31m', '\x1b[22;39m'],
  warn: ['\x1b[33m', '\x1b[39m'],
  dim: ['\x1b[2m', '\x1b[22m'],
};

/** Fixed-width text; ANSI colours when `color`. */
export function renderStatusText(report: StatusReport, options: { color?: boolean } = {}): string {
  const { title, table, notes } = statusLines(report);
  const paint = (c: Cell, text = c.text): string => (options.color && ANSI[c.style][0] ? `${ANSI[c.style][0]}${text}${ANSI[c.style][1]}` : text);
  const widths = columnWidths(table);
  const out = [title.map((c) => paint(c)).join(''), ''];
  for (const line of table)
    out.push(
      line
        .map((c, i) => pad(c, widths[i]!, paint(c)))
        .join('  ')
        .trimEnd(),
    );
  out.push('');
  for (const line of notes) out.push(line.map((c) => paint(c)).join(''));
  return out.join('\n');
}

const HTML_COLOURS: Record<Style, string> = {
  plain: '#d8dee9',
  head: '#88c0d0',
  title: '#eceff4',
  ok: '#a3be8c',
  bad: '#ff6b6b',
  warn: '#ebcb8b',
  dim: '#6c7a89',
};

/** A self-contained HTML page that looks like the terminal rendering (for screenshots). */
export function renderStatusHtml(report: StatusReport, options: { command?: string } = {}): string {
  const { title, table, notes } = statusLines(report);
  const widths = columnWidths(table);
  const span = (c: Cell, text = c.text) => {
    const bold = c.style === 'bad' || c.style === 'head' || c.style === 'title';
    return `<span style="color:${HTML_COLOURS[c.style]}${bold ? ';font-weight:bold' : ''}">${escapeHtml(text)}</span>`;
  };
  const lines: string[] = [];
  if (options.command) lines.push(`<span style="color:#a3be8c">$</span> ${escapeHtml(options.command)}`);
  lines.push(title.map((c) => span(c)).join(''), '');
  for (const line of table) lines.push(line.map((c, i) => pad(c, widths[i]!, span(c))).join('  '));
  lines.push('');
  for (const line of notes) lines.push(line.map((c) => span(c)).join(''));
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#1e222a}
.term{display:inline-block;margin:16px;padding:14px 18px 16px;background:#2e3440;border-radius:8px;box-shadow:0 4px 18px #0008}
.bar{height:12px;margin-bottom:10px}.bar i{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:6px}
pre{margin:0;font:13px/1.45 "DejaVu Sans Mono","Liberation Mono",Menlo,monospace;color:#d8dee9}
</style></head><body><div class="term"><div class="bar"><i style="background:#ff5f56"></i><i style="background:#ffbd2e"></i><i style="background:#27c93f"></i></div><pre>${lines.join('\n')}</pre></div></body></html>`;
}

function columnWidths(table: readonly Line[]): number[] {
  return COLUMNS.map((_, i) => Math.max(...table.map((line) => [...(line[i]?.text ?? '')].length)));
}

/** `rendered` (the cell's text, perhaps coloured) padded to `width` visible characters. */
function pad(c: Cell, width: number, rendered: string): string {
  const fill = ' '.repeat(Math.max(0, width - [...c.text].length));
  return c.align === 'right' ? fill + rendered : rendered + fill;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
