/**
 * Small HTTP helpers of the console: bounded bodies (JSON for the API, form-encoded for the
 * pages), answers with the console's security headers, and a path router.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';
import type { Html } from './html.js';

const MAX_BODY = 64 * 1024;

/**
 * Nothing but the gateway's own scripts and styles, no framing, no referrer, no caching: the pages
 * show approvals and one-time tokens.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function text(req: IncomingMessage): Promise<string> {
  try {
    return await getRawBody(req, { limit: MAX_BODY, encoding: 'utf8' });
  } catch (err) {
    if ((err as { type?: string }).type === 'entity.too.large') {
      req.resume();
      throw new BodyError(413, `body larger than ${MAX_BODY} bytes`);
    }
    throw new BodyError(400, 'could not read the body');
  }
}

export async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await text(req);
  if (raw.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new BodyError(400, 'the body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new BodyError(400, 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** A form's fields; a name given more than once (checkboxes) becomes a list. */
export async function formBody(req: IncomingMessage): Promise<Record<string, string | string[]>> {
  const fields: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(await text(req))) {
    const seen = fields[name];
    fields[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return fields;
}

export function sendHtml(
  res: ServerResponse,
  status: number,
  body: Html,
  headers: Record<string, string> = {},
) {
  const text = body.text;
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendApiJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** After a form's POST: see the result with a GET (303), as browsers and htmx's boost both follow. */
export function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}) {
  res.writeHead(303, { ...SECURITY_HEADERS, location, ...headers });
  res.end();
}

export type Params = Record<string, string>;
export type Handler = (req: IncomingMessage, res: ServerResponse, params: Params, url: URL) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** Routes like `/console/approvals/:id`; a segment matches one decoded path segment. */
export class Router {
  private readonly routes: Route[] = [];

  on(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/:([a-z]+)/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      })}$`,
    );
    this.routes.push({ method, pattern, names, handler });
    return this;
  }

  /** The handler for the request and its parameters; `allowed` lists methods when only the method is wrong. */
  match(
    method: string,
    path: string,
  ): { handler: Handler; params: Params } | { allowed: string[] } | undefined {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (m === null) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Params = {};
      try {
        route.names.forEach((name, i) => {
          params[name] = decodeURIComponent(m[i + 1] ?? '');
        });
      } catch {
        return undefined;
      }
      return { handler: route.handler, params };
    }
    return allowed.length > 0 ? { allowed } : undefined;
  }
}
