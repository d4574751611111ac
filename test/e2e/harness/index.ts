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
import { errors, type Page } from 'playwright-core';
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

/** An uncaught exception in a page: its message and its stack frames ("at f (url:line:col)"). */
export interface PageError {
  message: string;
  frames: string[];
}

/** A bounded wait ran out (eventually() or PlayerPage.waitFor()): "Timeout waiting for ...". */
export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
}

export interface PlayerPage {
  page: Page;
  config: PageConfig;
  /**
   * Waits (bounded) until a JS expression over window.e2e is truthy. Fails with the page's own
   * error when it recorded one, else with a WaitTimeout that lists the page errors.
   */
  waitFor(expression: string, timeoutMs?: number): Promise<void>;
  /** Evaluates a JS expression in the page. */
  eval<T>(expression: string): Promise<T>;
  /** Event types the adapters reported so far (recorded in the page). */
  reported(): Promise<string[]>;
  /** Uncaught exceptions thrown in the page so far (the player's own, or ours). */
  pageErrors(): readonly PageError[];
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
      const problems: PageError[] = [];
      // The message and where it was thrown (the frames), to tell the player's bugs apart.
      page.on('pageerror', (e) =>
        problems.push({
          message: String(e),
          frames: (e.stack ?? '')
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => l.startsWith('at ')),
        }),
      );
      const shown = () => problems.map((p) => [p.message, ...p.frames.slice(0, 2)].join(' ')).join('; ');
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
            const extra = problems.length > 0 ? ` (page errors: ${shown()})` : '';
            if (err instanceof errors.TimeoutError) {
              const now = await page
                .evaluate(`(() => { const v = window.e2e && window.e2e.video;
                return v ? { currentTime: v.currentTime, readyState: v.readyState, paused: v.paused } : null; })()`)
                .catch(() => null);
              throw new WaitTimeout(
                `Timeout waiting for \`${expression}\` after ${timeoutMs} ms, got video ${JSON.stringify(now)}${extra}`,
                { cause: err },
              );
            }
            throw new Error(`waiting for \`${expression}\`: ${(err as Error).message}${extra}`, {
              cause: err,
            });
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

/**
 * Polls `fn` until `done` holds for its value and returns that value; past the deadline it
 * rejects with a WaitTimeout "Timeout waiting for <what> after <ms> ms, got <last value>".
 */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 20_000,
  show: (v: T) => string = (v) => JSON.stringify(v),
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let v = await fn();
  while (!done(v)) {
    if (Date.now() >= until)
      throw new WaitTimeout(`Timeout waiting for ${what} after ${timeoutMs} ms, got ${show(v)}`);
    await new Promise((r) => setTimeout(r, 200));
    v = await fn();
  }
  return v;
}
