/**
 * The end-to-end harness in one call: test media (ffmpeg), a static server for media, player
 * bundles and test pages, the stats-server under test (SQLite), and Chromium. Suites call
 * startE2E() in `before` and close() in `after`; openPlayer() opens one playback session.
 *
 *   const e2e = await startE2E();
 *   const p = await e2e.openPlayer({ player: 'hlsjs', experimentId: 'x' });
 *   await p.waitFor('e2e.video.currentTime > 2');
 *   await e2e.throttle(p.page, { downloadBytesPerS: 12_000 });
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { type Browser, launchBrowser, type Throttle, throttleUrls } from './browser.ts';
import { ensureMedia, type TestMedia } from './media.ts';
import { type PageConfig, PLAYER_MAIN_JS, playerPageHtml } from './player-page.ts';
import { type StaticServer, startStaticServer } from './static-server.ts';
import { type StatsServer, startStatsServer } from './stats-server.ts';

export { e2eSkip } from './tools.ts';
export type { PageConfig, StatsServer, TestMedia, Throttle };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** A player package's folder (some do not export their package.json, so no require.resolve). */
const pkgDir = (name: string) => path.join(ROOT, 'node_modules', name);

export interface OpenOptions extends Partial<Omit<PageConfig, 'manifest' | 'endpoint'>> {
  player: PageConfig['player'];
  experimentId: string;
  /** Which packaging to play (default: dash for dash.js, hls for hls.js and Shaka). */
  format?: 'dash' | 'hls';
}

export interface PlayerPage {
  page: Page;
  config: PageConfig;
  /** Waits (bounded) until a JS expression over window.e2e is truthy; fails with the page's error. */
  waitFor(expression: string, timeoutMs?: number): Promise<void>;
  /** Evaluates a JS expression in the page. */
  eval<T>(expression: string): Promise<T>;
  /** Event types the adapters reported so far (recorded in the page). */
  reported(): Promise<string[]>;
  /** Uncaught exceptions thrown in the page so far (the player's own, or ours). */
  pageErrors(): readonly string[];
}

export interface E2E {
  media: TestMedia;
  web: StaticServer;
  stats: StatsServer;
  browser: Browser;
  /** Absolute URL of the DASH or HLS manifest. */
  manifestUrl(format: 'dash' | 'hls'): string;
  /** URLPattern matching every media request (manifests and segments), for throttling. */
  mediaPattern: string;
  openPlayer(options: OpenOptions): Promise<PlayerPage>;
  /** Throttles media requests of one page only (undefined lifts it). */
  throttle(page: Page, throttle?: Throttle): Promise<void>;
  close(): Promise<void>;
}

export async function startE2E(): Promise<E2E> {
  const [media, web, stats] = await Promise.all([ensureMedia(), startStaticServer(), startStatsServer()]);
  web.mount('/media/', { dir: media.dir });
  web.mount('/lib/dash.all.min.js', { file: path.join(pkgDir('dashjs'), 'dist/modern/umd/dash.all.min.js') });
  web.mount('/lib/hls.min.js', { file: path.join(pkgDir('hls.js'), 'dist/hls.min.js') });
  web.mount('/lib/shaka-player.compiled.js', {
    file: path.join(pkgDir('shaka-player'), 'dist/shaka-player.compiled.js'),
  });
  web.mount('/pages/player.html', { html: playerPageHtml });
  web.mount('/pages/player-main.js', { js: PLAYER_MAIN_JS });
  const browser = await launchBrowser();
  const manifestUrl = (format: 'dash' | 'hls') =>
    `${web.origin}/media/${format === 'dash' ? media.dash : media.hls}`;
  const pages: Page[] = [];

  return {
    media,
    web,
    stats,
    browser,
    manifestUrl,
    mediaPattern: `${web.origin}/media/*`,
    throttle: (page, t) => throttleUrls(page, `${web.origin}/media/*`, t),
    async openPlayer(o) {
      const format = o.format ?? (o.player === 'dashjs' ? 'dash' : 'hls');
      const config: PageConfig = {
        player: o.player,
        manifest: manifestUrl(format),
        endpoint: stats.url,
        experimentId: o.experimentId,
        sessionId: o.sessionId ?? randomUUID(),
        protocol: o.protocol ?? format,
        bufferS: o.bufferS ?? 10,
        ...(o.playerConfig ? { playerConfig: o.playerConfig } : {}),
        ...(o.reporter !== undefined ? { reporter: o.reporter } : {}),
        ...(o.periodicIntervalMs ? { periodicIntervalMs: o.periodicIntervalMs } : {}),
      };
      const page = await browser.newPage();
      pages.push(page);
      const problems: string[] = [];
      // The message and where it was thrown (the first frames), to tell the player's bugs apart.
      page.on('pageerror', (e) =>
        problems.push([String(e), ...(e.stack ?? '').split('\n').slice(1, 3)].join(' ')),
      );
      await page.goto(`${web.origin}/pages/player.html?cfg=${encodeURIComponent(JSON.stringify(config))}`);
      const evalIn = <T>(expression: string) => page.evaluate(expression) as Promise<T>;
      return {
        page,
        config,
        eval: evalIn,
        async waitFor(expression, timeoutMs = 30_000) {
          try {
            await page.waitForFunction(
              `(() => {
                if (window.e2e && window.e2e.error) throw new Error('page error: ' + window.e2e.error);
                return (${expression});
              })()`,
              undefined,
              { timeout: timeoutMs, polling: 100 },
            );
          } catch (err) {
            const extra = problems.length > 0 ? ` (page errors: ${problems.join('; ')})` : '';
            throw new Error(`waiting for \`${expression}\`: ${(err as Error).message}${extra}`);
          }
        },
        reported: () => evalIn<string[]>('window.e2e.events.map((e) => e.type)'),
        pageErrors: () => problems,
      };
    },
    async close() {
      for (const p of pages) await p.close().catch(() => {});
      await browser.close();
      await Promise.all([web.close(), stats.close()]);
    },
  };
}

/** Polls fn until it returns a truthy value or the time is up (then returns the last value). */
export async function eventually<T>(
  fn: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let v = await fn();
  while (!done(v) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    v = await fn();
  }
  return v;
}
