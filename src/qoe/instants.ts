/**
 * A session's signals one instant at a time (all signals of one timestamp), with exact copies
 * dropped: an event resent without an event_id gives the same signals again at the same
 * timestamp. Every reader of time-sorted signals (the QoE fold, the rendition history, the
 * streamed series) groups them here.
 */
import type { Signal } from './types.ts';

/** One instant's signals without exact copies; order kept. */
export function withoutCopies(group: Signal[]): Signal[] {
  if (group.length < 2 || distinctKinds(group)) return group;
  const seen = new Set<string>();
  return group.filter((s) => {
    const key = JSON.stringify(s);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** True when the signals are all of different kinds (so none is a copy of another). */
function distinctKinds(group: readonly Signal[]): boolean {
  for (let a = 0; a < group.length; a++) {
    for (let b = a + 1; b < group.length; b++) if (group[a]!.kind === group[b]!.kind) return false;
  }
  return true;
}

/** Takes time-sorted signals one by one and hands on each instant, without copies. */
export class Instants {
  #group: Signal[] = [];
  readonly #emit: (group: Signal[]) => void;

  constructor(emit: (group: Signal[]) => void) {
    this.#emit = emit;
  }

  push(sig: Signal): void {
    if (this.#group.length > 0 && this.#group[0]!.t !== sig.t) this.flush();
    this.#group.push(sig);
  }

  /** Hands on the instant being gathered (call once the signals end). */
  flush(): void {
    if (this.#group.length === 0) return;
    const group = withoutCopies(this.#group);
    this.#group = [];
    this.#emit(group);
  }
}
