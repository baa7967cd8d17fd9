/**
 * What an approval is good for: one exact call (grant, server, tool, arguments, policy version),
 * once, in time; the quota a waiting call holds; require_approval_if; the webhook; the audit rows.
 */

import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { SIGNATURE_HEADER, signWebhook } from '@bastion/gateway';
import type { Client as V2Client } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { startModernFixture } from './gateway-fixtures/server-v2.js';
import {
  connectOversightAgent,
  errorCode,
  type OversightConfig,
  type OversightGateway,
  pendingApproval,
  startOversightGateway,
  textOf,
  until,
} from './oversight-fixtures.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup(
  echo: Record<string, unknown>,
  extra: Partial<OversightConfig> = {},
): Promise<OversightGateway> {
  const upstream = await startModernFixture('dual');
  closers.push(() => upstream.close());
  const h = await startOversightGateway({
    servers: {
      up: {
        transport: 'http',
        url: upstream.url,
        policy: { version: '1', default: 'allow', tools: { echo } },
      },
    },
    grants: ['alice', 'bob'],
    ...extra,
  });
  closers.push(() => h.close());
  return h;
}

/** A 2026-era agent driving the rounds itself (the SDK's manual path), to present a state it was given. */
async function manualAgent(h: OversightGateway, grant: string) {
  const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens[grant] ?? '', 'v2-2026', {
    modes: ['url'],
    manual: true,
    elicit: () => ({ action: 'accept' }),
  });
  closers.push(() => a.close());
  const client = a.raw as V2Client;
  return (params: Record<string, unknown>) =>
    client.callTool(params as never, { allowInputRequired: true, timeout: 60_000 } as never) as Promise<
      Record<string, unknown>
    >;
}

describe('an approval is good for one exact call', () => {
  it(verifies('gateway.approval.bound'), async () => {
    const h = await setup({ action: 'require_approval' });
    const alice = await manualAgent(h, 'alice');
    const bob = await manualAgent(h, 'bob');
    const first = await alice({ name: 'echo', arguments: { text: 'rm -rf /tmp/x' } });
    expect(first.resultType).toBe('input_required');
    const requestState = first.requestState as string;
    const pending = await pendingApproval(h.api, 'echo');
    await h.api.decide(String(pending.id), 'approve');
    const accepted = { 'dev.bastion/approval': { action: 'accept' } };

    // The approval presented with other arguments, or by another grant, is denied.
    const changed = await alice({
      name: 'echo',
      arguments: { text: 'rm -rf /' },
      requestState,
      inputResponses: accepted,
    });
    expect(errorCode(changed as never)).toBe('APPROVAL_MISMATCH');
    expect(textOf(changed as never)).toContain('other arguments');
    const stolen = await bob({
      name: 'echo',
      arguments: { text: 'rm -rf /tmp/x' },
      requestState,
      inputResponses: accepted,
    });
    expect(errorCode(stolen as never)).toBe('APPROVAL_MISMATCH');
    expect(textOf(stolen as never)).toContain('another grant');

    // The call it was given for goes through, once.
    const done = await alice({
      name: 'echo',
      arguments: { text: 'rm -rf /tmp/x' },
      requestState,
      inputResponses: accepted,
    });
    expect(textOf(done as never)).toBe('rm -rf /tmp/x');
    const replayed = await alice({
      name: 'echo',
      arguments: { text: 'rm -rf /tmp/x' },
      requestState,
      inputResponses: accepted,
    });
    expect(errorCode(replayed as never)).toBe('APPROVAL_USED');
  });

  it(verifies('gateway.approval.single-use'), async () => {
    const h = await setup({ action: 'require_approval' });
    const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens.alice ?? '', 'v1');
    closers.push(() => a.close());
    expect(errorCode(await a.callTool('echo', { text: 'once' }))).toBe('APPROVAL_REQUIRED');
    await h.api.decide(String((await pendingApproval(h.api, 'echo')).id), 'approve');
    expect(textOf(await a.callTool('echo', { text: 'once' }))).toBe('once');
    // The same call again: the approval was used up, so a new one is asked for.
    const again = await a.callTool('echo', { text: 'once' });
    expect(errorCode(again)).toBe('APPROVAL_REQUIRED');
    const approvals = await h.api.approvals();
    expect(approvals.map((x) => x.status).sort()).toEqual(['consumed', 'pending']);
  });

  it(verifies('gateway.approval.expiry'), async () => {
    const h = await setup({
      action: 'require_approval',
      approval: { timeout: '1s' },
      limits: [{ counter: 'echo', window: 'hour', max: 1 }],
    });
    const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens.alice ?? '', 'v1');
    closers.push(() => a.close());
    expect(errorCode(await a.callTool('echo', { text: 'one' }))).toBe('APPROVAL_REQUIRED');
    // The waiting call holds the hour's one unit: another call is refused by the limit.
    const second = await a.callTool('echo', { text: 'two' });
    expect(errorCode(second)).toBe('POLICY_DENIED');
    expect(textOf(second)).toContain('rate limit reached');
    const counted = async () =>
      ((await h.api.get('/counters')).body.counters as Array<{ count: number }>)[0]?.count;
    expect(await counted()).toBe(1);
    // Nobody decides: it expires, the call is denied, and the unit is returned.
    const expired = await until(async () => {
      const found = (await h.api.approvals()).find((x) => x.status === 'expired');
      return found;
    }, 'the approval to expire');
    expect(expired).toMatchObject({ decidedBy: '(timeout)' });
    const late = await a.callTool('echo', { text: 'one' });
    expect(errorCode(late)).toBe('APPROVAL_EXPIRED');
    await until(async () => ((await counted()) === 0 ? true : undefined), 'the unit to be returned');
    expect(errorCode(await a.callTool('echo', { text: 'two' }))).toBe('APPROVAL_REQUIRED');
  });

  it(`${verifies('gateway.approval.quota')} (a denial returns the unit; approved calls keep theirs)`, async () => {
    const h = await setup({
      action: 'require_approval',
      limits: [{ counter: 'echo', window: 'hour', max: 1 }],
    });
    const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens.alice ?? '', 'v2-2025');
    closers.push(() => a.close());
    await a.callTool('echo', { text: 'one' });
    const pending = await pendingApproval(h.api, 'echo');
    expect((await h.api.decide(String(pending.id), 'deny', 'not on a Friday')).status).toBe(200);
    expect((await h.api.decide(String(pending.id), 'approve')).status).toBe(409);
    const denied = await a.callTool('echo', { text: 'one' });
    expect(errorCode(denied)).toBe('APPROVAL_DENIED');
    expect(textOf(denied)).toContain('ops (console API): not on a Friday');
    // The unit came back: a new call is admitted for approval, approved, and keeps it.
    expect(errorCode(await a.callTool('echo', { text: 'two' }))).toBe('APPROVAL_REQUIRED');
    await h.api.decide(String((await pendingApproval(h.api, 'echo')).id), 'approve');
    expect(textOf(await a.callTool('echo', { text: 'two' }))).toBe('two');
    const third = await a.callTool('echo', { text: 'three' });
    expect(textOf(third)).toContain('rate limit reached');
  });
});

describe('require_approval_if, the webhook and the audit rows', () => {
  it(verifies('gateway.approval.condition'), async () => {
    const h = await setup({ require_approval_if: [{ path: 'args.text', op: 'regex', value: '^sudo ' }] });
    const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens.alice ?? '', 'v1');
    closers.push(() => a.close());
    // The condition does not hold: no approval. It holds: approval, naming the condition.
    expect(textOf(await a.callTool('echo', { text: 'ls' }))).toBe('ls');
    const asked = await a.callTool('echo', { text: 'sudo reboot' });
    expect(errorCode(asked)).toBe('APPROVAL_REQUIRED');
    expect(textOf(asked)).toContain('/tools/echo/require_approval_if/0');
  });

  it(verifies('gateway.approval.webhook'), async () => {
    const secret = 'a-webhook-secret-of-some-length';
    const received: Array<{ body: string; signature: string | undefined }> = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push({ body, signature: req.headers[SIGNATURE_HEADER] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => hook.close(resolve)));
    const port = (hook.address() as { port: number }).port;
    const h = await setup(
      { action: 'require_approval' },
      { webhook: { url: `http://127.0.0.1:${port}/hook`, secret } },
    );
    const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens.alice ?? '', 'v1');
    closers.push(() => a.close());
    await a.callTool('echo', { text: 'sudo reboot', token: 'do-not-post-me' });
    const delivery = await until(async () => received[0], 'the webhook delivery');
    const event = JSON.parse(delivery.body) as {
      type: string;
      approval: { id: string; tool: string };
      url: string;
    };
    expect(event).toMatchObject({ type: 'approval.pending', approval: { tool: 'echo' } });
    expect(event.url).toBe(`${h.url}/console/approvals/${event.approval.id}`);
    expect(delivery.body).not.toContain('do-not-post-me');
    const t = Number(/t=(\d+)/.exec(delivery.signature ?? '')?.[1]);
    expect(delivery.signature).toBe(signWebhook(secret, delivery.body, t));
    expect(delivery.signature).not.toBe(signWebhook('another-secret-entirely', delivery.body, t));
  });

  it(verifies('gateway.approval.audit'), async () => {
    const h = await setup({ action: 'require_approval' }, { audit: true });
    const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens.alice ?? '', 'v1');
    closers.push(() => a.close());
    await a.callTool('echo', { text: 'sudo reboot' });
    await h.api.decide(String((await pendingApproval(h.api, 'echo')).id), 'approve', 'planned maintenance');
    expect(textOf(await a.callTool('echo', { text: 'sudo reboot' }))).toBe('sudo reboot');
    await a.callTool('echo', { text: 'halt' });
    await h.api.decide(String((await pendingApproval(h.api, 'echo')).id), 'deny', 'no');
    await h.gateway.close(); // flushes the audit log
    const rows = (await readFile(join(h.dir, 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const decisions = rows.filter((r) => r.method === 'approval/decide');
    expect(decisions).toEqual([
      expect.objectContaining({
        decision: 'approve',
        decidedBy: 'ops (console API)',
        reason: 'planned maintenance',
      }),
      expect.objectContaining({ decision: 'deny', decidedBy: 'ops (console API)', reason: 'no' }),
    ]);
    const calls = rows.filter((r) => r.method === 'tools/call');
    expect(calls.map((r) => r.decision)).toEqual(['pending', 'allow', 'pending']);
    expect(calls[1]).toMatchObject({ reason: expect.stringContaining('approved by ops (console API)') });
  });
});
