/**
 * Sessions and connection lifetime against a real SSH host in every tier: isolation between MCP
 * sessions, keepalive detection of a host that stopped answering, and reconnecting after the host
 * was killed and restarted on the same port.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { sshHostProviders } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import {
  callTool,
  connectArgs,
  connectOrFail,
  eventually,
  LogCapture,
  leakedSecrets,
  resultsSeen,
  type SshServerUnderTest,
  startSshMcpServer,
} from './ssh-support.js';

interface Listed {
  connections: Array<{ connectionId: string; state: string; reconnects: number; lastError?: string }>;
}

async function stateOf(client: Client, connectionId: string) {
  const list = await callTool<Listed>(client, 'listConnections', {});
  return list.structured.connections.find((c) => c.connectionId === connectionId);
}

describeEachTier('ssh-server sessions and reconnects', sshHostProviders, (ctx) => {
  const logs = new LogCapture();
  let server: SshServerUnderTest;
  let fastKeepalives: SshServerUnderTest;

  beforeAll(async () => {
    server = await startSshMcpServer({}, logs);
    // Fast keepalives so that a silent host is noticed within the test's patience; only the keepalive
    // test uses them, so that a busy machine cannot make the other tests' connections look dead.
    fastKeepalives = await startSshMcpServer({ keepaliveIntervalMs: 200, keepaliveCountMax: 3 }, logs);
  });
  afterAll(async () => {
    await server?.close();
    await fastKeepalives?.close();
  });

  it(verifies('ssh.session.isolation'), async () => {
    const target = ctx.target();
    const a = await server.session();
    const b = await server.session();
    const idA = await connectOrFail(a, connectArgs(target, 'key'));
    const listA = await callTool<Listed>(a, 'listConnections', {});
    expect(listA.structured.connections.map((c) => c.connectionId)).toEqual([idA]);
    const listB = await callTool<Listed>(b, 'listConnections', {});
    expect(listB.structured.connections).toEqual([]);
    for (const [tool, args] of [
      ['exec', { connectionId: idA, command: 'echo stolen' }],
      ['downloadFile', { connectionId: idA, remotePath: '/etc/hostname' }],
      ['uploadFile', { connectionId: idA, remotePath: `${target.scratchDir}/stolen`, content: 'x' }],
      ['disconnect', { connectionId: idA }],
    ] as const) {
      const result = await callTool(b, tool, args);
      expect([tool, result.isError, result.structured.code]).toEqual([tool, true, 'UNKNOWN_CONNECTION']);
    }
    // A's connection is untouched by B's attempts.
    expect((await callTool(a, 'exec', { connectionId: idA, command: 'echo mine' })).structured.stdout).toBe(
      'mine\n',
    );
    await callTool(a, 'disconnect', { connectionId: idA });
    expect((await callTool<Listed>(a, 'listConnections', {})).structured.connections).toEqual([]);
  });

  ctx.itWith('pause')(verifies('ssh.keepalive.dead'), async () => {
    const target = ctx.target();
    const client = await fastKeepalives.session();
    const id = await connectOrFail(client, connectArgs(target, 'key'));
    expect((await stateOf(client, id))?.state).toBe('ready');
    await target.pause();
    try {
      await eventually(async () => (await stateOf(client, id))?.state === 'dead');
      expect((await stateOf(client, id))?.lastError).toMatch(/keepalive/i);
    } finally {
      await target.resume();
    }
    // The host answers again: the next exec re-establishes the connection.
    const run = await callTool(client, 'exec', { connectionId: id, command: 'echo back' });
    expect(run.isError, run.text).toBe(false);
    expect(run.structured).toMatchObject({ stdout: 'back\n', reconnected: true });
  });

  ctx.itWith('restart')(verifies('ssh.reconnect.exec'), async () => {
    const target = ctx.target();
    const client = await server.session();
    const login = target.passwordLogin === undefined ? 'key' : 'password';
    const id = await connectOrFail(client, connectArgs(target, login));
    const before = await callTool(client, 'exec', { connectionId: id, command: 'echo before' });
    expect(before.structured).toMatchObject({ stdout: 'before\n', reconnected: false });

    await target.restart();
    const after = await callTool(client, 'exec', { connectionId: id, command: 'echo after' });
    expect(after.isError, after.text).toBe(false);
    expect(after.structured).toMatchObject({ stdout: 'after\n', reconnected: true });
    expect(after.text).toContain('re-established');
    const listed = await stateOf(client, id);
    expect(listed).toMatchObject({ state: 'ready', reconnects: 1 });

    // Once is enough: the next exec uses the re-established connection as it is.
    const again = await callTool(client, 'exec', { connectionId: id, command: 'echo again' });
    expect(again.structured).toMatchObject({ stdout: 'again\n', reconnected: false });
  });

  ctx.itWith('restart')('says clearly when the host is still gone and reconnecting fails', async () => {
    const target = ctx.target();
    const client = await server.session();
    const id = await connectOrFail(client, connectArgs(target, 'key'));
    // Back with a different host key: the pinned key no longer matches, so reconnecting must fail.
    await target.restart({ newHostKey: true });
    const result = await callTool(client, 'exec', { connectionId: id, command: 'echo never' });
    expect(result.isError).toBe(true);
    expect(result.structured.code).toBe('RECONNECT_FAILED');
    expect(result.text).toContain(target.hostKey.fingerprint);
    expect((await stateOf(client, id))?.state).toBe('dead');
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const target = ctx.target();
    // The reconnect path logged too (where the host could be restarted), and leaked nothing either.
    if (ctx.lacks('restart') === undefined) expect(logs.text()).toContain('ssh reconnected');
    expect(leakedSecrets([logs.text(), target.logs(), ...resultsSeen], target.secrets())).toEqual([]);
  });
});
