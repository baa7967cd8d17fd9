/**
 * The load generator's MCP client: it speaks MCP on the wire itself, over keep-alive HTTP/1.1
 * connections driven through undici's `dispatch()` (no web streams, no fetch, no SDK), so that a call
 * costs the generator a few tens of microseconds and the generator is never what limits a figure.
 *
 * - 2025-11-25: `initialize` and `notifications/initialized` once per session, then `tools/call`
 *   with `Mcp-Session-Id` and `Mcp-Protocol-Version`; DELETE ends the session.
 * - 2026-07-28: no session; every `tools/call` carries `_meta` (protocol version, client info,
 *   capabilities) and the `Mcp-Method`/`Mcp-Name` headers, as the SDK's v2 client sends them.
 *
 * Request bodies are prebuilt strings with the sequence number spliced in. Every answer is checked:
 * an HTTP error, a JSON-RPC error, a tool error or a wrong echo rejects the call, so a path that
 * answers fast with errors or denials never passes as fast.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Era } from './options.js';

export const ECHO_TOOL = 'echo';
export const CLIENT_INFO = { name: 'bastion-bench', version: '2.0.0' } as const;

/** Where the generator sends its calls: an MCP URL and the headers every request carries (a token). */
export interface WireTarget {
  url: string;
  headers?: Record<string, string>;
}

/** One session (2025) or one stateless agent (2026) of the load generator. */
export interface BenchSession {
  /** One echo call; rejects when the answer is not the echo of what was sent. */
  call(sequence: number): Promise<void>;
  close(): Promise<void>;
}

export interface WireResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An answer that was not what the protocol promises; `rpcCode` when it was a JSON-RPC error. */
export class WireError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly rpcCode?: number,
  ) {
    super(message);
    this.name = 'WireError';
  }
}

/** One HTTP exchange on `dispatcher`; the body is read whole (MCP answers here are small). */
export function exchange(
  dispatcher: Dispatcher,
  options: {
    path: string;
    method: 'POST' | 'DELETE' | 'GET';
    headers: Record<string, string>;
    body?: string;
  },
): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const handler: Dispatcher.DispatchHandler = {
      // undici takes a handler for its current API by the presence of this method.
      onRequestStart() {},
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        const body =
          chunks.length === 1
            ? (chunks[0] as Buffer).toString('utf8')
            : Buffer.concat(chunks).toString('utf8');
        resolve({ status, headers, body });
      },
      onResponseError(_controller, error) {
        reject(error);
      },
    };
    try {
      dispatcher.dispatch(options, handler);
    } catch (err) {
      reject(err);
    }
  });
}

/**
 * The JSON-RPC message answering request `id`, from a JSON body or from the events of an SSE body
 * (a server may send notifications before the response on the same stream).
 */
export function rpcAnswer(response: WireResponse, id: number | string): Record<string, unknown> {
  const type = response.headers['content-type'];
  const candidates: unknown[] = [];
  if (typeof type === 'string' && type.startsWith('text/event-stream')) {
    for (const event of response.body.split(/\r?\n\r?\n/)) {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
        .join('\n');
      if (data !== '') candidates.push(parseJson(data, response));
    }
  } else {
    const parsed = parseJson(response.body, response);
    candidates.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  }
  for (const message of candidates) {
    if (typeof message === 'object' && message !== null && (message as { id?: unknown }).id === id) {
      return message as Record<string, unknown>;
    }
  }
  const error = candidates.find((m) => typeof m === 'object' && m !== null && 'error' in m);
  if (error) throwRpcError(error as Record<string, unknown>, response.status);
  throw new WireError(
    `HTTP ${response.status} without an answer to request ${id}: ${response.body.slice(0, 200)}`,
    response.status,
  );
}

function parseJson(text: string, response: WireResponse): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new WireError(`HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`, response.status);
  }
}

function throwRpcError(message: Record<string, unknown>, status: number): never {
  const error = message.error as { code?: unknown; message?: unknown } | undefined;
  const code = typeof error?.code === 'number' ? error.code : undefined;
  throw new WireError(`JSON-RPC error ${code ?? '?'}: ${String(error?.message ?? '')}`, status, code);
}

/** Throws unless `message` is a successful `echo` result with `text`. */
export function checkEcho(message: Record<string, unknown>, text: string, status: number): void {
  if ('error' in message) throwRpcError(message, status);
  const result = message.result as { isError?: unknown; content?: Array<{ text?: unknown }> } | undefined;
  const got = result?.content?.[0]?.text;
  if (result?.isError === true) throw new WireError(`tool error: ${String(got ?? 'no text')}`, status);
  if (got !== text) throw new WireError(`unexpected echo: ${JSON.stringify(message).slice(0, 200)}`, status);
}

const BASE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** The per-request envelope of the 2026 era, as the SDK's v2 client sends it. */
const MODERN_META = JSON.stringify({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
  'io.modelcontextprotocol/clientCapabilities': {},
});

function echoBody(era: Era, sequence: number): string {
  // Spliced by hand: a call must cost the generator as little as possible.
  const args = `"arguments":{"text":"bench-${sequence}"}`;
  const meta = era === '2026-07-28' ? `,"_meta":${MODERN_META}` : '';
  return `{"jsonrpc":"2.0","id":${sequence},"method":"tools/call","params":{"name":"${ECHO_TOOL}",${args}${meta}}}`;
}

async function echoCall(
  dispatcher: Dispatcher,
  path: string,
  headers: Record<string, string>,
  era: Era,
  sequence: number,
): Promise<void> {
  const response = await exchange(dispatcher, {
    path,
    method: 'POST',
    headers,
    body: echoBody(era, sequence),
  });
  checkEcho(rpcAnswer(response, sequence), `bench-${sequence}`, response.status);
}

/** The path and query of a target URL (the dispatcher already knows its origin). */
export function pathOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

/**
 * Opens a 2025-era session on `dispatcher`: `initialize`, then `notifications/initialized`.
 * Nothing else is opened (no GET stream), as an idle agent that only calls tools does.
 */
export async function openLegacySession(dispatcher: Dispatcher, target: WireTarget): Promise<BenchSession> {
  const path = pathOf(target.url);
  const first = { ...BASE_HEADERS, ...target.headers };
  const init = await exchange(dispatcher, {
    path,
    method: 'POST',
    headers: first,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: CLIENT_INFO },
    }),
  });
  const answer = rpcAnswer(init, 0);
  if ('error' in answer) throwRpcError(answer, init.status);
  const sessionId = init.headers['mcp-session-id'];
  if (typeof sessionId !== 'string')
    throw new WireError('initialize answered without Mcp-Session-Id', init.status);
  const headers = { ...first, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
  const initialized = await exchange(dispatcher, {
    path,
    method: 'POST',
    headers,
    body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  });
  if (initialized.status !== 202 && initialized.status !== 200) {
    throw new WireError(`notifications/initialized answered ${initialized.status}`, initialized.status);
  }
  let closed = false;
  return {
    call: (sequence) => echoCall(dispatcher, path, headers, '2025-11-25', sequence),
    async close() {
      if (closed) return;
      closed = true;
      // DELETE ends the session on the server too, so sessions do not pile up across measurements.
      await exchange(dispatcher, { path, method: 'DELETE', headers }).catch(() => undefined);
    },
  };
}

/** A 2026-era agent: nothing to open, every call stands alone. */
export function statelessAgent(dispatcher: Dispatcher, target: WireTarget): BenchSession {
  const path = pathOf(target.url);
  const headers = {
    ...BASE_HEADERS,
    ...target.headers,
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': ECHO_TOOL,
  };
  return {
    call: (sequence) => echoCall(dispatcher, path, headers, '2026-07-28', sequence),
    close: async () => undefined,
  };
}

/** Opens a session of `era` (a 2026-era agent opens nothing). */
export function openWireSession(dispatcher: Dispatcher, target: WireTarget, era: Era): Promise<BenchSession> {
  return era === '2025-11-25'
    ? openLegacySession(dispatcher, target)
    : Promise.resolve(statelessAgent(dispatcher, target));
}

/**
 * Whether a failed first call says "this target does not speak the era" (then the era is skipped,
 * not failed): the unsupported-protocol-version error (-32022), or a 4xx answer from a server that
 * took the sessionless request for a 2025-era request without a session.
 */
export function isEraRefusal(err: unknown): boolean {
  if (!(err instanceof WireError)) return false;
  if (err.rpcCode === -32022) return true;
  return err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 403;
}
