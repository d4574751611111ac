/**
 * What a session's timeline needs to know about signals still to come (look-ahead facts), found
 * in one pass over the session; the streaming fold guesses them and checks the guess here.
 */
import type { Signal } from './types.ts';

/** A playhead this far past where it stood when a stall began means playback resumed. */
export const PLAYHEAD_ADVANCE_S = 0.25;

/**
 * What the timeline needs to know about signals still to come, found in one pass over the
 * session: whether it has any playing signal (a player-reported startup starts playback only
 * in sessions that have none), and whether each error the sender did not flag as fatal or not
 * was followed by playback (a playing signal, or a playhead past where it had been). Unflagged
 * errors are numbered in signal order.
 */
export interface SignalFacts {
  hasPlaying: boolean;
  /** Fatal or not, per unflagged error in signal order (a missing entry: not fatal). */
  unflaggedFatal: readonly boolean[];
}

/** Finds the SignalFacts of time-sorted signals fed one by one. */
export class FactScan implements SignalFacts {
  hasPlaying = false;
  readonly unflaggedFatal: boolean[] = [];
  #maxPlayhead = Number.NEGATIVE_INFINITY;
  /** Unflagged errors not yet followed by playback: ordinal and the furthest playhead before. */
  #pending: Array<{ ord: number; before: number }> = [];

  add(s: Signal): void {
    if (s.kind === 'playing') {
      this.hasPlaying = true;
      for (const p of this.#pending) this.unflaggedFatal[p.ord] = false;
      this.#pending = [];
    } else if (s.kind === 'playhead') {
      if (this.#pending.length > 0) {
        this.#pending = this.#pending.filter((p) => {
          const resumed = Number.isFinite(p.before) && s.s > p.before + PLAYHEAD_ADVANCE_S;
          if (resumed) this.unflaggedFatal[p.ord] = false;
          return !resumed;
        });
      }
      this.#maxPlayhead = Math.max(this.#maxPlayhead, s.s);
    } else if (s.kind === 'error' && s.fatal === null) {
      // Fatal until playback follows it.
      this.#pending.push({ ord: this.unflaggedFatal.length, before: this.#maxPlayhead });
      this.unflaggedFatal.push(true);
    }
  }
}

/** Whether two sets of facts agree on everything a timeline consulted (see TimelineBuilder). */
export function factsAgree(used: SignalFacts & { consultedHasPlaying: boolean }, real: SignalFacts): boolean {
  if (used.consultedHasPlaying && used.hasPlaying !== real.hasPlaying) return false;
  const n = real.unflaggedFatal.length;
  for (let i = 0; i < n; i++) if ((used.unflaggedFatal[i] ?? false) !== real.unflaggedFatal[i]) return false;
  return true;
}
