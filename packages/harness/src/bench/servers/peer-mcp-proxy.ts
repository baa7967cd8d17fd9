/**
 * The peer proxy: mcp-proxy (punkpeye/mcp-proxy, the most downloaded MCP proxy on npm) fronting the
 * echo upstream over Streamable HTTP on both sides, as the gateway does.
 *
 * Its CLI only fronts stdio servers, so this uses its library the way its CLI does for stdio:
 * `startHTTPServer` serves Streamable HTTP, `createServer` opens one upstream client per client
 * session and `proxyServer` forwards every request; the upstream transport is Streamable HTTP
 * instead of stdio. Its resumability event store is turned off (its own advice for
 * request/response-only use), which is also what the gateway and the upstream do.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Server } from '@modelcontextprotocol/server';
import { proxyServer, startHTTPServer } from 'mcp-proxy';
import type { RunningServer } from './echo-upstream.js';

export async function startPeerMcpProxy(options: {
  port: number;
  upstreamUrl: string;
}): Promise<RunningServer> {
  const upstreams = new WeakMap<Server, { client: Client; transport: StreamableHTTPClientTransport }>();
  const proxy = await startHTTPServer({
    host: '127.0.0.1',
    port: options.port,
    streamEndpoint: '/mcp',
    sseEndpoint: null,
    eventStore: false,
    createServer: async () => {
      const client = new Client({ name: 'mcp-proxy-bench', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(options.upstreamUrl));
      await client.connect(transport);
      const capabilities = client.getServerCapabilities() ?? {};
      const info = client.getServerVersion() ?? { name: 'upstream', version: '0' };
      const server = new Server(info, { capabilities });
      await proxyServer({ client, server, serverCapabilities: capabilities });
      upstreams.set(server, { client, transport });
      return server;
    },
    onClose: async (server) => {
      // Ends the upstream session too (DELETE), as the gateway does, so that the shared upstream
      // does not accumulate this path's sessions.
      const upstream = upstreams.get(server);
      await upstream?.transport.terminateSession().catch(() => undefined);
      await upstream?.client.close();
    },
  });
  return { url: `http://127.0.0.1:${options.port}/mcp`, port: options.port, close: () => proxy.close() };
}
