/**
 * One session: QoE numbers, time series of bitrate, buffer, latency and throughput on one
 * time axis (stalls shaded, switches marked), and the raw event log filterable by type.
 */

import type { Annotations } from '../annotations.ts';
import { api, paths, type SessionQoe, type StoredEvent, type TimeseriesReply } from '../api.ts';
import { Chart } from '../charts.ts';
import { apiLinks, exportButtons, warmupControl } from '../components.ts';
import { byId, fill, h } from '../dom.ts';
import * as f from '../format.ts';
import { ChangeProbe } from '../live.ts';
import { href, replaceHash, setCrumbs, setLive, setStatus, setUpdated } from '../nav.ts';
import { alignSeries } from '../overlay.ts';
import { METRICS } from '../qoe.ts';
import { effectiveRate } from '../rate.ts';
import { displayUnit, SERIES, type SeriesDef } from '../series.ts';
import { loading, NotFound } from '../states.ts';
import { stat } from './experiment.ts';
import type { View } from './types.ts';

const PAGE = 200;

export function sessionView(id: string, sessionId: string, initialWarmup: string, initialType: string): View {
  let warmup = initialWarmup;
  let eventType = initialType;
  const probe = new ChangeProbe(id, sessionId);
  let t0: number | undefined;
  let full: [number, number] = [0, 1];
  let zoom: [number, number] | null = null;
  let logCursor: string | undefined;
  let logPages = 1;
  const annotations: Annotations = { stalls: [], switches: [], warmup: null };
  const chartsEl = h('div', { class: 'stack' });
  const qoeEl = h('p', { class: 'summary', id: 'session-qoe' });
  const infoEl = h('p', { class: 'muted' });
  const logBody = h('tbody');
  const logInfo = h('span', { class: 'muted small', id: 'log-info' });
  const moreBtn = h('button', { type: 'button', hidden: true }, 'Load more');
  const typeSelect = h('select', { id: 'event-type', 'aria-label': 'Filter by event type' });
  const linksEl = h('div');
  const resetBtn = h('button', { type: 'button', hidden: true }, 'Reset zoom');

  const onZoom = (range: [number, number] | null) => {
    zoom = range;
    resetBtn.hidden = !zoom;
    for (const c of charts) c.setX(zoom ?? full);
  };
  resetBtn.addEventListener('click', () => onZoom(null));
  const charts: Chart[] = SERIES.map(
    (s) =>
      new Chart(chartsEl, {
        title: s.title,
        xLabel: 'seconds since session start',
        yLabel: s.unit,
        kind: 'time',
        rungs: s.rungs,
        yMinTop: s.yMinTop,
        syncKey: `session-${id}-${sessionId}`,
        annotations,
        onZoom,
      }),
  );

  function renderLinks(): void {
    fill(
      linksEl,
      exportButtons(id, { session_id: sessionId, event_type: eventType || undefined }),
      apiLinks([
        ['Session QoE', paths.qoe(id, warmup, sessionId)],
        ...SERIES.map(
          (s) => [`Time series: ${s.metric}`, paths.timeseries(id, sessionId, s.metric)] as [string, string],
        ),
        [
          'Events',
          paths.metrics(id, { session_id: sessionId, event_type: eventType || undefined, limit: PAGE }),
        ],
      ]),
    );
  }

  function renderQoe(q: SessionQoe | undefined): void {
    if (!q) {
      fill(qoeEl, h('span', { class: 'muted' }, 'No QoE for this session yet.'));
      return;
    }
    fill(
      qoeEl,
      METRICS.map((m) => stat(m.label, m.format(q[m.key]), m.key)),
      stat('Outcome', q.fatal_error ? 'failed' : q.exit_before_start ? 'exit before start' : 'ok', 'outcome'),
    );
  }

  function drawSeries(
    replies: TimeseriesReply[],
    q: SessionQoe | undefined,
    first: number,
    last: number,
  ): void {
    const all = replies.flatMap((r) => r.points.map((p) => p[0]));
    t0 = Math.min(first, ...all);
    const end = Math.max(last, ...all);
    full = [0, Math.max(1, end - t0)];
    const base = t0;
    annotations.stalls = (q?.stalls ?? []).map((s) => [
      s.start - base,
      (s.end ?? s.start + (s.duration_s ?? 0)) - base,
    ]);
    annotations.switches = (q?.switches ?? []).map((s) => s.timestamp - base);
    annotations.warmup = warmupRange(warmup, full[1]);
    replies.forEach((r, i) => {
      const { label, scale } = displayUnit(r.unit);
      const chart = charts[i];
      if (!chart) return;
      const def = SERIES[i];
      if (!def) return;
      // The rate chart plots the effective rate (0 while stalled), not the element's own.
      const rate = def.metric === 'playback_rate';
      chart.setCaption(`${def.title}${rate ? ', effective' : ''} (${label})`);
      const rel = (pts: TimeseriesReply['points'], k: number) =>
        pts.map(([t, v]) => [t - base, v == null ? null : v * k] as [number, number | null]);
      const own = { label: def.label, color: def.color, stepped: def.stepped, dots: def.dots };
      const bitrate = replies[0];
      if (def.metric === 'throughput' && bitrate && r.points.length) {
        // The classic ABR figure: measured throughput against the bitrate being played.
        const b = SERIES[0] as SeriesDef;
        chart.set(
          [own, { label: 'video bitrate', color: b.color, stepped: true }],
          alignSeries([
            rel(r.points, scale),
            rel(bitrate.points, displayUnit(bitrate.unit).scale),
          ]) as uPlot.AlignedData,
          zoom ?? full,
        );
      } else {
        const pts = rate ? effectiveRate(rel(r.points, scale), annotations.stalls) : rel(r.points, scale);
        chart.set(
          [own],
          [pts.map((p) => p[0]), pts.map((p) => p[1])],
          zoom ?? full,
          'no events in this session report it',
        );
      }
      chart.redraw();
    });
  }

  async function loadLog(append: boolean): Promise<void> {
    const reply = await api.metrics(id, {
      session_id: sessionId,
      event_type: eventType || undefined,
      limit: PAGE,
      cursor: append ? logCursor : undefined,
    });
    logCursor = reply.next_cursor;
    const rows = reply.metrics.map((e) => logRow(e, t0));
    if (append) logBody.append(...rows);
    else fill(logBody, rows);
    moreBtn.hidden = !logCursor;
    const shown = logBody.children.length;
    logInfo.textContent = `${shown} event${shown === 1 ? '' : 's'} shown${logCursor ? ' (more available)' : ''}`;
  }

  async function load(): Promise<void> {
    // The charts mark every stall and switch, also those inside the trimmed warm-up (the band
    // shows what the numbers leave out), so they come from the untrimmed QoE.
    const [qoe, untrimmed, sessions, ...series] = await Promise.all([
      api.qoe(id, warmup, sessionId),
      warmup ? api.qoe(id, '', sessionId) : null,
      api.sessions(id),
      ...SERIES.map((s) => api.timeseries(id, sessionId, s.metric)),
    ]);
    const q = qoe.sessions.find((s) => s.session_id === sessionId);
    const marks = (untrimmed ?? qoe).sessions.find((s) => s.session_id === sessionId);
    const summary = sessions.find((s) => s.session_id === sessionId);
    fill(
      infoEl,
      h('a', { href: href.experiment(id, warmup) }, id),
      q ? ` · run ${q.run}` : '',
      ` · ${summary?.protocol ?? q?.protocol ?? ''} · ${summary?.video_id ?? q?.video_id ?? ''} · `,
      `${f.count(summary?.count)} events · ${f.dateTime(summary?.first_timestamp)} – ${f.dateTime(summary?.last_timestamp)}`,
    );
    renderQoe(q);
    const first = summary?.first_timestamp ?? Number.POSITIVE_INFINITY;
    const last = summary?.last_timestamp ?? Number.NEGATIVE_INFINITY;
    drawSeries(series, marks, first, last);
    setLive(summary?.last_timestamp);
    // Live: keep the first page of the log fresh unless the user paged further.
    if (logPages === 1) await loadLog(false);
    setUpdated();
  }

  return {
    async mount(root) {
      setCrumbs([['Experiments', href.experiments()], [id, href.experiment(id, warmup)], [sessionId]]);
      const all = await api.experiments();
      const e = all.find((x) => x.experiment_id === id);
      if (!e) throw new NotFound(`No experiment "${id}"`);
      if (!(await api.sessions(id)).some((s) => s.session_id === sessionId))
        throw new NotFound(`No session "${sessionId}" in experiment "${id}"`, {
          label: `Sessions of ${id}`,
          to: href.experiment(id, warmup),
        });
      const control = warmupControl(warmup, (v) => {
        warmup = v;
        replaceHash(href.session(id, sessionId, warmup, eventType));
        renderLinks();
        void loading(byId('view'), load).catch((err) => setStatus(String(err), true));
      });
      typeSelect.addEventListener('change', () => {
        eventType = typeSelect.value;
        replaceHash(href.session(id, sessionId, warmup, eventType));
        logPages = 1;
        renderLinks();
        void loadLog(false).catch((err) => setStatus(String(err), true));
      });
      moreBtn.addEventListener('click', () => {
        logPages++;
        void loadLog(true).catch((err) => setStatus(String(err), true));
      });
      renderLinks();
      root.append(
        h('h1', {}, `Session ${sessionId}`),
        infoEl,
        h('div', { class: 'toolbar' }, control),
        qoeEl,
        h(
          'div',
          { class: 'legend-note' },
          h('span', { class: 'key stall' }, ''),
          'stall',
          h('span', { class: 'key switch' }, ''),
          'rendition switch',
          h('span', { class: 'key warm' }, ''),
          'warm-up trimmed from QoE',
          h('span', { class: 'muted small' }, ' · drag to zoom all charts, double-click to reset'),
          resetBtn,
        ),
        chartsEl,
        h('h2', {}, 'Events'),
        h('div', { class: 'toolbar' }, typeSelect, logInfo),
        h(
          'div',
          { class: 'scroll log' },
          h(
            'table',
            { class: 'data events', id: 'event-log' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { class: 'num' }, 't (s)'),
                h('th', {}, 'Time'),
                h('th', {}, 'Event'),
                h('th', {}, 'Payload'),
              ),
            ),
            logBody,
          ),
        ),
        moreBtn,
        linksEl,
      );
      fill(
        typeSelect,
        h('option', { value: '' }, 'All event types'),
        (e?.event_types ?? []).map((t) => h('option', { value: t, selected: t === eventType }, t)),
      );
      await Promise.all([probe.start(e?.last_timestamp), load()]);
    },
    async tick() {
      if (await probe.changed()) await load();
    },
    destroy() {
      for (const c of charts) c.destroy();
    },
  };
}

/** The trimmed warm-up as [0, end] seconds since session start, as the QoE endpoint reads `warmup`. */
export function warmupRange(warmup: string, duration: number): [number, number] | null {
  const w = Number(warmup);
  if (!warmup || !Number.isFinite(w) || w <= 0) return null;
  return [0, w < 1 ? w * duration : Math.min(w, duration)];
}

function logRow(e: StoredEvent, t0: number | undefined): HTMLTableRowElement {
  const payload = JSON.stringify(e.payload);
  return h(
    'tr',
    { 'data-type': e.event_type },
    h('td', { class: 'num' }, t0 === undefined ? '' : (e.timestamp - t0).toFixed(2)),
    h('td', { class: 'nowrap' }, f.dateTime(e.timestamp)),
    h('td', {}, h('code', {}, e.event_type)),
    h(
      'td',
      { class: 'payload', title: payload },
      payload.length > 160 ? `${payload.slice(0, 157)}…` : payload,
    ),
  );
}
