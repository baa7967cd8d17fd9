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

export type UpstreamTransportHooks = ResponseStreamHooks;

/** The id of the JSON-RPC request in a POST body, if it carries exactly one. */
function requestIdOf(body: unknown): string | number | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const message = JSON.parse(body) as { id?: unknown; method?: unknown };
    const id = message.id;
    return typeof message.method === 'string' && (typeof id === 'string' || typeof id === 'number')
      ? id
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * fetch for the SDK's legacy SSE transport: silences undici's MaxListenersExceededWarning on long-lived
 * signals (ENVIRONMENT.md) and reports when a request's response stream ends.
 */
function observingFetch(hooks: UpstreamTransportHooks): typeof fetch {
  return async (input, init) => {
    if (init?.signal) setMaxListeners(0, init.signal);
    const response = await fetch(input, init);
    const isEventStream = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
    const id = init?.method === 'POST' ? requestIdOf(init.body) : undefined;
    if (id === undefined || !isEventStream || response.body === null) return response;
    hooks.onResponseStream(id);
    const watched = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({ flush: () => hooks.onResponseStreamEnd(id) }),
    );
    return new Response(watched, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

export function createUpstreamTransport(
  config: UpstreamConfig,
  hooks: UpstreamTransportHooks,
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
        fetch: observingFetch(hooks),
      });
  }
}
