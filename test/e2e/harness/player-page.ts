/**
 * The test page: one HTML page that plays a manifest with dash.js, hls.js or Shaka (from
 * node_modules) and, unless told not to, reports through the reporter bundle the stats-server
 * serves at /sdk/reporter.js. Everything the test needs is on window.e2e.
 */

/** What the page is told (JSON in the `cfg` query parameter). */
export interface PageConfig {
  player: 'dashjs' | 'hlsjs' | 'shaka';
  manifest: string;
  /** Stats-server base URL (also where /sdk/reporter.js comes from). */
  endpoint: string;
  experimentId: string;
  sessionId: string;
  protocol: string;
  /** Player forward-buffer target, seconds. */
  bufferS: number;
  /** Merged into the player's own configuration (dash.js settings, Hls config, Shaka config). */
  playerConfig?: Record<string, unknown>;
  /** false: no reporter at all (e.g. players reporting CMCD by themselves). */
  reporter?: false | { batch?: { maxEvents?: number; maxDelayMs?: number }; retry?: Record<string, number> };
  periodicIntervalMs?: number;
}

export const PLAYER_SCRIPTS: Record<PageConfig['player'], string> = {
  dashjs: '/lib/dash.all.min.js',
  hlsjs: '/lib/hls.min.js',
  shaka: '/lib/shaka-player.compiled.js',
};

const SCRIPT = `
(async () => {
  const cfg = JSON.parse(new URLSearchParams(location.search).get('cfg'));
  const video = document.getElementById('v');
  video.muted = true;
  const merge = (a, b) => {
    if (!b) return a;
    for (const [k, v] of Object.entries(b)) {
      a[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? merge(a[k], v) : v;
    }
    return a;
  };
  const e2e = (window.e2e = { video, player: null, reporter: null, detach: null, events: [], drops: [], ready: false, error: null });
  const S = window.StatsReporter;
  let reporter = null;
  if (cfg.reporter !== false) {
    const r = cfg.reporter || {};
    reporter = S.createReporter({
      endpoint: cfg.endpoint,
      experimentId: cfg.experimentId,
      protocol: cfg.protocol,
      videoId: cfg.manifest,
      sessionId: cfg.sessionId,
      batch: r.batch,
      retry: r.retry,
      onDrop: (events, reason) => e2e.drops.push({ n: events.length, reason }),
    });
    // Record what the adapters report, so tests can wait for "a stall started" and the like.
    const report = reporter.report;
    reporter.report = (type, payload) => {
      e2e.events.push({ type, t: performance.now(), payload });
      report(type, payload);
    };
    e2e.reporter = reporter;
  }
  const opt = { periodicIntervalMs: cfg.periodicIntervalMs || 1000 };
  if (cfg.player === 'dashjs') {
    const p = dashjs.MediaPlayer().create();
    p.updateSettings(merge({
      debug: { logLevel: 1 },
      streaming: {
        buffer: { bufferTimeDefault: cfg.bufferS, bufferTimeAtTopQuality: cfg.bufferS, bufferTimeAtTopQualityLongForm: cfg.bufferS },
        abr: { initialBitrate: { video: 100 } },
      },
    }, cfg.playerConfig));
    p.initialize(video, cfg.manifest, true);
    e2e.player = p;
    if (reporter) e2e.detach = S.attachDashjs(p, reporter, opt);
  } else if (cfg.player === 'hlsjs') {
    const p = new Hls(merge({ maxBufferLength: cfg.bufferS, maxMaxBufferLength: cfg.bufferS, startLevel: 0 }, cfg.playerConfig));
    e2e.player = p;
    p.loadSource(cfg.manifest);
    p.attachMedia(video);
    if (reporter) e2e.detach = S.attachHlsjs(p, reporter, opt);
    p.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch((e) => (e2e.error = String(e))));
  } else if (cfg.player === 'shaka') {
    shaka.polyfill.installAll();
    const p = new shaka.Player();
    e2e.player = p;
    await p.attach(video);
    p.configure(merge({
      streaming: { bufferingGoal: cfg.bufferS, rebufferingGoal: 1, bufferBehind: 10 },
      abr: { defaultBandwidthEstimate: 150000, switchInterval: 1, useNetworkInformation: false },
    }, cfg.playerConfig));
    if (reporter) e2e.detach = S.attachShaka(p, reporter, opt);
    await p.load(cfg.manifest);
    await video.play();
  }
  e2e.ready = true;
})().catch((e) => {
  window.e2e = window.e2e || {};
  window.e2e.error = String((e && e.stack) || e);
});
`;

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page's HTML for a config: one script tag each for the reporter, the player, and the test glue. */
export function playerPageHtml(query: URLSearchParams): string {
  const cfg = JSON.parse(query.get('cfg') ?? '{}') as PageConfig;
  const scripts = [
    cfg.reporter === false ? undefined : `${cfg.endpoint}/sdk/reporter.js`,
    PLAYER_SCRIPTS[cfg.player],
    '/pages/player-main.js',
  ].filter((s): s is string => Boolean(s));
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>stats-server e2e: ${esc(cfg.player ?? '')}</title></head>
<body>
<video id="v" width="640" height="360" playsinline></video>
${scripts.map((s) => `<script src="${esc(s)}"></script>`).join('\n')}
</body></html>`;
}

/** The test glue (served as /pages/player-main.js). */
export const PLAYER_MAIN_JS = SCRIPT;
