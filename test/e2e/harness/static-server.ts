/**
 * A static HTTP server on loopback for what the browser loads that is not the stats-server:
 * test media, player bundles from node_modules, and test pages. Mounts map a URL prefix to a
 * directory, a single file, or a page generated in memory.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.mpd': 'application/dash+xml',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
};

export type Mount =
  | { dir: string }
  | { file: string }
  | { js: string }
  /** A page rendered per request from its query string. */
  | { html: string | ((query: URLSearchParams) => string) };

export interface StaticServer {
  /** http://127.0.0.1:port */
  origin: string;
  mount(prefix: string, what: Mount): void;
  close(): Promise<void>;
}

export async function startStaticServer(): Promise<StaticServer> {
  const mounts = new Map<string, Mount>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = decodeURIComponent(url.pathname);
    for (const [prefix, m] of mounts) {
      if (('html' in m || 'js' in m) && p === prefix) {
        const html = 'html' in m;
        const body = html ? (typeof m.html === 'string' ? m.html : m.html(url.searchParams)) : m.js;
        res.writeHead(200, { 'content-type': TYPES[html ? '.html' : '.js'], 'cache-control': 'no-store' });
        res.end(body);
        return;
      }
      let file: string | undefined;
      if ('file' in m && p === prefix) file = m.file;
      if ('dir' in m && p.startsWith(prefix)) {
        const resolved = path.resolve(m.dir, `.${p.slice(prefix.length - 1)}`);
        if (resolved.startsWith(path.resolve(m.dir) + path.sep)) file = resolved;
      }
      if (file && fs.existsSync(file) && fs.statSync(file).isFile()) {
        const body = fs.readFileSync(file);
        res.writeHead(200, {
          'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
          'content-length': body.length,
          'cache-control': 'no-store',
          'access-control-allow-origin': '*',
        });
        res.end(body);
        return;
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    mount: (prefix, what) => {
      mounts.set(prefix, what);
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
