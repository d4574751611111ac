/**
 * A TCP proxy on loopback in front of a real server, to cut and restore the connection:
 * `down()` closes every connection and stops listening, `up()` listens again on the same port.
 * It simulates a database outage at the socket level, whatever MongoDB is behind it.
 * `pause()` stops forwarding bytes while connections stay open (a network partition);
 * `resume()` forwards what waited and carries on.
 */
import net from 'node:net';

export class TcpProxy {
  #server: net.Server | undefined;
  #sockets = new Set<net.Socket>();
  #pairs = new Set<[net.Socket, net.Socket]>();
  #paused = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.#pairs.add(pair);
      client.on('close', () => this.#pairs.delete(pair));
      // While paused, bytes wait in the sockets' buffers until resume() pipes them.
      if (!this.#paused) client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    for (const [client, upstream] of this.#pairs) client.pipe(upstream).pipe(client);
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    // Stop accepting first, so a reconnect cannot slip in while we cut the open connections.
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    this.#pairs.clear();
    await closed;
  }
}

/** host and port of a simple mongodb:// URL (no SRV, first host). */
export function hostPortOf(url: string): { host: string; port: number } {
  const m = /^mongodb:\/\/(?:[^@/]+@)?([^:/,?]+)(?::(\d+))?/.exec(url);
  if (!m?.[1]) throw new Error(`cannot proxy MONGO_URL ${url.replace(/\/\/[^@]*@/, '//…@')}`);
  return { host: m[1], port: Number(m[2] ?? 27017) };
}

/** url with its host:port replaced by the proxy's. */
export function viaProxy(url: string, port: number): string {
  return url.replace(/^(mongodb:\/\/(?:[^@/]+@)?)[^/?]+/, `$1127.0.0.1:${port}`);
}
