/** Pieces shared by the views: sortable tables, export buttons, copyable API links, warm-up input. */
import { absolute, paths, withReadToken } from './api.ts';
import { fill, h } from './dom.ts';

// ---- Sortable table ----

export interface Column<T> {
  key: string;
  label: string;
  /** What sorting and data-value use. */
  value: (row: T) => number | string | boolean | null | undefined;
  /** What the cell shows. */
  show: (row: T) => string | Node;
  numeric?: boolean;
  title?: string;
}

export interface FooterRow {
  label: string;
  /** By column key: the value and its display. Missing keys show blank. */
  cells: Record<string, { value: number | null | undefined; text: string } | undefined>;
}

/** A table whose header sorts it; keeps its sort across updates (live refresh). */
export class SortTable<T> {
  readonly el: HTMLTableElement;
  private readonly tbody = h('tbody');
  private readonly tfoot = h('tfoot');
  private rows: T[] = [];
  private sortKey: string | undefined;
  private sortDir: 1 | -1 = 1;

  constructor(
    private readonly columns: Column<T>[],
    private readonly rowKey: (row: T) => string,
    className = '',
  ) {
    const head = h(
      'tr',
      {},
      columns.map((c) =>
        h(
          'th',
          {
            class: c.numeric ? 'num sortable' : 'sortable',
            'data-key': c.key,
            title: c.title ?? 'Click to sort',
            onclick: () => this.sortBy(c.key),
          },
          c.label,
        ),
      ),
    );
    this.el = h('table', { class: `data ${className}` }, h('thead', {}, head), this.tbody, this.tfoot);
  }

  sortBy(key: string): void {
    if (this.sortKey === key) this.sortDir = this.sortDir === 1 ? -1 : 1;
    else {
      this.sortKey = key;
      this.sortDir = 1;
    }
    for (const th of Array.from(this.el.querySelectorAll('th'))) {
      th.removeAttribute('aria-sort');
      if (th.dataset.key === key)
        th.setAttribute('aria-sort', this.sortDir === 1 ? 'ascending' : 'descending');
    }
    this.render();
  }

  /** The rows last given to update (to redraw them after outside state changed). */
  rowsNow(): T[] {
    return this.rows;
  }

  update(rows: T[], footer: FooterRow[] = []): void {
    this.rows = rows;
    this.render();
    fill(
      this.tfoot,
      footer.map((f) =>
        h(
          'tr',
          { class: 'aggregate', 'data-stat': f.label },
          this.columns.map((c, i) => {
            const cell = f.cells[c.key];
            if (i === 0) return h('th', { scope: 'row' }, f.label);
            return h(
              'td',
              { class: c.numeric ? 'num' : '', 'data-key': c.key, 'data-value': cell?.value ?? '' },
              cell?.text ?? '',
            );
          }),
        ),
      ),
    );
  }

  private render(): void {
    const col = this.columns.find((c) => c.key === this.sortKey);
    const rows = [...this.rows];
    if (col) {
      rows.sort((a, b) => {
        const va = col.value(a);
        const vb = col.value(b);
        // Missing values sort last whatever the direction.
        if (va == null || vb == null) return va == null ? (vb == null ? 0 : 1) : -1;
        return (va < vb ? -1 : va > vb ? 1 : 0) * this.sortDir;
      });
    }
    fill(
      this.tbody,
      rows.map((r) =>
        h(
          'tr',
          { 'data-row': this.rowKey(r) },
          this.columns.map((c) => {
            const v = c.value(r);
            return h(
              'td',
              {
                class: c.numeric ? 'num' : '',
                'data-key': c.key,
                'data-value': v === null || v === undefined ? '' : String(v),
              },
              c.show(r),
            );
          }),
        ),
      ),
    );
  }
}

// ---- Exports and API links ----

/** CSV / NDJSON download links for an experiment's events (optionally one session, one type). */
export function exportButtons(
  experimentId: string,
  q: { session_id?: string; event_type?: string } = {},
): HTMLElement {
  const link = (format: string, label: string) =>
    h(
      'a',
      {
        class: 'button',
        href: withReadToken(paths.metrics(experimentId, { ...q, format })),
        download: `${experimentId}${q.session_id ? `-${q.session_id}` : ''}.${format}`,
        'data-format': format,
      },
      label,
    );
  return h(
    'div',
    { class: 'exports' },
    h('span', { class: 'muted' }, 'Export events:'),
    link('csv', 'CSV'),
    link('ndjson', 'NDJSON'),
    h(
      'span',
      {
        class: 'muted small',
        title:
          'Parquet: node dist/cli.js export <experiment_id> --format parquet --out FILE (docs/operations.md)',
      },
      'Parquet: CLI',
    ),
  );
}

/** A list of the API calls behind a view, each copyable as an absolute URL. */
export function apiLinks(links: Array<[label: string, path: string]>): HTMLElement {
  return h(
    'details',
    { class: 'api-links' },
    h('summary', {}, 'API links for this view'),
    h(
      'ul',
      {},
      links.map(([label, p]) => {
        const url = absolute(p);
        const input = h('input', { type: 'text', readonly: true, value: url, 'aria-label': label });
        const btn = h('button', { type: 'button', class: 'copy' }, 'Copy');
        btn.addEventListener('click', () => void copy(url, input, btn));
        return h(
          'li',
          {},
          h('span', { class: 'label' }, label),
          input,
          btn,
          h('a', { href: p, target: '_blank', rel: 'noopener' }, 'open'),
        );
      }),
    ),
  );
}

async function copy(text: string, input: HTMLInputElement, btn: HTMLButtonElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Plain http on a LAN address has no clipboard API: select the text for Ctrl+C instead.
    input.focus();
    input.select();
    btn.textContent = 'Press Ctrl+C';
    return;
  }
  btn.textContent = 'Copied';
  setTimeout(() => {
    btn.textContent = 'Copy';
  }, 1500);
}

// ---- Warm-up trim ----

/** Accepts seconds (e.g. "30") or a fraction below 1 (e.g. "0.2" = first 20 %), as the QoE endpoint does. */
export function warmupControl(value: string, onChange: (v: string) => void): HTMLElement {
  const input = h('input', {
    type: 'text',
    inputmode: 'decimal',
    id: 'warmup',
    value,
    placeholder: '0',
    size: 6,
    title: 'Seconds (e.g. 30) or a fraction below 1 (0.2 = first 20 % of each session)',
  });
  const err = h('span', { class: 'error small', hidden: true });
  const apply = () => {
    const v = input.value.trim();
    const ok = v === '' || (/^\d+(\.\d+)?$/.test(v) && Number.isFinite(Number(v)));
    err.hidden = ok;
    err.textContent = ok ? '' : 'seconds, or a fraction < 1';
    if (ok) onChange(v === '0' ? '' : v);
  };
  input.addEventListener('change', apply);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') apply();
  });
  return h(
    'label',
    { class: 'warmup' },
    'Warm-up trim ',
    input,
    h('span', { class: 'muted small' }, ' s or fraction'),
    err,
  );
}
