// The event every benchmark sends: a dash.js fragment_loading_completed as the testbed
// records it, with a unique event_id (run prefix + counter) and one of 64 session ids; with
// `testbed`, as the testbed's own page sends it: no session id and no event id (its sessions
// are runs of the manifest URL), timestamps advancing.
export function benchEvent(run, i, testbed = false) {
  if (testbed) {
    const { session_id: _s, event_id: _e, ...rest } = benchEvent(run, i);
    return rest;
  }
  const t = 1_700_000_000 + i / 10;
  return {
    experiment_id: 'bench',
    timestamp: t,
    event_type: 'fragment_loading_completed',
    protocol: 'dash',
    video_id: 'http://media.local/live/manifest.mpd',
    session_id: `session-${i % 64}`,
    event_id: `${run}-${i}`,
    payload: {
      type: 'MediaSegment',
      url: `http://media.local/live/video_${i}.m4s`,
      quality: 2,
      media_type: 'video',
      start_time: t - 0.2,
      duration: 0.2,
    },
  };
}
