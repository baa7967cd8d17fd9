/**
 * A small TCP proxy placed between two parts of the stack (server -> broker, gateway -> server, ...)
 * to inject network faults on demand. Written by hand because no toxiproxy server is available here
 * (only clients exist on npm) and `tc netem` is not in this kernel; it does only what the reconnect
 * scenarios need:
 *
 *   cut()            reset every open connection (new ones still pass)
 *   blackhole(true)  accept connections and swallow their bytes, never answering; open
 *                    connections stop forwarding too
 *   latency(ms)      delay every chunk in both directions, keeping order
 *   closeHalfway()   end the client->target direction of every open connection (the target sees
 *                    EOF) while the client's side stays open and unanswered: a half-open peer
 */
import { createServer, type Server, Socket } from 'node:net';

export interface FaultProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Listening port; 0 picks a free one. Default 0. */
  port?: number;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** Connections currently open through the proxy. */
  connectionCount(): number;
  cut(): void;
  blackhole(on: boolean): void;
  latency(ms: number): void;
  closeHalfway(): void;
  /** Back to a plain pass-through: no blackhole, no latency. Open connections are kept. */
  heal(): void;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket | undefined;
  /** After closeHalfway(): the target side is gone, the client side is kept open and unanswered. */
  halfOpen: boolean;
  timers: Set<NodeJS.Timeout>;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const host = options.host ?? '127.0.0.1';
  const links = new Set<Link>();
  let blackholed = false;
  let delayMs = 0;

  /** Forwards `chunk` now or after the configured latency; a blackhole drops it. */
  function forward(link: Link, to: Socket | undefined, chunk: Buffer): void {
    if (blackholed || to === undefined || to.destroyed) return;
    if (delayMs <= 0) {
      to.write(chunk);
      return;
    }
    // Each chunk waits the same delay, so timers fire in arrival order and order is kept.
    const timer = setTimeout(() => {
      link.timers.delete(timer);
      if (!to.destroyed) to.write(chunk);
    }, delayMs);
    link.timers.add(timer);
  }

  function drop(link: Link): void {
    if (!links.delete(link)) return;
    for (const t of link.timers) clearTimeout(t);
    link.timers.clear();
    link.client.destroy();
    link.upstream?.destroy();
  }

  const server: Server = createServer((client) => {
    const link: Link = { client, upstream: undefined, halfOpen: false, timers: new Set() };
    links.add(link);
    client.on('error', () => drop(link));
    client.on('close', () => drop(link));
    client.on('data', (chunk) => forward(link, link.upstream, chunk));
    if (blackholed) return; // accepted, never answered
    const upstream = new Socket();
    link.upstream = upstream;
    const upstreamGone = () => {
      if (link.halfOpen) link.upstream = undefined;
      else drop(link);
    };
    upstream.on('error', upstreamGone);
    upstream.on('close', upstreamGone);
    upstream.on('data', (chunk) => forward(link, client, chunk));
    upstream.connect(options.targetPort, options.targetHost);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    host,
    port,
    connectionCount: () => links.size,
    cut() {
      for (const link of [...links]) {
        link.client.resetAndDestroy();
        link.upstream?.resetAndDestroy();
        drop(link);
      }
    },
    blackhole(on) {
      blackholed = on;
    },
    latency(ms) {
      delayMs = Math.max(0, ms);
    },
    closeHalfway() {
      for (const link of links) {
        link.halfOpen = true;
        link.upstream?.end();
      }
    },
    heal() {
      blackholed = false;
      delayMs = 0;
    },
    async close() {
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
