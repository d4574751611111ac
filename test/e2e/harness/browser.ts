/**
 * Debian Chromium through playwright-core, with a fresh user-data-dir, and throttling of
 * chosen URLs only (CDP Network.emulateNetworkConditionsByRule), so media can be slowed while
 * the player script and the telemetry POSTs run at full speed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core';
import { CHROMIUM } from './tools.ts';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

export interface Browser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile; `viewport` sizes every page (screenshots). */
export async function launchBrowser(
  opts: { viewport?: { width: number; height: number } } = {},
): Promise<Browser> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 60_000,
    ...(opts.viewport ? { viewport: opts.viewport } : {}),
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface Throttle {
  /** Download bytes per second for matching URLs (-1 = unlimited). */
  downloadBytesPerS: number;
  latencyMs?: number;
}

/**
 * Throttles requests whose URL matches urlPattern (URLPattern syntax, e.g.
 * "http://127.0.0.1:1234/media/*"), or lifts it when throttle is undefined.
 */
const sessions = new WeakMap<Page, CDPSession>();

export async function throttleUrls(page: Page, urlPattern: string, throttle?: Throttle): Promise<void> {
  // One DevTools session per page: emulated conditions belong to the session that set them.
  let cdp = sessions.get(page);
  if (!cdp) {
    cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    sessions.set(page, cdp);
  }
  await cdp.send('Network.emulateNetworkConditionsByRule', {
    matchedNetworkConditions: throttle
      ? [
          {
            urlPattern,
            latency: throttle.latencyMs ?? 0,
            downloadThroughput: throttle.downloadBytesPerS,
            uploadThroughput: -1,
          },
        ]
      : [],
  });
}
