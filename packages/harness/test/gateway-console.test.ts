/**
 * The console over plain HTTP (the browser suite drives the same pages in Chromium): who may use it,
 * the cookie session and its CSRF tokens, the Host/Origin checks, grants made and revoked, counters,
 * and a landing page with nothing secret on it.
 */

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { BASTION_BINS } from '../src/targets/mcp-process.js';
import { midMinuteClock } from './gateway-fixtures/harness.js';
import { startModernFixture } from './gateway-fixtures/server-v2.js';
import {
  connectOversightAgent,
  type OversightGateway,
  startOversightGateway,
  textOf,
} from './oversight-fixtures.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup(): Promise<OversightGateway> {
  const upstream = await startModernFixture('dual');
  closers.push(() => upstream.close());
  const h = await startOversightGateway(
    {
      servers: {
        up: {
          transport: 'http',
          url: upstream.url,
          policy: {
            version: '1',
            default: 'allow',
            tools: { echo: { limits: [{ counter: 'echo_rate', window: 'minute', max: 5 }] } },
          },
        },
      },
    },
    // Counters are read back after the calls: both in one window.
    { clock: midMinuteClock() },
  );
  closers.push(() => h.close());
  return h;
}

/** A form POST as a browser sends it. */
function post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

async function signIn(h: OversightGateway): Promise<string> {
  const res = await post(`${h.url}/console/login`, { token: h.adminToken, next: '/console' });
  expect(res.status).toBe(303);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

const csrfOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';

describe('the console', () => {
  it(verifies('gateway.console.auth'), async () => {
    const h = await setup();
    // The API takes the admin token, and nothing else: not a grant token, not the page cookie.
    expect((await fetch(`${h.url}/console/api/approvals`)).status).toBe(401);
    const asGrant = await fetch(`${h.url}/console/api/approvals`, {
      headers: { authorization: `Bearer ${h.tokens.alice}` },
    });
    expect(asGrant.status).toBe(401);
    expect((await h.api.get('/approvals')).status).toBe(200);
    // Pages: a login, and a cookie that scripts cannot read and other sites cannot send.
    const anonymous = await fetch(`${h.url}/console`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/console/login?next=%2Fconsole');
    const refused = await post(`${h.url}/console/login`, { token: h.tokens.alice ?? '' });
    expect(refused.headers.get('location')).toBe('/console/login?notice=bad-token');
    expect(refused.headers.get('set-cookie')).toBeNull();
    const login = await post(`${h.url}/console/login`, { token: h.adminToken });
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/console/);
    const cookie = setCookie.split(';')[0] ?? '';
    const page = await fetch(`${h.url}/console/grants`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).toContain('/console/assets/htmx.min.js');
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    // A POST without the page's CSRF token is refused, as is one from another origin.
    const forged = await post(`${h.url}/console/grants`, { label: 'mallory', servers: 'up' }, { cookie });
    expect(forged.status).toBe(403);
    const crossSite = await post(
      `${h.url}/console/grants`,
      { label: 'mallory', servers: 'up', _csrf: csrfOf(html) },
      { cookie, origin: 'http://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    // DNS rebinding: a page of another name that resolves here (fetch cannot set Host; node:http can).
    const rebinding = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${h.url}/console`);
      request(
        { host: url.hostname, port: url.port, path: url.pathname, headers: { host: 'evil.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end();
    });
    expect(rebinding).toBe(403);
    expect(h.gateway.oversight.grants.list().map((g) => g.label)).toEqual(['alice']);
    // Logged out, the cookie opens nothing.
    await post(`${h.url}/console/logout`, { _csrf: csrfOf(html) }, { cookie });
    expect((await fetch(`${h.url}/console/grants`, { headers: { cookie }, redirect: 'manual' })).status).toBe(
      303,
    );
    // The assets come from the gateway itself.
    const htmx = await fetch(`${h.url}/console/assets/htmx.min.js`);
    expect(htmx.status).toBe(200);
    expect((await htmx.text()).length).toBeGreaterThan(10_000);
  });

  it(verifies('gateway.console.grants'), async () => {
    const h = await setup();
    const cookie = await signIn(h);
    const form = await (await fetch(`${h.url}/console/grants`, { headers: { cookie } })).text();
    const created = await post(
      `${h.url}/console/grants`,
      { label: 'ci-bot', servers: 'up', _csrf: csrfOf(form) },
      { cookie },
    );
    expect(created.status).toBe(200);
    const shown = await created.text();
    const token = /id="new-token">(bgw_[^<]+)</.exec(shown)?.[1] ?? '';
    expect(token).not.toBe('');
    // Shown once: the grants page never shows it again, and the API keeps only its digest.
    const again = await (await fetch(`${h.url}/console/grants`, { headers: { cookie } })).text();
    expect(again).not.toContain(token);
    expect(JSON.stringify((await h.api.get('/grants')).body)).not.toContain(token);
    expect(JSON.stringify((await h.api.get('/grants')).body)).not.toContain(
      createHash('sha256').update(token).digest('hex'),
    );
    // The new grant works at once, and its calls count.
    const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, token, 'v2-2025');
    closers.push(() => a.close());
    expect(textOf(await a.callTool('echo', { text: 'hi' }))).toBe('hi');
    const counters = (await h.api.get('/counters')).body.counters as Array<Record<string, unknown>>;
    expect(counters).toContainEqual(
      expect.objectContaining({ grant: 'ci-bot', counter: 'echo_rate', count: 1, max: 5 }),
    );
    const countersPage = await (await fetch(`${h.url}/console/counters`, { headers: { cookie } })).text();
    expect(countersPage).toContain('echo_rate');
    // Revoked: refused from the next request on (a config grant can be revoked too).
    expect((await h.api.post('/grants/ci-bot/revoke')).status).toBe(200);
    const after = await a.callTool('echo', { text: 'again' }).catch((err: Error) => err);
    expect(after).toBeInstanceOf(Error);
    expect((await h.api.post('/grants/alice/revoke')).status).toBe(200);
    const alice = await fetch(`${h.url}/servers/up/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${h.tokens.alice}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    expect(alice.status).toBe(401);
  });

  it(verifies('gateway.console.counters'), async () => {
    const h = await setup();
    const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens.alice ?? '', 'v2-2026');
    closers.push(() => a.close());
    for (const text of ['one', 'two']) expect(textOf(await a.callTool('echo', { text }))).toBe(text);
    const counters = (await h.api.get('/counters')).body.counters as Array<Record<string, unknown>>;
    expect(counters).toEqual([
      expect.objectContaining({ grant: 'alice', server: 'up', counter: 'echo_rate', count: 2, max: 5 }),
    ]);
    const cookie = await signIn(h);
    const page = await (await fetch(`${h.url}/console/counters`, { headers: { cookie } })).text();
    expect(page).toMatch(
      /<td>alice<\/td><td>up<\/td><td>echo_rate<\/td><td>60 s<\/td><td>2<\/td><td>5<\/td>/,
    );
  });

  it(verifies('gateway.console.api'), async () => {
    const upstream = await startModernFixture('dual');
    closers.push(() => upstream.close());
    const h = await startOversightGateway({
      servers: {
        up: {
          transport: 'http',
          url: upstream.url,
          policy: { version: '1', default: 'allow', tools: { echo: { action: 'require_approval' } } },
        },
      },
    });
    closers.push(() => h.close());
    const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens.alice ?? '', 'v1');
    closers.push(() => a.close());
    await a.callTool('echo', { text: 'deploy', apiKey: 'k-123' });
    const { approvals } = (await h.api.get('/approvals')).body as {
      approvals: Array<Record<string, unknown>>;
    };
    expect(approvals).toHaveLength(1);
    const [approval] = approvals;
    expect(Object.keys(approval ?? {})).toEqual(
      expect.arrayContaining(['id', 'status', 'grant', 'server', 'tool', 'arguments', 'rule', 'expiresAt']),
    );
    expect(approval).toMatchObject({
      status: 'pending',
      grant: 'alice',
      server: 'up',
      tool: 'echo',
      rule: '/tools/echo/action',
    });
    expect(approval?.arguments).toEqual({ text: 'deploy', apiKey: '[REDACTED]' });
    const id = String(approval?.id);
    expect((await h.api.post(`/approvals/${id}`, { decision: 'maybe' })).status).toBe(400);
    expect((await h.api.post('/approvals/no-such-id', { decision: 'approve' })).status).toBe(404);
    const decided = await h.api.post(`/approvals/${id}`, { decision: 'approve', reason: 'ok by me' });
    expect(decided).toMatchObject({
      status: 200,
      body: { approval: { id, status: 'approved', decidedBy: 'ops (console API)' } },
    });
    expect((await h.api.post(`/approvals/${id}`, { decision: 'deny' })).status).toBe(409);
    expect((await h.api.get(`/approvals/${id}`)).body).toMatchObject({ approval: { status: 'approved' } });
  });

  it('bastion-gateway admin create prints a new admin token once and the entry with its SHA-256', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [BASTION_BINS.gateway, 'admin', 'create']);
    const token = /^\s+(bga_\S+)$/m.exec(stdout)?.[1] ?? '';
    const entry = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { admin: { tokenSha256: string } };
    expect(entry.admin.tokenSha256).toBe(createHash('sha256').update(token).digest('hex'));
  });

  it(verifies('gateway.console.landing'), async () => {
    const h = await setup();
    await h.api.post('/grants', { label: 'secret-label', servers: ['up'] });
    const res = await fetch(`${h.url}/`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('href="/console"');
    expect(page).toContain('/servers/up/mcp');
    for (const secret of [h.adminToken, h.tokens.alice ?? '', 'secret-label', 'alice', 'bgw_', 'bga_'])
      expect(page).not.toContain(secret);
  });
});
