/** Page states besides "here is your data": not found, and loading over a view. */
import { ApiFailure } from './api.ts';
import { h } from './dom.ts';
import { href } from './nav.ts';

/** Thrown by a view whose experiment or session does not exist; main shows a not-found page. */
export class NotFound extends Error {
  constructor(
    message: string,
    readonly hint?: { label: string; to: string },
  ) {
    super(message);
    this.name = 'NotFound';
  }
}

/** True for a NotFound, or an API 404 (the experiment vanished between two requests). */
export function isNotFound(err: unknown): boolean {
  return err instanceof NotFound || (err instanceof ApiFailure && err.status === 404);
}

export function notFoundPage(err: unknown): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  const hint = err instanceof NotFound ? err.hint : undefined;
  return h(
    'section',
    { class: 'not-found', role: 'alert', id: 'not-found' },
    h('h1', {}, message),
    h(
      'p',
      { class: 'muted' },
      'It may have been deleted, or the link has a typo. Experiment and session ids are case-sensitive.',
    ),
    h(
      'p',
      {},
      hint ? h('a', { href: hint.to }, hint.label) : null,
      hint ? ' · ' : null,
      h('a', { href: href.experiments() }, 'All experiments'),
    ),
  );
}

/** Marks a view as loading (a bar over it, dimmed content) while `work` runs. */
export async function loading<T>(el: HTMLElement, work: () => Promise<T>): Promise<T> {
  el.classList.add('loading');
  el.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    el.classList.remove('loading');
    el.removeAttribute('aria-busy');
  }
}
