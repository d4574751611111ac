/** Dashboard entry: routes the hash to a view and ticks it every 2 s for live updates. */
import { byId, fill, h } from './dom.ts';
import { setTimeZone, timeZone } from './format.ts';
import { parseRoute, setLive, setStatus, setUpdated } from './nav.ts';
import { isNotFound, loading, notFoundPage } from './states.ts';
import { compareView } from './views/compare.ts';
import { experimentView } from './views/experiment.ts';
import { experimentsView } from './views/experiments.ts';
import { sessionView } from './views/session.ts';
import type { View } from './views/types.ts';

const POLL_MS = 2000;
const MAX_POLL_MS = 30_000;

let current: View | undefined;
let generation = 0;
let busy = false;

function viewFor(hash: string): View {
  const r = parseRoute(hash);
  const warmup = r.q.get('warmup') ?? '';
  switch (r.name) {
    case 'experiment':
      return experimentView(r.id, warmup);
    case 'compare':
      return compareView(r.ids, warmup);
    case 'session':
      return sessionView(r.id, r.session, warmup, r.q.get('type') ?? '');
    default:
      return experimentsView();
  }
}

async function route(): Promise<void> {
  const gen = ++generation;
  current?.destroy();
  const root = byId('view');
  root.replaceChildren();
  setLive(null);
  setStatus('Loading…');
  const view = viewFor(location.hash);
  current = view;
  busy = true;
  try {
    await loading(root, () => view.mount(root));
    if (gen === generation) setUpdated();
  } catch (err) {
    if (gen === generation) showError(root, err);
  } finally {
    if (gen === generation) busy = false;
  }
  document.body.dataset.ready = String(gen);
}

function showError(root: HTMLElement, err: unknown): void {
  if (isNotFound(err)) {
    // Not the view's empty skeleton: only what is missing and where to go.
    current?.destroy();
    current = undefined;
    setStatus('Not found', true);
    root.replaceChildren(notFoundPage(err));
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  setStatus('Error', true);
  root.append(h('p', { class: 'error', role: 'alert' }, `Could not load this view: ${message}`));
}

/**
 * One live update, then the next one POLL_MS later, or later still when the update was slow
 * (a big experiment): a dashboard left open must not keep the server busy.
 */
async function tick(): Promise<void> {
  const started = performance.now();
  if (!busy && !document.hidden && current) {
    const view = current;
    busy = true;
    try {
      await view.tick();
    } catch (err) {
      setStatus(`Live update failed: ${err instanceof Error ? err.message : String(err)}`, true);
    } finally {
      busy = false;
    }
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks ?? 0) + 1);
  }
  const took = performance.now() - started;
  setTimeout(() => void tick(), Math.min(MAX_POLL_MS, Math.max(POLL_MS, took * 4)));
}

/** The UTC / local time switch in the header; the choice is remembered, the view redrawn. */
function zoneSwitch(): void {
  const btn = byId<HTMLButtonElement>('zone');
  const show = () => {
    const utc = timeZone() === 'utc';
    btn.textContent = utc ? 'Times: UTC' : 'Times: local';
    btn.setAttribute('aria-pressed', String(utc));
    btn.title = utc ? 'Showing times in UTC; click for local time' : 'Showing local times; click for UTC';
  };
  btn.addEventListener('click', () => {
    setTimeZone(timeZone() === 'utc' ? 'local' : 'utc');
    show();
    void route();
  });
  show();
}

window.addEventListener('hashchange', () => void route());
zoneSwitch();
fill(byId('view'));
void route();
setTimeout(() => void tick(), POLL_MS);
