/** Experiments list: counts, time span, headline QoE; search; pick two or more to compare. */
import { api, type ExperimentSummary, paths, type QoeReply } from '../api.ts';
import { apiLinks, type Column, SortTable } from '../components.ts';
import { h } from '../dom.ts';
import * as f from '../format.ts';
import { href, LIVE_WINDOW_S, setCrumbs, setLive, setUpdated } from '../nav.ts';
import { pool } from '../pool.ts';
import type { View } from './types.ts';

interface Row extends ExperimentSummary {
  qoe?: QoeReply['aggregate'];
}

/** Selection survives navigating away and back within the tab. */
const selected = new Set<string>();

const agg = (r: Row, metric: string, stat: 'mean' | 'median') => r.qoe?.[metric]?.[stat] ?? null;

export function experimentsView(): View {
  const rows = new Map<string, Row>();
  const signatures = new Map<string, string>();
  let search = '';
  const compareBtn = h('button', { type: 'button', id: 'compare', disabled: true }, 'Compare selected');
  const countEl = h('span', { class: 'muted', id: 'shown-count' });

  const columns: Column<Row>[] = [
    {
      key: 'select',
      label: '',
      title: 'Select two or more to compare',
      value: (r) => selected.has(r.experiment_id),
      show: (r) => {
        const box = h('input', {
          type: 'checkbox',
          class: 'pick',
          'aria-label': `select ${r.experiment_id}`,
          checked: selected.has(r.experiment_id),
        });
        box.addEventListener('change', () => {
          if (box.checked) selected.add(r.experiment_id);
          else selected.delete(r.experiment_id);
          updateCompare();
        });
        return box;
      },
    },
    {
      key: 'experiment_id',
      label: 'Experiment',
      value: (r) => r.experiment_id,
      show: (r) => h('a', { href: href.experiment(r.experiment_id) }, r.experiment_id),
    },
    { key: 'count', label: 'Events', numeric: true, value: (r) => r.count, show: (r) => f.count(r.count) },
    {
      key: 'sessions',
      label: 'Sessions',
      numeric: true,
      value: (r) => r.sessions,
      show: (r) => f.count(r.sessions),
    },
    {
      key: 'first_timestamp',
      // The zone once in the header keeps the column narrow.
      label: `First event (${f.zoneLabel(new Date())})`,
      value: (r) => r.first_timestamp,
      show: (r) => h('span', { class: 'nowrap' }, f.dateTime(r.first_timestamp, undefined, false)),
    },
    {
      key: 'span',
      label: 'Span',
      numeric: true,
      value: (r) => spanOf(r),
      show: (r) => {
        const live = isLive(r);
        return h(
          'span',
          {},
          f.span(spanOf(r)),
          live ? h('span', { class: 'badge live-badge' }, 'live') : null,
        );
      },
    },
    {
      key: 'startup_time_s',
      label: 'Startup (median)',
      numeric: true,
      value: (r) => agg(r, 'startup_time_s', 'median'),
      show: (r) => (r.qoe ? f.seconds(agg(r, 'startup_time_s', 'median')) : '…'),
    },
    {
      key: 'rebuffering_ratio',
      label: 'Rebuffering (mean)',
      numeric: true,
      value: (r) => agg(r, 'rebuffering_ratio', 'mean'),
      show: (r) => (r.qoe ? f.percent(agg(r, 'rebuffering_ratio', 'mean')) : '…'),
    },
    {
      key: 'avg_bitrate_bps',
      label: 'Avg bitrate (mean)',
      numeric: true,
      value: (r) => agg(r, 'avg_bitrate_bps', 'mean'),
      show: (r) => (r.qoe ? f.mbps(agg(r, 'avg_bitrate_bps', 'mean')) : '…'),
    },
    {
      key: 'latency_avg_s',
      label: 'Latency (median)',
      numeric: true,
      value: (r) => agg(r, 'latency_avg_s', 'median'),
      show: (r) => (r.qoe ? f.seconds(agg(r, 'latency_avg_s', 'median')) : '…'),
    },
  ];
  const table = new SortTable(columns, (r) => r.experiment_id, 'experiments');

  function updateCompare(): void {
    const ids = [...selected].filter((id) => rows.has(id));
    compareBtn.disabled = ids.length < 2;
    compareBtn.textContent = ids.length >= 2 ? `Compare ${ids.length} selected` : 'Compare selected';
  }
  compareBtn.addEventListener('click', () => {
    const ids = [...selected].filter((id) => rows.has(id));
    if (ids.length >= 2) location.hash = href.compare(ids);
  });

  function render(): void {
    const needle = search.toLowerCase();
    const shown = [...rows.values()].filter((r) => r.experiment_id.toLowerCase().includes(needle));
    table.update(shown);
    countEl.textContent = `${shown.length} of ${rows.size} experiments`;
    updateCompare();
  }

  async function load(): Promise<void> {
    const list = await api.experiments();
    const changed: string[] = [];
    const seen = new Set<string>();
    for (const e of list) {
      seen.add(e.experiment_id);
      const sig = `${e.count}:${e.last_timestamp}`;
      const old = rows.get(e.experiment_id);
      rows.set(e.experiment_id, { ...e, qoe: old?.qoe });
      if (signatures.get(e.experiment_id) !== sig) changed.push(e.experiment_id);
      signatures.set(e.experiment_id, sig);
    }
    for (const id of rows.keys()) if (!seen.has(id)) rows.delete(id);
    setLive(Math.max(0, ...list.map((e) => e.last_timestamp ?? 0)));
    render();
    // Headline QoE for experiments that changed, a few at a time, most recently active first
    // (each one reads all its events: with many large experiments the first screen fills first).
    changed.sort((a, b) => (rows.get(b)?.last_timestamp ?? 0) - (rows.get(a)?.last_timestamp ?? 0));
    await pool(changed, 3, async (id) => {
      const q = await api.qoe(id);
      const row = rows.get(id);
      if (row) row.qoe = q.aggregate;
    });
    if (changed.length) render();
    setUpdated();
  }

  return {
    async mount(root) {
      setCrumbs([['Experiments']]);
      const input = h('input', {
        type: 'search',
        id: 'search',
        placeholder: 'Filter experiments by id…',
        'aria-label': 'Filter experiments',
      });
      input.addEventListener('input', () => {
        search = input.value;
        render();
      });
      root.append(
        h('h1', {}, 'Experiments'),
        h('div', { class: 'toolbar' }, input, countEl, compareBtn),
        h('div', { class: 'scroll' }, table.el),
        h(
          'p',
          { class: 'muted small' },
          'Headline QoE over all sessions of each experiment, no warm-up trim. Tick two or more experiments to compare their distributions.',
        ),
        apiLinks([['Experiments', paths.experiments()]]),
      );
      await load();
    },
    tick: load,
    destroy() {},
  };
}

const spanOf = (r: ExperimentSummary) =>
  r.first_timestamp != null && r.last_timestamp != null ? r.last_timestamp - r.first_timestamp : null;

const isLive = (r: ExperimentSummary) =>
  r.last_timestamp != null && Date.now() / 1000 - r.last_timestamp < LIVE_WINDOW_S;
