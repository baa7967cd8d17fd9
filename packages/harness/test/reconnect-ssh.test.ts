/**
 * The reconnect suite, SSH side: sshd ended with SIGKILL (every session goes with it) or SIGTERM
 * (a real sshd leaves open sessions to their own processes; a container's goes with its container)
 * and started again on the same port. Either way the next exec on the same connection id works.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import type { FaultSignal } from '../src/targets/process.js';
import { sshHostProvidersWith } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import {
  callTool,
  connectArgs,
  connectOrFail,
  LogCapture,
  leakedSecrets,
  resultsSeen,
  type SshServerUnderTest,
  startSshMcpServer,
} from './ssh-support.js';

interface Listed {
  connections: Array<{ connectionId: string; state: string; reconnects: number }>;
}

describeEachTier('reconnect: sshd restarted', sshHostProvidersWith('restart'), (ctx) => {
  const logs = new LogCapture();
  let server: SshServerUnderTest;
  beforeAll(async () => {
    server = await startSshMcpServer({}, logs);
  });
  afterAll(() => server?.close()); // undefined when the target did not start

  for (const signal of ['SIGKILL', 'SIGTERM'] as FaultSignal[]) {
    it(`${verifies('reconnect.ssh.restart')} (after ${signal})`, async () => {
      const target = ctx.target();
      const client = await server.session();
      const id = await connectOrFail(client, connectArgs(target, 'key'));
      const before = await callTool(client, 'exec', { connectionId: id, command: 'echo before' });
      expect(before.structured).toMatchObject({ stdout: 'before\n', reconnected: false });

      await target.restart({ signal });

      const after = await callTool<{ stdout: string; reconnected: boolean }>(client, 'exec', {
        connectionId: id,
        command: 'echo after',
      });
      expect(after.isError, after.text).toBe(false);
      expect(after.structured.stdout).toBe('after\n');
      // A SIGKILL takes every session with it, so the exec had to reconnect; after a SIGTERM it
      // reconnected exactly when its session was gone. Either way the listing agrees with the exec.
      if (signal === 'SIGKILL') expect(after.structured.reconnected).toBe(true);
      const listed = (await callTool<Listed>(client, 'listConnections', {})).structured.connections;
      expect(listed.find((c) => c.connectionId === id)).toMatchObject({
        state: 'ready',
        reconnects: after.structured.reconnected ? 1 : 0,
      });

      // And the restarted sshd takes new logins.
      const fresh = await connectOrFail(await server.session(), connectArgs(target, 'key'));
      expect(fresh).not.toBe('');
      await callTool(client, 'disconnect', { connectionId: id });
    });
  }

  it('leaks no secret on the reconnect path', () => {
    const target = ctx.target();
    expect(leakedSecrets([logs.text(), target.logs(), ...resultsSeen], target.secrets())).toEqual([]);
  });
});
