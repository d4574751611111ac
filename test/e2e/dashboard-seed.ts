/**
 * Realistic playback sessions for the dashboard tests, in the two dialects of docs/events.md:
 * the reporter SDK (session_id, play_requested, rebuffer_ended, live latency, throughput) and
 * the testbed's dash.js client (no session_id: sessions keyed by video_id). Each session has
 * rendition switches and stalls at known times, so tests can look for them in the charts.
 */
import type { EventInput } from '../helpers/events.ts';

export interface SessionPlan {
  experiment: string;
  /** Reporter sessions have a session_id; testbed sessions are keyed by their video_id. */
  dialect: 'reporter' | 'testbed';
  session: string;
  start: number;
  duration: number;
  startup: number;
  /** Rendition index (into LADDER) from each time (seconds after start) onwards. */
  qualities: Array<[at: number, index: number]>;
  stalls: Array<[at: number, seconds: number]>;
  latency: number;
  seed: number;
  /** Seconds between buffer_level_updated events (default 1). */
  bufferEvery?: number;
  /** Playback rate while playing (live catch-up); default 1. */
  rateAt?: (t: number) => number;
}

export const LADDER = [800_000, 1_600_000, 3_200_000, 6_000_000];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Every event of one session, in timestamp order. */
export function sessionEvents(p: SessionPlan): EventInput[] {
  const rand = rng(p.seed);
  const reporter = p.dialect === 'reporter';
  const video = reporter
    ? 'http://media.local/live/manifest.mpd'
    : `http://media.local/live/manifest.mpd?run=${p.session}`;
  const out: EventInput[] = [];
  const ev = (at: number, event_type: string, payload: Record<string, unknown>) => {
    const e: EventInput = {
      experiment_id: p.experiment,
      timestamp: Number((p.start + at).toFixed(3)),
      event_type,
      protocol: 'dash',
      video_id: video,
      payload,
    };
    if (reporter) {
      e.session_id = p.session;
      e.event_id = `${p.session}-${out.length}`;
    }
    out.push(e);
  };
  const qualityAt = (t: number) => {
    let q = p.qualities[0]?.[1] ?? 0;
    for (const [at, idx] of p.qualities) if (t >= at) q = idx;
    return q;
  };
  const stalledAt = (t: number) => p.stalls.some(([at, d]) => t >= at && t < at + d);

  ev(
    0,
    'stream_initialized',
    reporter ? { manifest_url: video, player: 'dash.js', player_version: '5.2.1' } : { mpd_url: video },
  );
  if (reporter) ev(0.01, 'play_requested', { autoplay: true });
  ev(
    p.startup,
    'playback_started',
    reporter ? { mpd_url: video, startup_time_ms: Math.round(p.startup * 1000) } : { mpd_url: video },
  );
  ev(p.startup + 0.001, 'playback_state_changed', { old_state: 'paused', new_state: 'playing' });

  // Segments every 2 s; throughput wobbles around a level that follows the chosen rendition.
  for (let t = 0.2, n = 0; t < p.duration; t += 2, n++) {
    const q = qualityAt(t);
    const bitrate = LADDER[q] ?? LADDER[0]!;
    const throughput = Math.round(bitrate * (1.4 + rand() * 0.8) * (stalledAt(t) ? 0.3 : 1));
    const bytes = Math.round((bitrate * 2) / 8);
    const ms = Math.round((bytes * 8 * 1000) / throughput);
    ev(t, 'fragment_loading_started', {
      type: 'MediaSegment',
      url: `${video}/v${q}/seg${n}.m4s`,
      media_type: 'video',
    });
    ev(t + ms / 1000, 'fragment_loading_completed', {
      type: 'MediaSegment',
      url: `${video}/v${q}/seg${n}.m4s`,
      quality: q,
      media_type: 'video',
      start_time: n * 2,
      duration: 2,
      ...(reporter
        ? {
            bitrate,
            bytes,
            download_time_ms: ms,
            ttfb_ms: 20 + Math.round(rand() * 30),
            throughput_bps: throughput,
          }
        : {}),
    });
  }
  // Rendition switches (the first entry is the initial choice, not a switch).
  p.qualities.slice(1).forEach(([at, idx], i) => {
    const old = p.qualities[i]?.[1] ?? 0;
    ev(at, 'quality_change_rendered', {
      old_quality: old,
      new_quality: idx,
      bitrate: LADDER[idx],
      ...(reporter
        ? { media_type: 'video', old_bitrate: LADDER[old], width: 640 * (idx + 1), height: 360 * (idx + 1) }
        : {}),
    });
  });
  // Stalls: buffer ran dry, playback waits, then resumes.
  p.stalls.forEach(([at, d], i) => {
    ev(at, 'playback_state_changed', { old_state: 'playing', new_state: 'waiting' });
    ev(at + 0.001, 'rebuffer_event', {
      rebuffer_count: i + 1,
      buffer_level: 0,
      current_bitrate: LADDER[qualityAt(at)],
    });
    if (reporter) ev(at + d, 'rebuffer_ended', { duration_ms: Math.round(d * 1000) });
    ev(at + d + 0.001, 'playback_state_changed', { old_state: 'waiting', new_state: 'playing' });
  });
  // Buffer level every second: fills to ~10 s, runs dry before a stall, refills after.
  const levels: Array<[number, number]> = [];
  let buffer = 0;
  for (let t = 0.5; t < p.duration; t += p.bufferEvery ?? 1) {
    const nextStall = p.stalls.find(([at]) => at > t && at - t < 4);
    if (stalledAt(t)) buffer = 0;
    else if (nextStall) buffer = Math.max(0, (nextStall[0] - t) * 0.9);
    else buffer = Math.min(10 + rand(), buffer + 2.2);
    levels.push([t, Number(buffer.toFixed(2))]);
    ev(t, 'buffer_level_updated', { buffer_level: Number(buffer.toFixed(2)), media_type: 'video' });
  }
  const bufferAt = (t: number) => levels.filter(([at]) => at <= t).at(-1)?.[1] ?? 0;
  for (let t = 5; t < p.duration; t += 5) {
    ev(t, 'periodic_metrics', {
      current_time: Math.max(0, t - p.startup),
      duration: 0,
      playback_rate: stalledAt(t) ? 0 : (p.rateAt?.(t) ?? 1),
      dropped_frames: Math.floor((t * (1 + (p.seed % 4))) / 20),
      buffer_level: bufferAt(t),
      current_bitrate: LADDER[qualityAt(t)],
      ...(reporter
        ? {
            live_latency: Number((p.latency + rand() * 0.8 + (stalledAt(t) ? 1.5 : 0)).toFixed(3)),
            throughput_bps: Math.round((LADDER[qualityAt(t)] ?? 0) * (1.5 + rand())),
          }
        : {}),
    });
  }
  ev(p.duration, 'playback_ended', { total_rebuffers: p.stalls.length });
  if (reporter) ev(p.duration + 0.05, 'session_ended', { reason: 'ended' });
  return out.sort((a, b) => a.timestamp - b.timestamp);
}

/** Two ABR "algorithms" on the same network: three sessions each, one testbed-style session. */
export function twoExperiments(now: number): SessionPlan[] {
  const base = now - 600;
  return [
    {
      experiment: 'bola-starlink',
      dialect: 'reporter',
      session: 'bola-1',
      start: base,
      duration: 60,
      startup: 0.9,
      qualities: [
        [0, 1],
        [12, 2],
        [30, 3],
        [44, 1],
      ],
      stalls: [[40, 2.5]],
      latency: 3.1,
      seed: 1,
    },
    {
      experiment: 'bola-starlink',
      dialect: 'reporter',
      session: 'bola-2',
      start: base + 70,
      duration: 60,
      startup: 1.4,
      qualities: [
        [0, 0],
        [8, 1],
        [20, 2],
      ],
      stalls: [],
      latency: 2.8,
      seed: 2,
    },
    {
      experiment: 'bola-starlink',
      dialect: 'reporter',
      session: 'bola-3',
      start: base + 140,
      duration: 60,
      startup: 2.2,
      qualities: [
        [0, 1],
        [16, 2],
        [26, 0],
        [36, 2],
      ],
      stalls: [
        [24, 3.5],
        [50, 1.2],
      ],
      latency: 3.6,
      seed: 3,
    },
    {
      experiment: 'l2a-starlink',
      dialect: 'reporter',
      session: 'l2a-1',
      start: base + 10,
      duration: 60,
      startup: 0.6,
      qualities: [
        [0, 2],
        [10, 3],
        [34, 2],
        [48, 3],
      ],
      stalls: [[33, 1.0]],
      latency: 1.9,
      seed: 4,
    },
    {
      experiment: 'l2a-starlink',
      dialect: 'reporter',
      session: 'l2a-2',
      start: base + 80,
      duration: 60,
      startup: 0.8,
      qualities: [
        [0, 1],
        [6, 3],
      ],
      stalls: [],
      latency: 1.6,
      seed: 5,
    },
    {
      experiment: 'l2a-starlink',
      dialect: 'testbed',
      session: 'l2a-testbed',
      start: base + 150,
      duration: 50,
      startup: 1.1,
      qualities: [
        [0, 0],
        [14, 2],
        [28, 1],
      ],
      stalls: [[27, 2.0]],
      latency: 2,
      seed: 6,
    },
  ];
}

/**
 * Dense data for the screenshots: a 10-minute live session with 60 rendition switches, stalls
 * and live catch-up (playback rate above 1 while latency is high), and a 400-session experiment.
 */
export function denseExperiments(now: number): SessionPlan[] {
  const rand = rng(99);
  const live: SessionPlan = {
    experiment: 'live-10min',
    dialect: 'reporter',
    session: 'live-10min-1',
    start: now - 700,
    duration: 600,
    startup: 1.3,
    qualities: [
      [0, 1],
      ...Array.from({ length: 60 }, (_, i): [number, number] => [8 + i * 9.7, (i * 7 + 3) % 4]),
    ],
    stalls: [
      [121, 2.4],
      [333, 5.1],
      [470, 1.2],
    ],
    latency: 3.2,
    seed: 7,
    rateAt: (t) => (Math.floor(t / 40) % 3 === 1 ? 1.05 : Math.floor(t / 40) % 5 === 4 ? 0.95 : 1),
  };
  const many = Array.from({ length: 400 }, (_, i): SessionPlan => {
    const switches = Math.floor(rand() * 5);
    return {
      experiment: 'abr-400',
      dialect: 'reporter',
      session: `run-${String(i + 1).padStart(3, '0')}`,
      start: now - 90_000 + i * 200,
      duration: 30,
      startup: 0.4 + rand() * rand() * 4,
      qualities: [
        [0, Math.floor(rand() * 3)],
        ...Array.from({ length: switches }, (_, k): [number, number] => [
          4 + k * 5 + rand() * 3,
          Math.floor(rand() * 4),
        ]),
      ],
      stalls: rand() < 0.3 ? [[8 + rand() * 15, 0.3 + rand() * 4]] : [],
      latency: 1.5 + rand() * 3,
      seed: 1000 + i,
      bufferEvery: 2,
    };
  });
  return [live, ...many];
}

/** POSTs events in batches to /api/submit/batch (fast seeding of large experiments). */
export async function submitBatches(base: string, events: EventInput[], size = 5000): Promise<void> {
  for (let i = 0; i < events.length; i += size) {
    const res = await fetch(`${base}/api/submit/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events.slice(i, i + size)),
    });
    const text = await res.text();
    if (res.status !== 200 || /"rejected":\[\{/.test(text))
      throw new Error(`batch answered ${res.status}: ${text.slice(0, 300)}`);
  }
}

/** POSTs events one per request to /api/submit (as the testbed client does), a few in flight. */
export async function submitAll(base: string, events: EventInput[], inFlight = 6): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < events.length) {
      const e = events[next++];
      const res = await fetch(`${base}/api/submit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(e),
      });
      if (res.status !== 200) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}
