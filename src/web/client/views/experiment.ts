/** One experiment: per-session QoE table with aggregate rows, CDFs, exports, live refresh. */
import {
  api,
  type ExperimentSummary,
  paths,
  type QoeReply,
  type SessionQoe,
  type SessionSummary,
} from '../api.ts';
import { apiLinks, type Column, exportButtons, SortTable, warmupControl } from '../components.ts';
import { fill, h } from '../dom.ts';
import * as f from '../format.ts';
import { href, replaceHash, setCrumbs, setLive, setStatus } from '../nav.ts';
import { aggregateRows, CdfGrid, METRICS } from '../qoe.ts';
import type { View } from './types.ts';

interface Row extends SessionQoe {
  summary?: SessionSummary;
}

export function experimentView(id: string, initialWarmup: string): View {
  let warmup = initialWarmup;
  let signature = '';
  const cdfs = new CdfGrid();
  const summaryEl = h('p', { class: 'summary', id: 'summary' });
  const linksEl = h('div');
  const compareEl = h('div', { class: 'compare-with' });

  const columns: Column<Row>[] = [
    {
      key: 'session_id',
      label: 'Session',
      value: (r) => r.session_id,
      show: (r) => h('a', { href: href.session(id, r.session_id, warmup) }, r.session_id),
    },
    { key: 'protocol', label: 'Proto', value: (r) => r.protocol, show: (r) => r.protocol },
    {
      key: 'events',
      label: 'Events',
      numeric: true,
      value: (r) => r.summary?.count,
      show: (r) => f.count(r.summary?.count),
    },
    ...METRICS.map(
      (m): Column<Row> => ({
        key: m.key,
        label: m.short,
        title: `${m.label} (click to sort)`,
        numeric: true,
        value: (r) => r[m.key],
        show: (r) => m.format(r[m.key]),
      }),
    ),
    {
      key: 'outcome',
      label: 'Outcome',
      value: (r) => outcome(r),
      show: (r) => {
        const o = outcome(r);
        return h('span', { class: o === 'ok' ? 'muted' : 'badge warn' }, o);
      },
    },
  ];
  const table = new SortTable(columns, (r) => r.session_id, 'qoe');

  function renderLinks(): void {
    fill(
      linksEl,
      exportButtons(id),
      apiLinks([
        ['QoE (per session + aggregate)', paths.qoe(id, warmup)],
        ['Sessions', paths.sessions(id)],
        ['Events (JSON)', paths.metrics(id)],
        ['Events (CSV)', paths.metrics(id, { format: 'csv' })],
        ['Events (NDJSON)', paths.metrics(id, { format: 'ndjson' })],
      ]),
    );
  }

  function renderSummary(e: ExperimentSummary | undefined, q: QoeReply): void {
    if (!e) {
      fill(summaryEl, h('span', { class: 'error' }, 'No events stored for this experiment (yet).'));
      return;
    }
    const spanS =
      e.first_timestamp != null && e.last_timestamp != null ? e.last_timestamp - e.first_timestamp : null;
    fill(
      summaryEl,
      stat('Events', f.count(e.count), 'events'),
      stat('Sessions', f.count(e.sessions), 'sessions'),
      stat('Span', f.span(spanS), 'span'),
      stat('First event', f.dateTime(e.first_timestamp), 'first'),
      stat('Last event', f.dateTime(e.last_timestamp), 'last'),
      stat('Sessions with QoE', f.count(q.sessions.length), 'qoe-sessions'),
    );
  }

  function renderCompare(all: ExperimentSummary[]): void {
    const others = all.filter((e) => e.experiment_id !== id);
    if (!others.length) {
      compareEl.replaceChildren();
      return;
    }
    const select = h(
      'select',
      { 'aria-label': 'Compare with', id: 'compare-with' },
      h('option', { value: '' }, 'Compare with…'),
      others.map((e) => h('option', { value: e.experiment_id }, e.experiment_id)),
    );
    select.addEventListener('change', () => {
      if (select.value) location.hash = href.compare([id, select.value], warmup);
    });
    fill(compareEl, select);
  }

  async function load(force: boolean): Promise<void> {
    const all = await api.experiments();
    const e = all.find((x) => x.experiment_id === id);
    setLive(e?.last_timestamp);
    const sig = `${e?.count}:${e?.last_timestamp}:${warmup}`;
    if (!force && sig === signature) return;
    signature = sig;
    const [q, sessions] = await Promise.all([api.qoe(id, warmup), api.sessions(id)]);
    const byId = new Map(sessions.map((s) => [s.session_id, s]));
    table.update(
      q.sessions.map((s) => ({ ...s, summary: byId.get(s.session_id) })),
      aggregateRows(q),
    );
    cdfs.set([{ label: id, sessions: q.sessions }]);
    renderSummary(e, q);
    renderCompare(all);
    setStatus(`Updated ${new Date().toLocaleTimeString()}`);
  }

  return {
    async mount(root) {
      setCrumbs([['Experiments', href.experiments()], [id]]);
      const control = warmupControl(warmup, (v) => {
        warmup = v;
        replaceHash(href.experiment(id, warmup));
        renderLinks();
        void load(true).catch((err) => setStatus(String(err), true));
      });
      renderLinks();
      root.append(
        h('h1', {}, id),
        summaryEl,
        h('div', { class: 'toolbar' }, control, compareEl),
        h('h2', {}, 'Sessions'),
        h('div', { class: 'scroll' }, table.el),
        h(
          'p',
          { class: 'muted small' },
          'Aggregate rows are over sessions where the metric exists (n in the API reply). Click a column to sort.',
        ),
        h('h2', {}, 'Distributions'),
        cdfs.el,
        linksEl,
      );
      await load(true);
    },
    tick: () => load(false),
    destroy: () => cdfs.destroy(),
  };
}

export function stat(label: string, value: string, key: string): HTMLElement {
  return h(
    'span',
    { class: 'stat', 'data-stat': key },
    h('span', { class: 'k' }, label),
    h('span', { class: 'v' }, value),
  );
}

function outcome(r: SessionQoe): string {
  if (r.fatal_error) return 'failed';
  if (r.exit_before_start) return 'exit before start';
  return 'ok';
}
