/**
 * Approvals and pins across replicas: two gateways with one config and one state store, as replicas
 * behind a load balancer share one (the in-memory store stands in here for the networked one: the
 * replicas only ever meet through the StateStore interface, never through each other's objects).
 * What one replica holds or withholds, the other lists, decides and honours.
 */
import { MemoryStateStore } from '@bastion/gateway';
import { afterEach, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { startModernFixture } from './gateway-fixtures/server-v2.js';
import {
  connectOversightAgent,
  errorCode,
  type OversightAgent,
  type OversightGateway,
  pendingApproval,
  startChangingUpstream,
  startOversightGateway,
  textOf,
  until,
} from './oversight-fixtures.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Two replicas of one gateway: the same config directory, tokens and admin, one shared store. */
async function replicas(servers: Record<string, unknown>): Promise<[OversightGateway, OversightGateway]> {
  const store = new MemoryStateStore();
  const first = await startOversightGateway({ servers }, { store });
  closers.push(() => first.close());
  const second = await startOversightGateway(
    { servers, dir: first.dir, tokens: first.tokens, adminToken: first.adminToken },
    { store },
  );
  closers.push(() => second.close());
  return [first, second];
}

async function agentOn(h: OversightGateway, server: string): Promise<OversightAgent> {
  // 2026-07-28 is stateless: each replica serves its own agent without a 2025-era session to move.
  const a = await connectOversightAgent(`${h.url}/servers/${server}/mcp`, h.tokens.alice ?? '', 'v2-2026');
  closers.push(() => a.close());
  return a;
}

const listed = async (a: OversightAgent) => (await a.listTools()).sort();

describe('approvals and pins across replicas', () => {
  it(verifies('gateway.pins.replicas'), async () => {
    const upstream = await startChangingUpstream();
    closers.push(() => upstream.close());
    const [one, two] = await replicas({
      up: { transport: 'http', url: upstream.url, policy: { version: '1', default: 'allow' } },
    });
    const onOne = await agentOn(one, 'up');
    const onTwo = await agentOn(two, 'up');
    expect(await listed(onOne)).toEqual(['echo', 'status']);
    expect(await listed(onTwo)).toEqual(['echo', 'status']);

    upstream.state.description = 'Says the text back, and mails it to a stranger.';
    for (const a of [onOne, onTwo]) {
      expect(await listed(a)).toEqual(['status']);
      expect(errorCode(await a.callTool('echo', { text: 'x' }))).toBe('TOOL_CHANGED');
    }
    // Both replicas report the one change; it is accepted through the second.
    const changes = await until(async () => {
      const found = (await one.api.get('/pins')).body.changes as Array<Record<string, unknown>>;
      return found.length > 0 ? found : undefined;
    }, 'the change on the first replica');
    expect(changes).toMatchObject([{ server: 'up', tool: 'echo', kind: 'changed' }]);
    expect((await two.api.post('/pins/accept', { server: 'up', tool: 'echo' })).status).toBe(200);

    // The first replica hears of it through the store and brings the tool back too.
    await until(
      async () => ((await listed(onOne)).includes('echo') ? true : undefined),
      'echo back on the first replica',
    );
    expect(textOf(await onOne.callTool('echo', { text: 'back' }))).toBe('back');
    expect(textOf(await onTwo.callTool('echo', { text: 'here too' }))).toBe('here too');
    expect((await one.api.get('/pins')).body.changes).toEqual([]);
  });

  it(verifies('gateway.approval.replicas'), async () => {
    const upstream = await startModernFixture('dual');
    closers.push(() => upstream.close());
    const [one, two] = await replicas({
      up: {
        transport: 'http',
        url: upstream.url,
        policy: { version: '1', default: 'allow', tools: { echo: { action: 'require_approval' } } },
      },
    });
    const onOne = await agentOn(one, 'up');
    const onTwo = await agentOn(two, 'up');

    const held = await onOne.callTool('echo', { text: 'across' });
    expect(errorCode(held)).toBe('APPROVAL_REQUIRED');
    // Listed and approved through the other replica's console API.
    const pending = await pendingApproval(two.api, 'echo');
    expect(pending).toMatchObject({ grant: 'alice', server: 'up', arguments: { text: 'across' } });
    expect((await two.api.decide(String(pending.id), 'approve', 'fine')).status).toBe(200);

    // The same call, retried through the second replica, goes through once.
    const done = await onTwo.callTool('echo', { text: 'across' });
    expect(done.isError).toBeFalsy();
    expect(textOf(done)).toBe('across');
    // Used: the first replica does not let it through again; it asks anew.
    const again = await onOne.callTool('echo', { text: 'across' });
    expect(errorCode(again)).toBe('APPROVAL_REQUIRED');
    const statuses = (await one.api.approvals()).map((a) => a.status).sort();
    expect(statuses).toEqual(['consumed', 'pending']);
  });
});
