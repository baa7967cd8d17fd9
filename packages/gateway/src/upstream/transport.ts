/**
 * Client transports to the upstream, one per upstream session: a child process over stdio, Streamable
 * HTTP, or legacy HTTP+SSE.
 */
import { setMaxListeners } from 'node:events';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config.js';
import { NodeHttpClientTransport, type ResponseStreamHooks } from './http-transport.js';

/**
 * fetch for the SDK's legacy SSE transport, whose POSTs all share one long-lived abort signal:
 * silences undici's MaxListenersExceededWarning on it (ENVIRONMENT.md). (Its POSTs are answered 202;
 * the answers come on the GET stream, so there is no response stream to watch, unlike Streamable HTTP.)
 */
const legacySseFetch: typeof fetch = (input, init) => {
  if (init?.signal) setMaxListeners(0, init.signal);
  return fetch(input, init);
};

export function createUpstreamTransport(
  config: UpstreamConfig,
  hooks: ResponseStreamHooks,
  logger: Logger,
): Transport {
  switch (config.transport) {
    case 'stdio': {
      const transport = new StdioClientTransport({
        command: config.command,
        args: config.args,
        env: { ...getDefaultEnvironment(), ...(config.env ?? {}) },
        ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
        stderr: 'pipe',
      });
      // The upstream's own log (stderr) is read line by line: an unread pipe would block the child.
      const stderr = transport.stderr;
      if (stderr instanceof Readable) {
        createInterface({ input: stderr }).on('line', (line) =>
          logger.debug({ upstreamLog: line }, 'upstream stderr'),
        );
      }
      return transport;
    }
    case 'http':
      return new NodeHttpClientTransport(new URL(config.url), {
        headers: config.headers,
        hooks,
      });
    case 'sse':
      return new SSEClientTransport(new URL(config.url), {
        requestInit: { headers: config.headers },
        fetch: legacySseFetch,
      });
  }
}
