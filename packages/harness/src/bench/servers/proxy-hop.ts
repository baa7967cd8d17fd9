/**
 * The floor (e): a plain reverse proxy in front of the echo upstream, and nothing else. Each request
 * is piped to the upstream as it comes (method, path, headers, body) and the answer piped back
 * (status, headers, body, SSE streams included), over keep-alive connections on both sides. What it
 * adds over direct is the least any MCP proxy hop (a gateway) can add, measured in the same run.
 */
import { Agent, createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningServer } from './echo-upstream.js';

/** RFC 9110 §7.6.1: these describe one connection and are not forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

export async function startProxyHop(options: { port: number; upstreamUrl: string }): Promise<RunningServer> {
  const upstream = new URL(options.upstreamUrl);
  // An idle pooled connection is dropped after 4 s, before the upstream's keep-alive timeout (Node's
  // default, 5 s) closes it from the other side: a request must never be written to a socket the
  // upstream is closing (it would fail with ECONNRESET and reach the agent as a 502). The throughput
  // slices leave each path idle for longer than that.
  const agent = new Agent({ keepAlive: true, timeout: 4000 });
  const server = createServer((req, res) => {
    const forward = request(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...endToEnd(req.headers), host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    forward.on('error', (err: NodeJS.ErrnoException) => {
      // The hop's own failure, said as a JSON-RPC error so that the load generator reports why.
      if (res.headersSent) return void res.destroy(err);
      const message = `proxy hop: the upstream failed: ${err.code ?? err.message}`;
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message } }));
    });
    // An agent that goes away (a closed GET stream) ends the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
