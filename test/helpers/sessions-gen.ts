/**
 * Random playback sessions in every dialect the QoE reads (testbed dash.js events keyed by
 * video_id, reporter events with a session_id, CMCD reports), for property tests of the
 * session summaries. Deterministic for a given fast-check seed.
 */
import fc from 'fast-check';

/** An event as generated: everything but the experiment id and stored_at. */
export interface GenEvent {
  timestamp: number;
  event_type: string;
  protocol: string;
  video_id: string;
  payload: Record<string, unknown>;
  session_id?: string;
  event_id?: string;
  [extra: string]: unknown;
}

export type Dialect = 'testbed' | 'reporter' | 'cmcd';

export interface GenSession {
  dialect: Dialect;
  /** Seconds after the experiment's start. */
  start: number;
  events: GenEvent[];
}

/** One session: start-up, a few samples, maybe a stall and a switch, maybe an end. */
export function sessionArb(dialect: Dialect, id: string, video: string): fc.Arbitrary<GenSession> {
  return fc
    .record({
      start: fc.integer({ min: 0, max: 3000 }),
      samples: fc.integer({ min: 1, max: 8 }),
      stallAt: fc.option(fc.integer({ min: 1, max: 8 }), { nil: null }),
      switchAt: fc.option(fc.integer({ min: 1, max: 8 }), { nil: null }),
      ended: fc.boolean(),
      buffers: fc.array(fc.double({ min: 0.2, max: 20, noNaN: true }), { minLength: 8, maxLength: 8 }),
    })
    .map(({ start, samples, stallAt, switchAt, ended, buffers }) => {
      const T = 1_750_000_000 + start;
      const evs: GenSession['events'] = [];
      let n = 0;
      const push = (dt: number, event_type: string, payload: Record<string, unknown>) => {
        n++;
        if (dialect === 'testbed')
          evs.push({ timestamp: T + dt, event_type, protocol: 'dash', video_id: video, payload });
        else if (dialect === 'reporter')
          evs.push({
            timestamp: T + dt,
            event_type,
            protocol: 'hls',
            video_id: video,
            payload,
            session_id: id,
            event_id: `${id}-${n}`,
          });
        else
          evs.push({
            timestamp: T + dt,
            event_type,
            protocol: n < 3 ? 'cmcd' : 'dash',
            video_id: video,
            payload,
            session_id: id,
            event_id: `cmcd:${id}:${n}`,
          });
      };
      if (dialect === 'cmcd') {
        push(0, 'cmcd_ps', { e: 'ps', sta: 's', sid: id });
        push(0.8, 'cmcd_ps', { e: 'ps', sta: 'p', msd: 800, sid: id });
        for (let i = 1; i <= samples; i++) {
          const b = stallAt === i ? 0 : Math.round((buffers[i - 1] as number) * 1000);
          push(i * 2, 'cmcd_t', {
            e: 't',
            bl: b,
            br: switchAt !== null && i >= switchAt ? 3000 : 1000,
            sid: id,
          });
          if (stallAt === i) {
            push(i * 2 + 0.1, 'cmcd_ps', { e: 'ps', sta: 'r', sid: id });
            push(i * 2 + 1.1, 'cmcd_ps', { e: 'ps', sta: 'p', sid: id });
          }
        }
        if (ended) push(samples * 2 + 1, 'cmcd_ps', { e: 'ps', sta: 'e', sid: id });
        return { dialect, start, events: evs };
      }
      push(0, 'stream_initialized', { mpd_url: video });
      if (dialect === 'reporter') push(0.1, 'play_requested', { autoplay: true });
      push(0.5, 'quality_change_rendered', { new_quality: 0, bitrate: 1_000_000 });
      push(1, 'playback_started', dialect === 'reporter' ? { startup_time_ms: 900 } : { mpd_url: video });
      for (let i = 1; i <= samples; i++) {
        const b = buffers[i - 1] as number;
        if (switchAt === i)
          push(i * 2 - 0.5, 'quality_change_rendered', {
            old_quality: 0,
            new_quality: 2,
            bitrate: 3_000_000,
          });
        push(i * 2, 'buffer_level_updated', { buffer_level: stallAt === i ? 0 : b, media_type: 'video' });
        if (stallAt === i) {
          if (dialect === 'reporter')
            push(i * 2 + 0.01, 'rebuffer_event', { rebuffer_count: 1, buffer_level: 0 });
          push(i * 2 + 1.5, 'buffer_level_updated', { buffer_level: 2, media_type: 'video' });
          if (dialect === 'reporter') push(i * 2 + 1.5, 'rebuffer_ended', { duration_ms: 1490 });
        }
        push(i * 2 + 0.2, 'periodic_metrics', {
          current_time: i * 2 - 1,
          playback_rate: 1,
          dropped_frames: i,
          buffer_level: b,
          current_bitrate: switchAt !== null && i >= switchAt ? 3_000_000 : 1_000_000,
        });
      }
      if (ended) push(samples * 2 + 1, 'playback_ended', { total_rebuffers: stallAt === null ? 0 : 1 });
      return { dialect, start, events: evs };
    });
}

/**
 * An experiment: a few explicit sessions and several testbed runs of one video (re-runs of a
 * scenario, which share a video_id and carry no session id).
 */
export const experimentArb: fc.Arbitrary<GenSession[]> = fc
  .tuple(
    fc.array(fc.constantFrom<Dialect>('reporter', 'cmcd'), { minLength: 0, maxLength: 3 }),
    fc.integer({ min: 1, max: 3 }),
  )
  .chain(([dialects, runs]) =>
    fc.tuple(
      ...dialects.map((d, i) => sessionArb(d, `s${i}`, `http://media/v${i}.mpd`)),
      ...Array.from({ length: runs }, () => sessionArb('testbed', '', 'http://media/tb.mpd')),
    ),
  )
  // testbed runs of one video must not overlap in time: give each its own slot
  .map((sessions) => {
    let slot = 0;
    return sessions.map((s) => {
      if (s.dialect !== 'testbed') return s;
      const shift = 5000 * ++slot;
      return {
        ...s,
        start: s.start + shift,
        events: s.events.map((e) => ({ ...e, timestamp: e.timestamp + shift })),
      };
    });
  });
