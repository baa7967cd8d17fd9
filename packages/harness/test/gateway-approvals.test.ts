/**
 * Approval as a policy outcome, through the gateway with the official clients: how each kind of
 * agent waits (an [APPROVAL REQUIRED] retry, an input_required round, an elicitation within the
 * call), what an approval is bound to, that it is used once and expires, and the quota it holds.
 * The console's JSON API decides, as an admin's script would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { startModernFixture } from './gateway-fixtures/server-v2.js';
import {
  type AgentKind,
  connectOversightAgent,
  errorCode,
  type OversightAgent,
  type OversightGateway,
  pendingApproval,
  startOversightGateway,
  textOf,
} from './oversight-fixtures.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function policy(echo: Record<string, unknown>) {
  return { version: '1', default: 'allow', tools: { echo } };
}

async function setup(echo: Record<string, unknown>, grants = ['alice']): Promise<OversightGateway> {
  const upstream = await startModernFixture('dual');
  closers.push(() => upstream.close());
  const h = await startOversightGateway({
    servers: { up: { transport: 'http', url: upstream.url, policy: policy(echo) } },
    grants,
  });
  closers.push(() => h.close());
  return h;
}

async function agent(
  h: OversightGateway,
  kind: AgentKind,
  options: Parameters<typeof connectOversightAgent>[3] = {},
  grant = 'alice',
): Promise<OversightAgent> {
  const a = await connectOversightAgent(`${h.url}/servers/up/mcp`, h.tokens[grant] ?? '', kind, options);
  closers.push(() => a.close());
  return a;
}

describe('agents that cannot be asked: [APPROVAL REQUIRED], then the same call again', () => {
  const cases = [
    ['v1', verifies('gateway.approval.retry', { era: '2025-11-25' })],
    ['v2-2025', verifies('gateway.approval.retry', { era: '2025-11-25' })],
    ['v2-2026', verifies('gateway.approval.retry', { era: '2026-07-28' })],
  ] as const;
  for (const [kind, title] of cases) {
    it(`${title} (${kind})`, async () => {
      const h = await setup({ action: 'require_approval', reason: 'echo speaks for us' });
      const a = await agent(h, kind);
      const first = await a.callTool('echo', { text: 'hello', password: 'hunter2' });
      expect(first.isError).toBe(true);
      expect(errorCode(first)).toBe('APPROVAL_REQUIRED');
      expect(first.structuredContent).toBeUndefined();
      const text = textOf(first);
      expect(text.startsWith('[APPROVAL REQUIRED]')).toBe(true);
      expect(text).toContain('/tools/echo/action');
      expect(text).toContain(`${h.url}/console/approvals/`);

      const [listed, ...others] = (await h.api.approvals()).filter((x) => x.status === 'pending');
      expect(others).toEqual([]);
      expect(listed).toMatchObject({
        status: 'pending',
        grant: 'alice',
        server: 'up',
        tool: 'echo',
        rule: '/tools/echo/action',
        arguments: { text: 'hello', password: '[REDACTED]' },
      });
      expect(typeof listed?.expiresAt).toBe('string');
      // Retried before anyone decided: the same approval, still waiting.
      const again = await a.callTool('echo', { text: 'hello', password: 'hunter2' });
      expect(textOf(again)).toContain(String(listed?.id));

      expect((await h.api.decide(String(listed?.id), 'approve', 'looks fine')).status).toBe(200);
      const done = await a.callTool('echo', { text: 'hello', password: 'hunter2' });
      expect(done.isError).toBeFalsy();
      expect(textOf(done)).toBe('hello');
      // Used once: the same call needs a new approval.
      const third = await a.callTool('echo', { text: 'hello', password: 'hunter2' });
      expect(errorCode(third)).toBe('APPROVAL_REQUIRED');
      expect(textOf(third)).not.toContain(String(listed?.id));
    });
  }
});

describe('2026-07-28 agents that declare elicitation: an input_required round', () => {
  it(verifies('gateway.approval.input-required'), async () => {
    const h = await setup({ action: 'require_approval' });
    const asked: Array<Record<string, unknown>> = [];
    const a = await agent(h, 'v2-2026', {
      modes: ['url'],
      // The user opens the console link; an admin approves there; the user says "done".
      elicit: async (params) => {
        asked.push(params);
        const pending = await pendingApproval(h.api, 'echo');
        expect(params.url).toBe(`${h.url}/console/approvals/${pending.id}`);
        await h.api.decide(String(pending.id), 'approve');
        return { action: 'accept' };
      },
    });
    const result = await a.callTool('echo', { text: 'through MRTR' });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('through MRTR');
    expect(asked).toHaveLength(1);
    expect(asked[0]?.mode).toBe('url');
  });

  it(`${verifies('gateway.approval.input-required')} (the user at the agent decides, form mode)`, async () => {
    const h = await setup({ action: 'require_approval', approval: { approvers: ['user'] } });
    let answer = 'approve';
    const a = await agent(h, 'v2-2026', {
      modes: ['form'],
      elicit: (params) => {
        expect(params.requestedSchema).toMatchObject({
          properties: { decision: { enum: ['approve', 'deny'] } },
        });
        return { action: 'accept', content: { decision: answer, reason: `I say ${answer}` } };
      },
    });
    expect(textOf(await a.callTool('echo', { text: 'yes' }))).toBe('yes');
    answer = 'deny';
    const denied = await a.callTool('echo', { text: 'no' });
    expect(errorCode(denied)).toBe('APPROVAL_DENIED');
    expect(textOf(denied)).toContain("the user at the agent (grant 'alice'): I say deny");
  });
});

describe('an approved tool that asks for input itself', () => {
  it(`${verifies('gateway.approval.input-required')} (the upstream's own input round follows the approval, asked once)`, async () => {
    const upstream = await startModernFixture('dual');
    closers.push(() => upstream.close());
    const h = await startOversightGateway({
      servers: {
        up: {
          transport: 'http',
          url: upstream.url,
          policy: {
            version: '1',
            default: 'allow',
            tools: { confirm: { action: 'require_approval', approval: { approvers: ['user'] } } },
          },
        },
      },
    });
    closers.push(() => h.close());
    const asked: string[] = [];
    const a = await agent(h, 'v2-2026', {
      modes: ['form'],
      elicit: (params) => {
        const message = String(params.message);
        asked.push(message);
        // The gateway's question (approve the call), then the upstream's own (confirm it).
        return message.startsWith('The Bastion gateway')
          ? { action: 'accept', content: { decision: 'approve' } }
          : { action: 'accept', content: { ok: true } };
      },
    });
    expect(textOf(await a.callTool('confirm', { action: 'deploy' }))).toBe('confirmed deploy');
    expect(asked.map((m) => m.startsWith('The Bastion gateway'))).toEqual([true, false]);
    expect(upstream.calls.size).toBe(1);
  });
});

describe('2025-era agents that declare elicitation: elicitation/create within the call', () => {
  for (const kind of ['v1', 'v2-2025'] as const) {
    it(`${verifies('gateway.approval.elicitation')} (${kind}, form mode: the user decides)`, async () => {
      const h = await setup({ action: 'require_approval', approval: { approvers: ['user', 'console'] } });
      const a = await agent(h, kind, {
        modes: ['form'],
        elicit: (params) => {
          expect(params.mode ?? 'form').toBe('form');
          expect(String(params.message)).toContain("'echo' on server 'up'");
          return { action: 'accept', content: { decision: 'approve' } };
        },
      });
      expect(textOf(await a.callTool('echo', { text: `form ${kind}` }))).toBe(`form ${kind}`);
      const [decided] = await h.api.approvals();
      expect(decided).toMatchObject({
        status: 'consumed',
        decidedBy: "the user at the agent (grant 'alice')",
      });
    });

    it(`${verifies('gateway.approval.elicitation')} (${kind}, URL mode: an admin decides in the console)`, async () => {
      const h = await setup({ action: 'require_approval' });
      const a = await agent(h, kind, {
        modes: ['url'],
        elicit: async (params) => {
          expect(params).toMatchObject({ mode: 'url', elicitationId: expect.any(String) });
          const pending = await pendingApproval(h.api, 'echo');
          expect(params.url).toBe(`${h.url}/console/approvals/${pending.id}`);
          // Approved after the user acknowledged the link: the call was held open meanwhile.
          setTimeout(() => void h.api.decide(String(pending.id), 'approve'), 50);
          return { action: 'accept' };
        },
      });
      expect(textOf(await a.callTool('echo', { text: `url ${kind}` }))).toBe(`url ${kind}`);
    });
  }

  it(`${verifies('gateway.approval.deny')} (a user who declines withdraws the call)`, async () => {
    const h = await setup({ action: 'require_approval' });
    const a = await agent(h, 'v1', { modes: ['url'], elicit: () => ({ action: 'decline' }) });
    const result = await a.callTool('echo', { text: 'never mind' });
    expect(errorCode(result)).toBe('APPROVAL_DENIED');
    expect(textOf(result)).toContain('declined at the agent');
  });
});
