/** Two or more experiments side by side: aggregate QoE per experiment and CDFs on shared axes. */
import { api, paths, type QoeReply } from '../api.ts';
import { PALETTE, saveFile } from '../charts.ts';
import { apiLinks, warmupControl } from '../components.ts';
import { byId, fill, h } from '../dom.ts';
import { toCsv } from '../figure.ts';
import * as f from '../format.ts';
import { ChangeProbe } from '../live.ts';
import { href, replaceHash, setCrumbs, setLive, setStatus, setUpdated } from '../nav.ts';
import { CdfGrid, METRICS, outcomeShares } from '../qoe.ts';
import { loading, NotFound } from '../states.ts';
import type { View } from './types.ts';

export function compareView(ids: string[], initialWarmup: string): View {
  let warmup = initialWarmup;
  const probes = ids.map((id) => new ChangeProbe(id));
  const cdfs = new CdfGrid();
  const tableEl = h('div', { class: 'scroll fit compare-table' });
  /** On a phone: one card per experiment instead of a table as wide as the experiments. */
  const cardsEl = h('div', { class: 'compare-cards', id: 'compare-cards' });
  const linksEl = h('div');

  function renderTable(replies: QoeReply[]): void {
    const head = h(
      'tr',
      {},
      h('th', {}, 'Metric'),
      replies.map((q, i) =>
        h(
          'th',
          { class: 'num cmp-col', 'data-experiment': q.experiment_id },
          h('span', { class: 'swatch', 'data-color': i }, ''),
          h('a', { href: href.experiment(q.experiment_id, warmup) }, q.experiment_id),
        ),
      ),
    );
    const sessionsRow = h(
      'tr',
      {},
      h('th', { scope: 'row' }, 'Sessions'),
      replies.map((q) =>
        h(
          'td',
          { class: 'num', 'data-key': 'sessions', 'data-value': q.sessions.length },
          f.count(q.sessions.length),
        ),
      ),
    );
    const rows = METRICS.map((m) =>
      h(
        'tr',
        { 'data-metric': m.key },
        h('th', { scope: 'row' }, m.label),
        replies.map((q) => {
          const a = q.aggregate[m.key];
          return h(
            'td',
            {
              class: 'num cmp-col',
              'data-experiment': q.experiment_id,
              'data-key': m.key,
              'data-value': a?.median ?? '',
              title: `n = ${a?.n ?? 0}`,
            },
            h('span', { class: 'median' }, m.format(a?.median)),
            h('span', { class: 'sub' }, `mean ${m.format(a?.mean)} · p95 ${m.format(a?.p95)}`),
          );
        }),
      ),
    );
    const outcomeRow = h(
      'tr',
      { 'data-metric': 'outcome' },
      h('th', { scope: 'row' }, 'Outcome'),
      replies.map((q) =>
        h('td', { class: 'num cmp-col small', 'data-experiment': q.experiment_id }, outcomeShares(q)),
      ),
    );
    fill(
      tableEl,
      h(
        'table',
        { class: 'data compare' },
        h('thead', {}, head),
        h('tbody', {}, sessionsRow, rows, outcomeRow),
      ),
    );
    fill(
      cardsEl,
      replies.map((q, i) =>
        h(
          'section',
          { class: 'card', 'data-experiment': q.experiment_id },
          h(
            'h3',
            {},
            h('span', { class: 'swatch', 'data-color': i }, ''),
            h('a', { href: href.experiment(q.experiment_id, warmup) }, q.experiment_id),
          ),
          h(
            'dl',
            {},
            h('dt', {}, 'Sessions'),
            h('dd', {}, f.count(q.sessions.length)),
            METRICS.flatMap((m) => [
              h('dt', {}, m.label),
              h('dd', { 'data-key': m.key }, m.format(q.aggregate[m.key]?.median)),
            ]),
          ),
        ),
      ),
    );
    // Colour the swatches like the chart lines (no inline style attributes: the page's CSP forbids them).
    [
      ...Array.from(tableEl.querySelectorAll<HTMLElement>('.swatch')),
      ...Array.from(cardsEl.querySelectorAll<HTMLElement>('.swatch')),
    ].forEach((el) => {
      el.style.background = PALETTE[Number(el.dataset.color) % PALETTE.length] ?? '#000';
    });
  }

  let lastReplies: QoeReply[] = [];
  const tableCsv = h(
    'button',
    { type: 'button', id: 'compare-csv', title: 'The aggregate QoE of each experiment as CSV, in API units' },
    'Table as CSV',
  );
  tableCsv.addEventListener('click', () => {
    const rows: unknown[][] = [['experiment_id', 'metric', 'n', 'mean', 'median', 'p95']];
    for (const q of lastReplies)
      for (const m of METRICS) {
        const a = q.aggregate[m.key];
        rows.push([q.experiment_id, m.key, a?.n ?? 0, a?.mean, a?.median, a?.p95]);
      }
    saveFile(`compare-${ids.join('-vs-')}.csv`, new Blob([toCsv(rows)], { type: 'text/csv' }));
  });

  function renderLinks(): void {
    fill(linksEl, apiLinks(ids.map((id) => [`QoE of ${id}`, paths.qoe(id, warmup)] as [string, string])));
  }

  async function load(): Promise<void> {
    const replies = await Promise.all(ids.map((id) => api.qoe(id, warmup)));
    lastReplies = replies;
    renderTable(replies);
    cdfs.set(replies.map((q) => ({ label: q.experiment_id, sessions: q.sessions })));
    setLive(Math.max(0, ...probes.map((p) => p.newest ?? 0)));
    setUpdated();
  }

  return {
    async mount(root) {
      setCrumbs([['Experiments', href.experiments()], [`Compare ${ids.length}`]]);
      const all = await api.experiments();
      const missing = ids.filter((x) => !all.some((e) => e.experiment_id === x));
      if (missing.length) throw new NotFound(`No experiment ${missing.map((x) => `"${x}"`).join(', ')}`);
      const control = warmupControl(warmup, (v) => {
        warmup = v;
        replaceHash(href.compare(ids, warmup));
        renderLinks();
        void loading(byId('view'), load).catch((err) => setStatus(String(err), true));
      });
      renderLinks();
      root.append(
        h('h1', {}, `Compare: ${ids.join(' vs ')}`),
        h('div', { class: 'toolbar' }, control, tableCsv),
        h('h2', {}, 'QoE per experiment'),
        h('p', { class: 'muted small' }, 'Large: median over sessions. Small: mean and 95th percentile.'),
        tableEl,
        cardsEl,
        h('h2', {}, 'Distributions across experiments (same axes)'),
        cdfs.el,
        linksEl,
      );
      await Promise.all([
        ...probes.map((p, i) => p.start(all.find((e) => e.experiment_id === ids[i])?.last_timestamp)),
        load(),
      ]);
    },
    async tick() {
      // Every probe runs (each notes its own state), then one reload if any changed.
      const changed = await Promise.all(probes.map((p) => p.changed()));
      if (changed.some(Boolean)) await load();
    },
    destroy: () => cdfs.destroy(),
  };
}
