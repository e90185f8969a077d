// The ops console's page (served by src/ops/console-server.ts; no build step). It lays out the
// widgets of the deployed dashboards as CloudWatch does (24 columns), draws metric widgets with
// uPlot, lists alarm widgets' alarms with their states, and polls the server every few seconds.
// Every widget carries data-* attributes with what it shows (the browser test reads them).
(() => {
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const ROW_PX = 38;
  const $ = (id) => document.getElementById(id);
  const state = { meta: null, view: null, minutes: 30, timer: null, charts: new Map(), inFlight: false, range: { start: 0, end: 0 } };

  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const fmt = (v) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return '–';
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : Number(v.toPrecision(3)).toString();
  };
  /** Axis ticks: short (25k, 3.6M). */
  const fmtTick = (v) => {
    const a = Math.abs(v);
    if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
    if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
    return fmt(v);
  };
  const time = (iso) => new Date(iso).toLocaleTimeString('en-GB', { hour12: false });

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children || []) e.append(c);
    return e;
  }

  /** The few markdown forms dashboards' text widgets use: headings, paragraphs, **bold**, `code`. */
  function markdown(text) {
    return String(text || '')
      .split(/\n{2,}/)
      .map((block) => {
        const inline = (s) =>
          esc(s)
            .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
            .replace(/`([^`]+)`/g, '<code>$1</code>');
        const h = /^(#{1,6})\s+(.*)$/.exec(block.trim());
        return h ? `<h${h[1].length + 1}>${inline(h[2])}</h${h[1].length + 1}>` : `<p>${inline(block)}</p>`;
      })
      .join('');
  }

  async function getJson(url) {
    const res = await fetch(url, { cache: 'no-store' });
    const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
    if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
    return body;
  }

  function viewLabel(v) {
    return v.forRegion ? v.forRegion : 'global';
  }

  function selectView(name) {
    state.view = state.meta.views.find((v) => v.name === name) || state.meta.views[0];
    if (!state.view) return;
    location.hash = `view=${encodeURIComponent(state.view.name)}`;
    for (const a of $('views').children) a.classList.toggle('current', a.dataset.view === state.view.name);
    document.body.dataset.view = state.view.name;
    delete document.body.dataset.viewLoaded;
    layout();
    refresh();
  }

  function layout() {
    for (const c of state.charts.values()) c.chart.destroy();
    state.charts.clear();
    const grid = $('grid');
    grid.replaceChildren();
    state.view.widgets.forEach((w, index) => {
      const p = w.properties || {};
      const title = w.type === 'text' ? '' : p.title || (w.type === 'alarm' ? 'Alarms' : 'untitled');
      const box = el('section', { class: `widget widget-${w.type}`, 'data-index': String(index), 'data-type': w.type, 'data-title': title });
      box.style.gridColumn = `${(w.x || 0) + 1} / span ${w.width || 6}`;
      box.style.gridRow = `${(w.y || 0) + 1} / span ${w.height || 6}`;
      if (w.type === 'text') {
        box.innerHTML = markdown(p.markdown);
      } else {
        box.append(el('h3', { text: title, title }));
        box.append(el('div', { class: 'body' }));
        if (w.type === 'metric') box.append(el('table', { class: 'legend' }));
      }
      grid.append(box);
    });
  }

  async function refresh() {
    if (!state.view || state.inFlight) return;
    state.inFlight = true;
    const name = state.view.name;
    try {
      const data = await getJson(`/api/views/${encodeURIComponent(name)}?minutes=${state.minutes}`);
      if (state.view.name !== name) return;
      state.range = { start: data.start, end: data.end };
      for (const wd of data.widgets) render(wd);
      renderEvents(data.alarmEvents);
      const firing = data.widgets.flatMap((w) => (w.alarms || []).filter((a) => a.state === 'ALARM'));
      $('firing').hidden = firing.length === 0;
      $('firing').textContent = `${firing.length} alarm${firing.length === 1 ? '' : 's'} in ALARM`;
      $('updated').textContent = `updated ${time(data.generatedAt)}`;
      $('problem').hidden = true;
      document.body.dataset.generatedAt = data.generatedAt;
      document.body.dataset.viewLoaded = name;
    } catch (e) {
      $('problem').hidden = false;
      $('problem').textContent = `cannot read ${name}: ${e.message}`;
    } finally {
      state.inFlight = false;
    }
  }

  function render(wd) {
    const box = document.querySelector(`#grid > .widget[data-index="${wd.index}"]`);
    if (!box) return;
    const body = box.querySelector('.body');
    box.classList.toggle('failed', Boolean(wd.error));
    if (wd.error) {
      if (body) body.replaceChildren(el('p', { class: 'error', text: wd.error }));
      box.dataset.error = wd.error;
      return;
    }
    delete box.dataset.error;
    if (wd.lines) renderMetric(box, body, state.view.widgets[wd.index], wd.lines);
    if (wd.alarms) renderAlarms(box, body, wd.alarms);
  }

  function renderMetric(box, body, widget, lines) {
    const p = widget.properties || {};
    const annotations = (p.annotations?.horizontal || []).filter((a) => typeof a.value === 'number');
    const legend = box.querySelector('.legend');
    const rows = lines.map((l, i) => {
      const values = l.points.map((pt) => pt[1]);
      const latest = values.length ? values[values.length - 1] : null;
      const sum = values.reduce((a, b) => a + b, 0);
      const color = l.color || PALETTE[i % PALETTE.length];
      const tr = el(
        'tr',
        { 'data-label': l.label, 'data-latest': latest === null ? '' : String(latest), 'data-sum': String(sum), 'data-points': String(values.length) },
        [
          el('td', {}, [el('span', { class: 'swatch' })]),
          el('td', { class: 'label', text: l.yAxis === 'right' ? `${l.label} (right)` : l.label }),
          el('td', { class: 'latest', text: fmt(latest), title: 'latest' }),
        ],
      );
      tr.querySelector('.swatch').style.background = color;
      return tr;
    });
    for (const a of annotations) {
      const tr = el('tr', { class: 'annotation', 'data-label': a.label || '', 'data-value': String(a.value) }, [
        el('td', {}, [el('span', { class: 'swatch dashed' })]),
        el('td', { class: 'label', text: a.label || 'threshold' }),
        el('td', { class: 'latest', text: fmt(a.value) }),
      ]);
      tr.querySelector('.swatch').style.borderColor = a.color || '#d62728';
      rows.push(tr);
    }
    legend.replaceChildren(...rows);
    box.dataset.lines = String(lines.length);

    if (p.view === 'singleValue') {
      body.replaceChildren(
        ...lines.map((l) => {
          const v = l.points.length ? l.points[l.points.length - 1][1] : null;
          return el('div', { class: 'single' }, [el('span', { class: 'value', text: fmt(v) }), el('span', { class: 'label', text: l.label })]);
        }),
      );
      return;
    }
    // One x axis for every line: the union of their timestamps (seconds), gaps where a line has no point.
    const xs = [...new Set(lines.flatMap((l) => l.points.map((pt) => pt[0])))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const series = lines.map((l) => {
      const ys = new Array(xs.length).fill(null);
      for (const [t, v] of l.points) ys[index.get(t)] = v;
      return ys;
    });
    const hasRight = lines.some((l) => l.yAxis === 'right') || annotations.some((a) => a.yAxis === 'right');
    const key = JSON.stringify([lines.map((l) => `${l.id}|${l.label}|${l.yAxis}`), annotations.length]);
    const existing = state.charts.get(box.dataset.index);
    let empty = body.querySelector('.empty');
    if (xs.length === 0) {
      if (existing) {
        existing.chart.destroy();
        state.charts.delete(box.dataset.index);
      }
      if (!empty) body.append((empty = el('p', { class: 'empty' })));
      empty.textContent = `no data in the last ${state.minutes} min`;
      return;
    }
    if (empty) empty.remove();
    const plotData = [xs.map((x) => x / 1000), ...series];
    if (existing && existing.key === key) {
      existing.chart.setData(plotData);
      return;
    }
    if (existing) existing.chart.destroy();
    const yMin = (axis) => {
      const y = p.yAxis?.[axis] || {};
      return typeof y.min === 'number' ? y.min : null;
    };
    const scaleOf = (a) => (a.yAxis === 'right' && hasRight ? 'y2' : 'y');
    // The y range takes in the thresholds drawn on that axis, as CloudWatch's does.
    const range = (axis) => (_u, min, max) => {
      const top = Math.max(max ?? 0, ...annotations.filter((a) => scaleOf(a) === (axis === 'right' ? 'y2' : 'y')).map((a) => a.value));
      const lo = yMin(axis) ?? min ?? 0;
      const hi = top > lo ? top * 1.1 : lo + 1;
      return [lo, hi];
    };
    // Thresholds (the widget's horizontal annotations): dashed lines across the whole plot.
    const drawAnnotations = (u) => {
      const { ctx, bbox } = u;
      ctx.save();
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
      for (const a of annotations) {
        const y = Math.round(u.valToPos(a.value, scaleOf(a), true));
        if (y < bbox.top || y > bbox.top + bbox.height) continue;
        ctx.strokeStyle = a.color || '#d62728';
        ctx.beginPath();
        ctx.moveTo(bbox.left, y);
        ctx.lineTo(bbox.left + bbox.width, y);
        ctx.stroke();
      }
      ctx.restore();
    };
    const opts = {
      width: Math.max(200, body.clientWidth),
      height: Math.max(80, body.clientHeight),
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      // The whole time range asked for, as CloudWatch draws it, whatever part of it has data.
      scales: {
        x: { time: true, range: () => [state.range.start / 1000, state.range.end / 1000] },
        y: { range: range('left') },
        ...(hasRight ? { y2: { range: range('right') } } : {}),
      },
      axes: [
        { stroke: '#555', grid: { stroke: '#eee' } },
        { stroke: '#555', grid: { stroke: '#eee' }, size: 56, values: (_u, ticks) => ticks.map(fmtTick) },
        ...(hasRight ? [{ scale: 'y2', side: 1, stroke: '#555', grid: { show: false }, size: 56, values: (_u, ticks) => ticks.map(fmtTick) }] : []),
      ],
      series: [
        {},
        ...lines.map((l, i) => ({
          label: l.label,
          scale: l.yAxis === 'right' ? 'y2' : 'y',
          stroke: l.color || PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: false,
          points: { show: true, size: 4 },
        })),
      ],
      hooks: { draw: [drawAnnotations] },
    };
    body.querySelector('.uplot')?.remove();
    const chart = new uPlot(opts, plotData, body);
    state.charts.set(box.dataset.index, { chart, key });
  }

  function renderAlarms(box, body, alarms) {
    const order = { ALARM: 0, INSUFFICIENT_DATA: 1, MISSING: 2, OK: 3 };
    const sorted = [...alarms].sort((a, b) => order[a.state] - order[b.state] || String(b.updatedAt || '').localeCompare(String(a.updatedAt || '')));
    const counts = {};
    for (const a of alarms) counts[a.state] = (counts[a.state] || 0) + 1;
    box.dataset.alarm = String(counts.ALARM || 0);
    const summary = el('p', {
      class: 'alarm-summary',
      text:
        Object.entries(counts)
          .map(([s, n]) => `${n} ${s === 'MISSING' ? 'not created' : s}`)
          .join(' · ') || 'no alarms',
    });
    const list = el(
      'ul',
      { class: 'alarms' },
      sorted.map((a) =>
        el(
          'li',
          {
            class: `alarm state-${a.state}`,
            'data-name': a.name,
            'data-region': a.region,
            'data-state': a.state,
            title: a.reason || a.description || (a.state === 'MISSING' ? 'no such alarm in this region' : ''),
          },
          [
            el('span', { class: 'badge', text: a.state === 'INSUFFICIENT_DATA' ? 'NO DATA' : a.state === 'MISSING' ? 'MISSING' : a.state }),
            el('span', { class: 'name', text: a.name }),
            el('span', { class: 'region', text: a.region }),
            el('span', { class: 'since', text: a.updatedAt ? time(a.updatedAt) : '', title: 'state since' }),
          ],
        ),
      ),
    );
    body.replaceChildren(summary, list);
  }

  function renderEvents(events) {
    $('events-empty').hidden = events.length > 0;
    $('events').replaceChildren(
      ...events.map((e) =>
        el('li', { class: `event to-${e.to}`, 'data-name': e.name, 'data-region': e.region, 'data-to': e.to, title: e.reason || '' }, [
          el('time', { text: time(e.at) }),
          el('span', { class: 'name', text: `${e.name} (${e.region})` }),
          el('span', { class: 'change', text: `${e.from} → ${e.to}` }),
        ]),
      ),
    );
  }

  async function start() {
    try {
      state.meta = await getJson('/api/views');
    } catch (e) {
      $('problem').hidden = false;
      $('problem').textContent = `cannot read the dashboards: ${e.message}`;
      setTimeout(start, 3000);
      return;
    }
    $('app').textContent = `${state.meta.app}${state.meta.endpoint ? ` · ${state.meta.endpoint}` : ''}`;
    document.title = `regionsync console: ${state.meta.app}`;
    state.minutes = state.meta.minutes;
    const range = $('range');
    if (![...range.options].some((o) => Number(o.value) === state.minutes))
      range.append(el('option', { value: String(state.minutes), text: `${state.minutes} min` }));
    range.value = String(state.minutes);
    range.addEventListener('change', () => {
      state.minutes = Number(range.value);
      refresh();
    });
    if (state.meta.views.length === 0) {
      $('problem').hidden = false;
      $('problem').textContent = 'no dashboards deployed for this app (monitoring.dashboards off, or not deployed yet)';
    }
    $('views').replaceChildren(
      ...state.meta.views.map((v) => {
        const a = el('a', { href: `#view=${encodeURIComponent(v.name)}`, text: viewLabel(v), 'data-view': v.name, title: v.name });
        a.addEventListener('click', (ev) => {
          ev.preventDefault();
          selectView(v.name);
        });
        return a;
      }),
    );
    const wanted = /view=([^&]+)/.exec(location.hash);
    selectView(wanted ? decodeURIComponent(wanted[1]) : state.meta.views[0]?.name);
    window.addEventListener('hashchange', () => {
      const v = /view=([^&]+)/.exec(location.hash);
      if (v && decodeURIComponent(v[1]) !== state.view?.name) selectView(decodeURIComponent(v[1]));
    });
    state.timer = setInterval(refresh, state.meta.refreshSeconds * 1000);
    let resizeTimer;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        for (const [i, c] of state.charts) {
          const body = document.querySelector(`#grid > .widget[data-index="${i}"] .body`);
          if (body) c.chart.setSize({ width: Math.max(200, body.clientWidth), height: Math.max(80, body.clientHeight) });
        }
      }, 150);
    });
  }

  document.documentElement.style.setProperty('--row', `${ROW_PX}px`);
  start();
})();
