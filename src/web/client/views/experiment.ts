/** One experiment: per-session QoE table with aggregate rows, CDFs, exports, live refresh. */
import { qoeCsv } from '../../../query/qoe-table.ts';
import {
  api,
  type ExperimentSummary,
  paths,
  type QoeReply,
  type QoeTableRow,
  type SessionQoe,
  type SessionSummary,
} from '../api.ts';
import { saveFile } from '../charts.ts';
import { apiLinks, type Column, exportButtons, SortTable, warmupControl } from '../components.ts';
import { byId, fill, h } from '../dom.ts';
import * as f from '../format.ts';
import { ChangeProbe } from '../live.ts';
import { href, replaceHash, setCrumbs, setLive, setStatus, setUpdated } from '../nav.ts';
import { MAX_OVERLAY, Overlay } from '../overlay.ts';
import { aggregateRows, CdfGrid, hasFigures, METRICS } from '../qoe.ts';
import { loading, NotFound } from '../states.ts';
import type { View } from './types.ts';

type Row = QoeTableRow & { summary?: SessionSummary };

export function experimentView(id: string, initialWarmup: string): View {
  let warmup = initialWarmup;
  const probe = new ChangeProbe(id);
  const cdfs = new CdfGrid();
  const summaryEl = h('p', { class: 'summary', id: 'summary' });
  const linksEl = h('div');
  const compareEl = h('div', { class: 'compare-with' });
  const overlay = new Overlay(id);
  /** Sessions ticked for the overlay (ids as the API returns them). */
  const picked = new Set<string>();
  const overlayBtn = h('button', { type: 'button', id: 'overlay-btn', disabled: true }, 'Overlay selected');
  const pickInfo = h('span', { class: 'muted small', id: 'pick-info' });
  /** Runs of one scenario: the sessions that played the same video (manifest). */
  const runsSelect = h('select', {
    id: 'pick-runs',
    'aria-label': 'Pick the runs of one video',
    hidden: true,
  });
  runsSelect.addEventListener('change', () => {
    const video = runsSelect.value;
    runsSelect.value = '';
    if (!video || !lastReply) return;
    picked.clear();
    for (const r of lastReply.sessions)
      if (r.video_id === video && picked.size < MAX_OVERLAY) picked.add(r.session_id);
    table.update(table.rowsNow(), lastFooter);
    updatePick();
  });
  const clearBtn = h('button', { type: 'button', id: 'pick-clear' }, 'Clear');
  clearBtn.addEventListener('click', () => {
    picked.clear();
    if (lastReply) table.update(table.rowsNow(), lastFooter);
    updatePick();
  });
  let lastFooter: ReturnType<typeof aggregateRows> = [];
  function renderRuns(q: QoeReply): void {
    const byVideo = new Map<string, number>();
    for (const r of q.sessions) if (r.video_id) byVideo.set(r.video_id, (byVideo.get(r.video_id) ?? 0) + 1);
    const groups = [...byVideo].filter(([, n]) => n > 1);
    runsSelect.hidden = groups.length === 0;
    fill(
      runsSelect,
      h('option', { value: '' }, 'Pick the runs of one video…'),
      groups.map(([v, n]) => h('option', { value: v }, `${v} (${n} runs)`)),
    );
  }
  const updatePick = () => {
    overlayBtn.disabled = picked.size < 1;
    clearBtn.hidden = picked.size < 1;
    overlayBtn.textContent = picked.size ? `Overlay ${picked.size} selected` : 'Overlay selected';
    pickInfo.textContent =
      picked.size >= MAX_OVERLAY
        ? `at most ${MAX_OVERLAY} sessions (one colour each)`
        : 'tick sessions to overlay';
  };
  let lastReply: QoeReply | undefined;
  const tableCsv = h(
    'button',
    {
      type: 'button',
      id: 'qoe-csv',
      title: 'The per-session QoE table as CSV, in API units (s, bps, ratio)',
    },
    'Table as CSV',
  );
  tableCsv.addEventListener('click', () => {
    if (!lastReply) return;
    // The same table, columns and bytes as GET …/qoe?format=csv and `stats-server qoe`.
    saveFile(
      `${id}-qoe${warmup ? `-warmup-${warmup}` : ''}.csv`,
      new Blob([qoeCsv(lastReply.sessions)], { type: 'text/csv' }),
    );
  });
  overlayBtn.addEventListener('click', () => {
    const rows = new Map(lastReply?.sessions.map((r) => [r.session_id, r]));
    const sessions = [...picked]
      .map((sid) => rows.get(sid))
      .filter((r): r is QoeTableRow => r !== undefined)
      .sort((a, b) => a.run - b.run)
      .map((r) => ({
        id: r.session_id,
        start: r.started_unix_s,
        label: f.runLabel(r.run, r.started_unix_s),
        stalls: r.stalls.map((x): [number, number] => [x.start, x.end]),
      }));
    void loading(byId('view'), () => overlay.show(sessions))
      .then(() => overlay.el.scrollIntoView({ block: 'start' }))
      .catch((err) => setStatus(String(err), true));
  });

  const columns: Column<Row>[] = [
    {
      key: 'pick',
      label: '',
      title: 'Tick sessions to overlay their time series',
      value: (r) => picked.has(r.session_id),
      show: (r) => {
        const box = h('input', {
          type: 'checkbox',
          class: 'pick',
          'aria-label': `overlay ${r.session_id}`,
          checked: picked.has(r.session_id),
        });
        box.addEventListener('change', () => {
          if (box.checked && picked.size < MAX_OVERLAY) picked.add(r.session_id);
          else {
            picked.delete(r.session_id);
            box.checked = false;
          }
          updatePick();
        });
        return box;
      },
    },
    {
      // Runs by first event; the session id is the link's tooltip (and in the CSV).
      key: 'run',
      label: 'Run',
      title: 'Sessions numbered by first event (click to sort); hover for the session id',
      numeric: true,
      value: (r) => r.run,
      show: (r) =>
        h(
          'a',
          { class: 'run', href: href.session(id, r.session_id, warmup), title: `session ${r.session_id}` },
          `run ${r.run}`,
        ),
    },
    {
      key: 'started',
      // The zone once in the header keeps the column narrow.
      label: `Started (${f.zoneLabel(new Date())})`,
      title: 'First event of the session (click to sort)',
      value: (r) => r.started_unix_s,
      show: (r) => h('span', { class: 'nowrap' }, f.dateTime(r.started_unix_s, undefined, false)),
    },
    { key: 'protocol', label: 'Proto', value: (r) => r.protocol, show: (r) => r.protocol ?? '–' },
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
        show: (r) => {
          const why = r[m.key] === null ? r.why_null?.[m.key] : undefined;
          return why ? h('span', { class: 'muted', title: why }, m.format(null)) : m.format(r[m.key]);
        },
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

  function renderSummary(sessions: SessionSummary[], q: QoeReply): void {
    if (!sessions.length) {
      fill(summaryEl, h('span', { class: 'error' }, 'No events stored for this experiment (yet).'));
      return;
    }
    // From the per-session summaries: the experiments list scans every experiment, too slow to poll.
    const events = sessions.reduce((n, s) => n + s.count, 0);
    const first = Math.min(...sessions.map((s) => s.first_timestamp));
    const last = Math.max(...sessions.map((s) => s.last_timestamp));
    fill(
      summaryEl,
      stat('Events', f.count(events), 'events'),
      stat('Sessions', f.count(sessions.length), 'sessions'),
      stat('Span', f.span(last - first), 'span'),
      stat('First event', f.dateTime(first), 'first'),
      stat('Last event', f.dateTime(last), 'last'),
      // Sessions with figures: one that never started (or a ghost of a few events) has none.
      stat('Sessions with QoE', f.count(q.sessions.filter(hasFigures).length), 'qoe-sessions'),
    );
    setLive(last);
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

  async function load(): Promise<void> {
    const [q, sessions] = await Promise.all([api.qoe(id, warmup), api.sessions(id)]);
    lastReply = q;
    lastFooter = aggregateRows(q);
    renderRuns(q);
    const bySession = new Map(sessions.map((s) => [s.session_id, s]));
    table.update(
      [...q.sessions]
        .sort((a, b) => a.run - b.run)
        .map((s) => ({ ...s, summary: bySession.get(s.session_id) })),
      lastFooter,
    );
    cdfs.set([{ label: id, sessions: q.sessions }]);
    renderSummary(sessions, q);
    setUpdated();
  }

  return {
    async mount(root) {
      setCrumbs([['Experiments', href.experiments()], [id]]);
      const all = await api.experiments();
      if (!all.some((e) => e.experiment_id === id)) throw new NotFound(`No experiment "${id}"`);
      const control = warmupControl(warmup, (v) => {
        warmup = v;
        replaceHash(href.experiment(id, warmup));
        renderLinks();
        void loading(byId('view'), load).catch((err) => setStatus(String(err), true));
      });
      renderLinks();
      root.append(
        h('h1', {}, id),
        summaryEl,
        h('div', { class: 'toolbar' }, control, compareEl),
        h('h2', {}, 'Sessions'),
        h('div', { class: 'toolbar' }, overlayBtn, clearBtn, runsSelect, pickInfo, tableCsv),
        h('div', { class: 'scroll sessions' }, table.el),
        h(
          'p',
          { class: 'muted small' },
          'Aggregate rows are over sessions where the metric exists (n in the API reply). Click a column to sort.',
        ),
        overlay.el,
        h('h2', {}, 'Distributions across sessions'),
        cdfs.el,
        linksEl,
      );
      updatePick();
      renderCompare(all);
      // The probe's first look and the first load go together: neither waits for the other.
      await Promise.all([probe.start(all.find((e) => e.experiment_id === id)?.last_timestamp), load()]);
    },
    async tick() {
      if (await probe.changed()) await load();
    },
    destroy: () => {
      cdfs.destroy();
      overlay.clear();
    },
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
