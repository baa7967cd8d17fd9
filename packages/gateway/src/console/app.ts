/**
 * The console at `/console`: a thin layer of pages over ConsoleService, and the JSON API beside
 * them (console/api.ts). Served by the gateway's HTTP host after its Host and Origin checks (the
 * console's own origin is the gateway's, which those checks allow by default); authenticated here,
 * by the admin token (console/auth.ts). Its only script is htmx, served from node_modules.
 *
 * Stack: server-rendered HTML from template literals with escaping, plain forms with a CSRF token,
 * and htmx for what changes on its own. Chosen over a client framework (Preact with Vite) because
 * the pages are lists and forms whose truth lives on the server: no build step, nothing to keep in
 * sync, every page works without JavaScript, and one 50 KB library is the whole front end.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { apiRoutes } from './api.js';
import type { ConsoleAuth } from './auth.js';
import { html } from './html.js';
import { BodyError, formBody, Router, redirect, SECURITY_HEADERS, sendApiJson, sendHtml } from './http.js';
import { page } from './layout.js';
import { noticeOf, pageRoutes, signedIn } from './page-routes.js';
import { loginPage } from './pages.js';
import type { ConsoleService } from './service.js';

export interface ConsoleAppOptions {
  service: ConsoleService;
  /** Absent when the config has no admin: the console then only says so. */
  auth: ConsoleAuth | undefined;
  servers: ReadonlyArray<string>;
  logger: Logger;
}

const require = createRequire(import.meta.url);
const ASSETS: Readonly<Record<string, { type: string; body: Buffer }>> = {
  '/console/assets/htmx.min.js': {
    type: 'text/javascript; charset=utf-8',
    body: readFileSync(require.resolve('htmx.org/dist/htmx.min.js')),
  },
  '/console/assets/console.css': {
    type: 'text/css; charset=utf-8',
    body: readFileSync(new URL('./console.css', import.meta.url)),
  },
};

export function createConsoleApp(
  o: ConsoleAppOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { service, auth } = o;
  const api = new Router();
  // The API's caller, by request: the admin whose bearer token it presented (set before dispatch).
  const callers = new WeakMap<IncomingMessage, string>();
  apiRoutes(api, service, (req) => `${callers.get(req) ?? 'unknown'} (console API)`);
  const pages = new Router();
  const notice = noticeOf;

  if (auth !== undefined) pageRoutes(pages, { service, auth, servers: o.servers });

  async function login(req: IncomingMessage, res: ServerResponse, url: URL, consoleAuth: ConsoleAuth) {
    if (req.method === 'GET') {
      const next = url.searchParams.get('next') ?? '/console';
      return sendHtml(res, 200, loginPage({ title: 'Sign in', section: 'login', notice: notice(url), next }));
    }
    const form = await formBody(req);
    const admin = consoleAuth.adminFor(typeof form.token === 'string' ? form.token : undefined);
    if (admin === undefined) return redirect(res, '/console/login?notice=bad-token');
    const next =
      typeof form.next === 'string' && /^\/console(\/[A-Za-z0-9._~%/-]*)?$/.test(form.next)
        ? form.next
        : '/console';
    redirect(res, next, { 'set-cookie': await consoleAuth.login(admin) });
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const asset = ASSETS[path];
    if (asset !== undefined && method === 'GET') {
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'cache-control': 'public, max-age=3600',
        'content-type': asset.type,
        'content-length': asset.body.length,
      });
      return void res.end(asset.body);
    }
    const isApi = path === '/console/api' || path.startsWith('/console/api/');
    if (auth === undefined) {
      const why = 'no console is configured ("admin" in the gateway config)';
      if (isApi) return sendApiJson(res, 404, { error: why });
      return sendHtml(
        res,
        404,
        page({ title: 'No console', section: 'landing' }, html`<p>There is ${why}.</p>`),
      );
    }
    if (isApi) {
      const token = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      const admin = auth.adminFor(token);
      if (admin === undefined)
        return sendApiJson(
          res,
          401,
          { error: 'the admin token is required (Authorization: Bearer)' },
          { 'www-authenticate': 'Bearer realm="bastion-console"' },
        );
      callers.set(req, admin.name);
      return dispatch(api, req, res, url, path, true);
    }
    if (path === '/console/login') return login(req, res, url, auth);
    const session = await auth.session(req);
    if (path === '/console/logout' && method === 'POST') {
      const form = await formBody(req);
      if (session !== undefined && !auth.checkCsrf(session, form._csrf)) return forbidden(res);
      return redirect(res, '/console/login', { 'set-cookie': await auth.logout(req) });
    }
    if (session === undefined) {
      if (method !== 'GET') return forbidden(res);
      return redirect(res, `/console/login?next=${encodeURIComponent(path)}`);
    }
    // A POST's form is read once, here, for its CSRF token; the handlers read the same fields.
    const form = method === 'POST' ? await formBody(req) : {};
    if (method === 'POST' && !auth.checkCsrf(session, form._csrf)) return forbidden(res);
    signedIn.set(req, { session, form });
    return dispatch(pages, req, res, url, path, false);
  }

  async function dispatch(
    router: Router,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    path: string,
    isApi: boolean,
  ) {
    const found = router.match(req.method ?? 'GET', path);
    if (found === undefined || 'allowed' in found) {
      const status = found === undefined ? 404 : 405;
      const text = status === 404 ? 'not found' : 'method not allowed';
      const headers: Record<string, string> =
        found !== undefined && 'allowed' in found ? { allow: found.allowed.join(', ') } : {};
      if (isApi) return sendApiJson(res, status, { error: text }, headers);
      return sendHtml(
        res,
        status,
        page({ title: text, section: 'approvals' }, html`<p><a href="/console">Back to the console</a></p>`),
        headers,
      );
    }
    try {
      await found.handler(req, res, found.params, url);
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      if (isApi) sendApiJson(res, err.status, { error: err.message });
      else
        sendHtml(
          res,
          err.status,
          page({ title: 'Bad request', section: 'approvals' }, html`<p>${err.message}</p>`),
        );
    }
  }

  return async (req, res) => {
    try {
      await serve(req, res);
    } catch (err) {
      if (err instanceof BodyError) return sendApiJson(res, err.status, { error: err.message });
      o.logger.error({ err }, 'console request failed');
      if (!res.headersSent) sendApiJson(res, 500, { error: 'internal error' });
      else res.end();
    }
  };
}

function forbidden(res: ServerResponse) {
  sendHtml(
    res,
    403,
    page(
      { title: 'Forbidden', section: 'login' },
      html`<p>The form was stale or not from this console. <a href="/console">Reload the console</a> and try again.</p>`,
    ),
  );
}
