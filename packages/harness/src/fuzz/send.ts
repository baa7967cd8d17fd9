/**
 * Sends one fuzzed request over a fresh connection and says what became of it: an answer (its
 * status), a connection dropped without one, nothing listening any more, or no answer in time.
 * Only the head matters; a streamed answer is read briefly and then hung up on, as a client that
 * goes away would.
 */
import { request } from 'node:http';
import { bodyBytes, type FuzzRequest, TOKEN_PLACEHOLDER } from './requests.js';

export type Outcome =
  | { kind: 'answered'; status: number }
  /** The server closed the connection without an answer (`large`: while a large body was still going out). */
  | { kind: 'dropped'; code: string; large: boolean }
  /** Nothing listens: the process is gone. */
  | { kind: 'refused' }
  | { kind: 'timeout' }
  /** Our own HTTP client would not send it (not the server's doing). */
  | { kind: 'unsendable'; message: string };

export interface Endpoint {
  port: number;
  /** The real bearer token, for the placeholder in the requests. */
  token: string | undefined;
  /** The endpoint's path (the session id is added to it, or to the headers). */
  path: string;
  /** Session ids: the live one, for requests that should reach an open session. */
  liveSession: string | undefined;
  /** The header or query parameter the session id travels in. */
  sessionIn: 'header' | 'query';
}

/**
 * A host may answer a request it refuses (413 over its limit, 404 for a path it does not serve)
 * without reading a body it has no use for, and close: while a body larger than the socket takes at
 * once is still going out, the client sees the close (EPIPE, ECONNRESET) before the answer.
 */
const LARGE_BODY = 64 * 1024;

function sessionValue(req: FuzzRequest, live: string | undefined): string | string[] | undefined {
  // A DELETE would end the live session, and every request after it would stop at 'no such session'.
  const choice = req.method === 'DELETE' && req.session === 'live' ? 'bogus' : req.session;
  switch (choice) {
    case 'live':
      return live;
    case 'none':
      return undefined;
    case 'bogus':
      return '00000000-0000-4000-8000-000000000000';
    case 'twice':
      return live === undefined ? ['a', 'b'] : [live, live];
    case 'huge':
      return 's'.repeat(8192);
  }
}

export function send(endpoint: Endpoint, req: FuzzRequest, timeoutMs: number): Promise<Outcome> {
  const body = bodyBytes(req.body);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] =
      name === 'authorization' && endpoint.token !== undefined && typeof value === 'string'
        ? value.replace(TOKEN_PLACEHOLDER, endpoint.token)
        : value;
  }
  const session = sessionValue(req, endpoint.liveSession);
  let path = endpoint.path;
  if (endpoint.sessionIn === 'header') {
    if (session !== undefined) headers['mcp-session-id'] = session;
    path += req.suffix;
  } else {
    const query = (session === undefined ? [] : [session].flat())
      .map((id) => `sessionId=${encodeURIComponent(id)}`)
      .join('&');
    path += `${query === '' ? '' : `?${query}`}${req.suffix}`;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') headers['content-length'] = String(body.length);
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    let out: ReturnType<typeof request>;
    try {
      out = request({
        host: '127.0.0.1',
        port: endpoint.port,
        method: req.method,
        path,
        headers,
        agent: false,
      });
    } catch (err) {
      settle({ kind: 'unsendable', message: (err as Error).message });
      return;
    }
    timer = setTimeout(() => {
      settle({ kind: 'timeout' });
      out.destroy();
    }, timeoutMs);
    out.on('response', (res) => {
      settle({ kind: 'answered', status: res.statusCode ?? 0 });
      // A stream (SSE) stays open: listen a moment, then hang up; anything else is read to the end.
      const streaming = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
      const hangUp = setTimeout(() => res.destroy(), streaming ? 200 : 2_000);
      res.on('close', () => clearTimeout(hangUp));
      res.on('error', () => undefined);
      res.resume();
    });
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') settle({ kind: 'refused' });
      else settle({ kind: 'dropped', code: err.code ?? err.message, large: body.length > LARGE_BODY });
    });
    out.end(req.method === 'GET' || req.method === 'HEAD' ? undefined : body);
  });
}

/** Whether an outcome breaks the run's promise: no 5xx, no connection dropped, the process there. */
export function problemWith(outcome: Outcome): string | undefined {
  switch (outcome.kind) {
    case 'answered':
      return outcome.status >= 500 ? `answered ${outcome.status}` : undefined;
    case 'dropped':
      // A crash shows anyway: the next requests are refused, and the process is gone afterwards.
      return outcome.large ? undefined : `connection dropped without an answer (${outcome.code})`;
    case 'refused':
      return 'connection refused: the process is gone';
    case 'timeout':
    case 'unsendable':
      return undefined;
  }
}
