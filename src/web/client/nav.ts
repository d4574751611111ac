/** Hash routes: #/ (experiments), #/experiment/<id>, #/compare/<id>,<id>, #/session/<id>/<session>. */
import { byId, fill, h } from './dom.ts';
import { clock } from './format.ts';

export type Route =
  | { name: 'experiments'; q: URLSearchParams }
  | { name: 'experiment'; id: string; q: URLSearchParams }
  | { name: 'compare'; ids: string[]; q: URLSearchParams }
  | { name: 'session'; id: string; session: string; q: URLSearchParams };

/** A hash segment decoded; a malformed %-escape is kept as typed rather than stopping the view. */
function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart = '', query = ''] = raw.split('?', 2);
  const q = new URLSearchParams(query);
  const parts = pathPart.split('/').filter(Boolean).map(decodeSegment);
  const [head, a, b] = parts;
  if (head === 'experiment' && a) return { name: 'experiment', id: a, q };
  if (head === 'compare' && a) return { name: 'compare', ids: a.split(',').filter(Boolean), q };
  if (head === 'session' && a && b) return { name: 'session', id: a, session: b, q };
  return { name: 'experiments', q };
}

const enc = encodeURIComponent;

function withQuery(p: string, q: Record<string, string | undefined> = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v) qs.set(k, v);
  const s = qs.toString();
  return s ? `${p}?${s}` : p;
}

export const href = {
  experiments: () => '#/',
  experiment: (id: string, warmup?: string) => withQuery(`#/experiment/${enc(id)}`, { warmup }),
  compare: (ids: string[], warmup?: string) => withQuery(`#/compare/${ids.map(enc).join(',')}`, { warmup }),
  session: (id: string, session: string, warmup?: string, type?: string) =>
    withQuery(`#/session/${enc(id)}/${enc(session)}`, { warmup, type }),
};

/** Replaces the current hash without adding a history entry or re-routing (for view state). */
export function replaceHash(hash: string): void {
  history.replaceState(null, '', hash);
}

export function setCrumbs(items: Array<[label: string, href?: string]>): void {
  fill(
    byId('crumbs'),
    items.flatMap(([label, to], i) => [
      i > 0 ? h('span', { class: 'sep' }, '/') : null,
      to ? h('a', { href: to }, label) : h('span', { class: 'here' }, label),
    ]),
  );
}

/** The "live" badge: shown while the experiment's newest event is recent. */
export function setLive(lastTimestamp: number | null | undefined): void {
  const el = byId('live');
  const recent = typeof lastTimestamp === 'number' && Date.now() / 1000 - lastTimestamp < LIVE_WINDOW_S;
  el.hidden = !recent;
  el.title = 'New events arrived in the last minute; this view updates every 2 s';
}

export const LIVE_WINDOW_S = 60;

export function setStatus(text: string, error = false): void {
  const el = byId('status');
  el.textContent = text;
  el.classList.toggle('error', error);
}

/** "Updated 14:03:07 UTC": when the view last loaded, 24-hour, in the zone every time uses. */
export function setUpdated(): void {
  setStatus(`Updated ${clock(Date.now() / 1000)}`);
}
