/** Builders for realistic events, shaped like the testbed's dash.js client sends them. */
export interface EventInput {
  experiment_id: string;
  timestamp: number;
  event_type: string;
  protocol: string;
  video_id?: string;
  payload: Record<string, unknown>;
  [extra: string]: unknown;
}

export function dashEvent(
  experimentId: string,
  timestamp: number,
  overrides: Partial<EventInput> = {},
): EventInput {
  return {
    experiment_id: experimentId,
    timestamp,
    event_type: 'fragment_loading_completed',
    protocol: 'dash',
    video_id: 'http://media.local/live/manifest.mpd',
    payload: {
      type: 'MediaSegment',
      url: `http://media.local/live/video_${Math.round(timestamp * 10)}.m4s`,
      quality: 2,
      media_type: 'video',
      start_time: timestamp - 0.2,
      duration: 0.2,
    },
    ...overrides,
  };
}
