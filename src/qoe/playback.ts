/**
 * The playback timeline of one session: when the first frame showed, which intervals were
 * played, which were stalls, and whether an error ended the session. Reads signals sorted by
 * time; knows no dialect. Thresholds and tie-breaks are documented in docs/qoe.md.
 */
import { PLAYHEAD_ADVANCE_S, type SignalFacts } from './facts.ts';
import type { PlaybackTimeline, Signal } from './types.ts';

export { FactScan, factsAgree, type SignalFacts } from './facts.ts';
export type { Interval, PlaybackTimeline } from './types.ts';

/** A video buffer at or below this (seconds) is empty: a stall when it happens while playing. */
export const EMPTY_BUFFER_S = 0.05;
/** A buffer this much above its lowest level since a stall began means media is flowing again. */
const BUFFER_RISE_S = 0.05;
/** A late stall duration (CMCD bsd) ending this close after a known stall is that same stall. */
const SAME_STALL_TOLERANCE_S = 1;
/**
 * A stall still open when the session's events stop, during which the player never reported
 * less than this much buffer (seconds), is a player stuck at the end of the content, not a
 * stall: a player that starves reports an empty buffer. hls.js does this at the end of a VOD
 * whose audio runs a few ms past its video (see docs/qoe.md).
 */
export const STUCK_AT_END_BUFFER_S = 1;
/**
 * In a session with no playing signal at all, a video or audio buffer that had media and then
 * drops by more than this (seconds) between two samples is being used up: it plays. Before
 * the first frame the level at the playhead only grows (appends); dash.js 4 showed the first
 * 17 ms of playback as a drop of 0.0169 s, while later drops hid behind appends for 0.5 s.
 */
export const CONSUMED_S = 0.01;

const LIFECYCLE: ReadonlySet<Signal['kind']> = new Set([
  'play_request',
  'init',
  'playing',
  'paused',
  'seeking',
  'stall_start',
  'stall_end',
  'end',
  'error',
  'startup_reported',
]);

interface OpenStall {
  start: number;
  fromBuffer: boolean;
  /** When the first weak sign of playback (buffer rise, advancing playhead) was seen. */
  weakEnd: number | null;
  minBuffer: number;
  refPlayhead: number | null;
  /** A video segment request was under way when the stall began, or began during it. */
  fetching: boolean;
  /** Buffer-only sessions: the video buffer grew again since the stall began. */
  refilled: boolean;
  /** Buffer-only sessions: the last time the audio buffer still drained (the playhead moved). */
  movingUntil: number | null;
}

type Phase = 'pre' | 'playing' | 'stalled' | 'paused' | 'seeking' | 'over';

/** A timeline built signal by signal (in time order), with no array of the session's signals. */
export interface TimelineBuilder {
  push(sig: Signal): void;
  /** The timeline once every signal is in; `sessionEnd` is the last event's timestamp. */
  end(sessionEnd: number): PlaybackTimeline;
  /** Whether `facts.hasPlaying` decided anything (a startup report before the first frame). */
  readonly consultedHasPlaying: boolean;
  /** The first frame so far (never moves once set). */
  readonly firstFrame: number | null;
}

/**
 * The timeline rules as a fold. `facts` answers the look-ahead questions (see SignalFacts):
 * exact when known, or a guess that the caller checks with factsAgree() afterwards.
 */
export function timelineBuilder(facts: SignalFacts): TimelineBuilder {
  const tl: PlaybackTimeline = {
    firstFrame: null,
    firstFrameInferred: false,
    firstFrameFromBuffer: false,
    firstFrameFromReport: false,
    playRequest: null,
    init: null,
    startupReportedS: null,
    played: [],
    stalls: [],
    errors: [],
    fatalError: false,
    hasLifecycle: false,
  };
  let consultedHasPlaying = false;
  let unflagged = 0;
  // Widened on purpose: the helpers below mutate these, which TypeScript cannot see.
  let phase = 'pre' as Phase;
  let playingSince = 0;
  let stall = null as OpenStall | null;
  let lastBuffer: { t: number; s: number } | null = null;
  let lastAudio: { t: number; s: number } | null = null;
  let lastPlayhead: { t: number; s: number; rate: number | null } | null = null;
  let lastStallEnd = Number.NEGATIVE_INFINITY;
  /** When the current pause or seek began. */
  let haltedSince = 0;
  /** Whether the session reports video segment requests, and whether one is under way. */
  let sawRequests = false;
  let requestOpen = false;

  const play = (t: number) => {
    if (tl.firstFrame === null) tl.firstFrame = t;
    phase = 'playing';
    playingSince = t;
  };
  const stopPlaying = (t: number) => {
    if (phase === 'playing' && t > playingSince) tl.played.push({ start: playingSince, end: t });
  };
  const openStall = (t: number, fromBuffer: boolean) => {
    stopPlaying(t);
    let ref: number | null = null;
    // Where the playhead should stand at the stall start, from the last sample while playing.
    if (lastPlayhead && lastPlayhead.t >= playingSince) {
      const r = lastPlayhead.rate !== null && lastPlayhead.rate > 0 ? lastPlayhead.rate : 1;
      ref = lastPlayhead.s + (t - lastPlayhead.t) * r;
    }
    const recentBuffer = lastBuffer && lastBuffer.t >= t - 1 ? lastBuffer.s : Number.POSITIVE_INFINITY;
    stall = {
      start: t,
      fromBuffer,
      weakEnd: null,
      minBuffer: recentBuffer,
      refPlayhead: ref,
      fetching: requestOpen,
      refilled: false,
      movingUntil: null,
    };
    phase = 'stalled';
  };
  /**
   * Buffer-only sessions: the playhead went on after the video buffer ran dry while the audio
   * buffer drained (Chromium plays audio over a frozen picture), so the stall began later; the
   * time until then was played. Returns the stall's real start (`end` or later: no stall).
   */
  const stallStart = (s: OpenStall, end: number): number => {
    if (s.movingUntil === null || s.movingUntil <= s.start) return s.start;
    const start = Math.min(s.movingUntil, end);
    tl.played.push({ start: s.start, end: start });
    return start;
  };
  /** Closes the open stall at its first weak sign of playback, else at `t`; returns the end. */
  const closeStall = (t: number): number => {
    const s = stall!;
    const end = s.weakEnd ?? t;
    const start = stallStart(s, end);
    if (start < end || s.movingUntil === null) tl.stalls.push({ start, end });
    lastStallEnd = end;
    stall = null;
    return end;
  };
  /**
   * A buffer (video, or audio) that held media and is being used up shows playback. Believed
   * only where the session says nothing else about playing (see docs/qoe.md, "First frame").
   * Used at rate 1 with nothing appended in between, it began (prev.s − now.s) before this
   * sample, and not before the previous one.
   */
  const startFromBuffer = (prev: { t: number; s: number } | null, now: { t: number; s: number }) => {
    if (!prev || prev.s <= EMPTY_BUFFER_S || prev.s - now.s <= CONSUMED_S) return;
    consultedHasPlaying = true;
    if (facts.hasPlaying) return;
    tl.firstFrameFromBuffer = true;
    play(Math.max(prev.t, now.t - (prev.s - now.s)));
  };
  /** Buffer-only sessions: the end of a content-end "stall" that is dropped still played. */
  const dropStall = (s: OpenStall, t: number) => {
    stallStart(s, t);
    stall = null;
  };
  /** Leaves the stalled phase for a non-playing one; time after a weak end counts as played. */
  const leaveStall = (t: number) => {
    const end = closeStall(t);
    if (end < t) tl.played.push({ start: end, end: t });
  };
  const finish = (t: number, dropBufferStall: boolean, lastEvent = false) => {
    if (phase === 'stalled' && stall) {
      // A buffer still dry when the content ended is the end of the content, not a stall.
      if (dropBufferStall && stall.fromBuffer && stall.weakEnd === null) stall = null;
      else if (
        lastEvent &&
        stall.weakEnd === null &&
        Number.isFinite(stall.minBuffer) &&
        stall.minBuffer >= STUCK_AT_END_BUFFER_S
      ) {
        // Stuck at the end with a full buffer until the events stop: the end of the content.
        stall = null;
      } else if (lastEvent && stall.fromBuffer && stall.weakEnd === null && sawRequests && !stall.fetching) {
        // The buffer ran dry and stayed dry while the player fetched nothing: it had downloaded
        // the whole content, which then played out. The end of the content, not a stall.
        dropStall(stall, t);
      } else leaveStall(t);
    }
    stopPlaying(t);
    phase = 'over';
  };

  const push = (sig: Signal) => {
    const t = sig.t;
    if (LIFECYCLE.has(sig.kind)) tl.hasLifecycle = true;
    switch (sig.kind) {
      case 'play_request':
        tl.playRequest ??= t;
        break;
      case 'init':
        tl.init ??= t;
        break;
      case 'startup_reported':
        tl.startupReportedS ??= sig.s;
        // A player that reports its startup time has started (CMCD msd without sta=p). But
        // dash.js sends its msd before the first frame (with a few ms in it): where the
        // session has a playing signal, that signal is the first frame and msd only a figure.
        if (phase === 'pre') consultedHasPlaying = true;
        if (phase === 'pre' && !facts.hasPlaying) {
          tl.firstFrameFromReport = true;
          play(t);
        }
        break;
      case 'playing':
        if (phase === 'stalled' && stall) {
          // An explicit sign of playback beats a weak one seen earlier.
          stall.weakEnd = null;
          closeStall(t);
        }
        if (phase !== 'playing' && phase !== 'over') play(t);
        break;
      case 'paused':
      case 'seeking':
        if (phase === 'pre' || phase === 'over') break;
        if (phase === 'stalled') leaveStall(t);
        else stopPlaying(t);
        if (phase !== sig.kind) haltedSince = t;
        phase = sig.kind;
        break;
      case 'stall_start':
        if (phase === 'playing') openStall(t, false);
        else if (phase === 'stalled' && stall?.weakEnd != null && !sig.level) {
          // The previous stall ended at its weak sign; this is a new one.
          const end = closeStall(t);
          phase = 'playing';
          playingSince = end;
          openStall(t, false);
        }
        break;
      case 'stall_end':
        if (
          phase === 'stalled' &&
          stall &&
          !sig.current &&
          sig.durationS !== null &&
          t - sig.durationS < stall.start - SAME_STALL_TOLERANCE_S
        ) {
          // A late report about an earlier stall (it began well before the open one): not its end.
          break;
        }
        if (phase === 'stalled') {
          // An explicit end beats a weak sign seen earlier.
          if (stall) stall.weakEnd = null;
          closeStall(t);
          play(t);
        } else if (phase === 'playing' && sig.durationS !== null) {
          // Only a duration (CMCD bsd without an `r` state): the stall was [t - d, t],
          // unless it is one we already know, reported late.
          const start = Math.max(t - sig.durationS, playingSince);
          if (lastStallEnd < t - sig.durationS - SAME_STALL_TOLERANCE_S) {
            stopPlaying(start);
            tl.stalls.push({ start, end: t });
            lastStallEnd = t;
            playingSince = t;
          }
        }
        break;
      case 'media_request':
        if (sig.open) {
          sawRequests = true;
          if (stall) stall.fetching = true;
        }
        requestOpen = sig.open;
        break;
      case 'buffer':
        if (!sig.forStalls) break;
        if (phase === 'pre') startFromBuffer(lastBuffer, sig);
        if (phase === 'playing' && sig.s <= EMPTY_BUFFER_S) openStall(t, true);
        else if (phase === 'stalled' && stall && tl.firstFrameFromBuffer && stall.fromBuffer) {
          // Buffer-only sessions: playback resumes when the refilled buffer is used up again
          // (a rise alone is not enough: the element may wait for more), at the same rate-1
          // estimate as the first frame.
          const drop = lastBuffer ? lastBuffer.s - sig.s : 0;
          if (stall.refilled && lastBuffer && drop > CONSUMED_S) {
            stall.weakEnd = Math.max(lastBuffer.t, t - drop);
            const end = closeStall(t);
            phase = 'playing';
            playingSince = end;
            if (sig.s <= EMPTY_BUFFER_S) openStall(t, true);
          } else if (sig.s > stall.minBuffer + BUFFER_RISE_S) stall.refilled = true;
          else stall.minBuffer = Math.min(stall.minBuffer, sig.s);
        } else if (phase === 'stalled' && stall) {
          if (stall.weakEnd === null && sig.s > stall.minBuffer + BUFFER_RISE_S) stall.weakEnd = t;
          else if (stall.weakEnd !== null && stall.fromBuffer && sig.s <= EMPTY_BUFFER_S) {
            // Dry again after refilling: the previous buffer stall ended, a new one begins.
            const end = closeStall(t);
            phase = 'playing';
            playingSince = end;
            openStall(t, true);
          } else stall.minBuffer = Math.min(stall.minBuffer, sig.s);
        }
        lastBuffer = { t, s: sig.s };
        break;
      case 'audio_buffer':
        // Audio used up before the first frame is playback too (appends of video segments can
        // hide the first use of the video buffer for a few hundred ms).
        if (phase === 'pre') startFromBuffer(lastAudio, sig);
        // Buffer-only sessions: audio still draining after the video ran dry means the playhead
        // still moves (until the video refills: then it is the resume, read from the video).
        else if (phase === 'stalled' && stall?.fromBuffer && tl.firstFrameFromBuffer && !stall.refilled) {
          if (lastAudio && lastAudio.s - sig.s > CONSUMED_S) stall.movingUntil = t;
        }
        lastAudio = { t, s: sig.s };
        break;
      case 'playhead':
        if (phase === 'stalled' && stall && stall.weakEnd === null) {
          if (stall.refPlayhead === null) stall.refPlayhead = sig.s;
          else if (sig.s > stall.refPlayhead + PLAYHEAD_ADVANCE_S) stall.weakEnd = t;
        } else if (
          lastPlayhead &&
          (phase === 'pre' || ((phase === 'paused' || phase === 'seeking') && lastPlayhead.t >= haltedSince))
        ) {
          // No (re)start signal, but two samples since the halt show the playhead moving at a
          // plausible pace (a seek jumps far further than the wall clock): it plays.
          const dt = t - lastPlayhead.t;
          const ds = sig.s - lastPlayhead.s;
          if (ds > PLAYHEAD_ADVANCE_S && ds <= 2 * dt + PLAYHEAD_ADVANCE_S) {
            if (phase === 'pre') tl.firstFrameInferred = true;
            play(t);
          }
        }
        lastPlayhead = { t, s: sig.s, rate: sig.rate };
        break;
      case 'error': {
        const fatal = sig.fatal ?? facts.unflaggedFatal[unflagged++] ?? false;
        tl.errors.push({ t, fatal, code: sig.code });
        if (fatal) {
          tl.fatalError = true;
          if (phase !== 'over') finish(t, false);
        }
        break;
      }
      case 'end':
        if (phase !== 'over') finish(t, sig.reason === 'ended');
        break;
      default:
        break;
    }
  };
  return {
    push,
    end(sessionEnd) {
      if (phase !== 'over') finish(Math.max(sessionEnd, playingSince), false, true);
      return tl;
    },
    get consultedHasPlaying() {
      return consultedHasPlaying;
    },
    get firstFrame() {
      return tl.firstFrame;
    },
  };
}
