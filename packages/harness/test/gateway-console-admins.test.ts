/**
 * Several admins: `"admin": { "accounts": [...] }` gives each person a token of their own, so the
 * console says who is signed in and every decision (page or API) names the admin who made it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAdminToken } from '@bastion/gateway';
import { afterEach, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { BASTION_BINS } from '../src/targets/mcp-process.js';
import { startModernFixture } from './gateway-fixtures/server-v2.js';
import {
  connectOversightAgent,
  consoleApi,
  errorCode,
  pendingApproval,
  startOversightGateway,
  textOf,
} from './oversight-fixtures.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const csrfOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';

function post(url: string, fields: Record<string, string>, cookie = '') {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(fields).toString(),
  });
}

describe('several admins', () => {
  it(verifies('gateway.console.admins'), async () => {
    const upstream = await startModernFixture('dual');
    closers.push(() => upstream.close());
    const ann = createAdminToken().token;
    const bob = createAdminToken().token;
    const h = await startOversightGateway({
      servers: {
        up: {
          transport: 'http',
          url: upstream.url,
          policy: { version: '1', default: 'allow', tools: { echo: { action: 'require_approval' } } },
        },
      },
      admins: [
        { name: 'ann', token: ann },
        { name: 'bob', token: bob },
      ],
      audit: true,
    });
    closers.push(() => h.close());
    const agent = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens.alice ?? '', 'v1');
    closers.push(() => agent.close());

    // Ann approves through the API with her token.
    expect(errorCode(await agent.callTool('echo', { text: 'one' }))).toBe('APPROVAL_REQUIRED');
    const asAnn = consoleApi(h.url, ann);
    const first = await pendingApproval(asAnn, 'echo');
    expect((await asAnn.decide(String(first.id), 'approve', 'fine')).body).toMatchObject({
      approval: { status: 'approved', decidedBy: 'ann (console API)' },
    });
    expect(textOf(await agent.callTool('echo', { text: 'one' }))).toBe('one');

    // Bob signs in to the pages with his token; the console says who he is, and his denial is his.
    const login = await post(`${h.url}/console/login`, { token: bob, next: '/console' });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(errorCode(await agent.callTool('echo', { text: 'two' }))).toBe('APPROVAL_REQUIRED');
    const second = await pendingApproval(asAnn, 'echo');
    const page = await (
      await fetch(`${h.url}/console/approvals/${second.id}`, { headers: { cookie } })
    ).text();
    expect(page).toContain('Signed in as bob');
    const denied = await post(
      `${h.url}/console/approvals/${second.id}`,
      { decision: 'deny', reason: 'not today', _csrf: csrfOf(page) },
      cookie,
    );
    expect(denied.status).toBe(303);
    const refused = await agent.callTool('echo', { text: 'two' });
    expect(errorCode(refused)).toBe('APPROVAL_DENIED');
    expect(textOf(refused)).toContain('bob (console): not today');

    // Neither a grant token nor a made-up one opens the API.
    for (const token of [h.tokens.alice ?? '', createAdminToken().token])
      expect((await consoleApi(h.url, token).get('/approvals')).status).toBe(401);

    await h.gateway.close(); // flushes the audit log
    const decisions = (await readFile(join(h.dir, 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((row) => row.method === 'approval/decide');
    expect(decisions).toEqual([
      expect.objectContaining({ decision: 'approve', decidedBy: 'ann (console API)' }),
      expect.objectContaining({ decision: 'deny', decidedBy: 'bob (console)', reason: 'not today' }),
    ]);
  });

  it('bastion-gateway admin create --name prints an account entry for "admin": { "accounts" }', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      BASTION_BINS.gateway,
      'admin',
      'create',
      '--name',
      'ann',
    ]);
    const token = /^\s+(bga_\S+)$/m.exec(stdout)?.[1] ?? '';
    const digest = createHash('sha256').update(token).digest('hex');
    // The two JSON blocks of the output: the account, then a whole "admin" entry for a first admin.
    const blocks = stdout.split('\n\n').filter((block) => block.startsWith('{'));
    expect(blocks.map((block) => JSON.parse(block) as unknown)).toEqual([
      { name: 'ann', tokenSha256: digest },
      { admin: { accounts: [{ name: 'ann', tokenSha256: digest }] } },
    ]);
  });
});
