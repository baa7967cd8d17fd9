/** The SSH host targets themselves: availability reasons, a pluggable command runner, restarts. */
import { describe, expect, it } from 'vitest';
import {
  type CommandRunner,
  EmbeddedSshHost,
  generateLoginKey,
  sshdAvailability,
  startEmbeddedSshTarget,
} from '../src/targets/ssh/index.js';
import { callTool, connectOrFail, LogCapture, startSshMcpServer } from './ssh-support.js';

describe('SSH host targets', () => {
  it('runs as root without the test users (key login as root), unless the process tier is required', () => {
    const env = { ...process.env, BASTION_SSH_USERS_FILE: '/nonexistent/users.json' };
    // Any user can start sshd for itself; as root the missing users only take away password logins,
    // which tests skip naming the one command that enables them.
    expect(sshdAvailability({ ...env, BASTION_REQUIRE_TIERS: '' })).toEqual({ available: true });
    const required = sshdAvailability({ ...env, BASTION_REQUIRE_TIERS: 'embedded,process' });
    if (process.getuid?.() === 0) {
      // Where the tier is required (CI), it runs whole or fails: nothing may skip for missing users.
      expect(required).toEqual({
        available: false,
        reason: expect.stringMatching(/\/nonexistent\/users\.json is missing.*setup-ssh-test-users\.sh/),
      });
    } else expect(required).toEqual({ available: true });
  });

  it('runs exec requests through a pluggable command runner (what the sandbox replaces)', async () => {
    const seen: string[] = [];
    const runner: CommandRunner = {
      start(request, io) {
        seen.push(`${request.username}:${request.command}`);
        io.stdout.write(`simulated ${request.command}\n`);
        io.stdin.resume();
        return { signal: () => {}, exit: Promise.resolve({ code: 7, signal: null }) };
      },
    };
    const key = generateLoginKey();
    const host = await EmbeddedSshHost.start({
      users: [{ username: 'sim', publicKeys: [key.publicKey] }],
      commandRunner: runner,
    });
    const server = await startSshMcpServer({}, new LogCapture());
    try {
      const client = await server.session();
      const id = await connectOrFail(client, {
        host: host.host,
        port: host.port,
        username: 'sim',
        privateKey: key.privateKey,
        hostFingerprint: host.hostKey.fingerprint,
      });
      const result = await callTool(client, 'exec', { connectionId: id, command: 'ls /' });
      expect(result.structured).toMatchObject({ stdout: 'simulated ls /\n', exitCode: 7 });
      expect(seen).toEqual(['sim:ls /']);
    } finally {
      await server.close();
      await host.stop();
    }
  });

  it('restarts on the same port, with the same or a new host key', async () => {
    const target = await startEmbeddedSshTarget();
    try {
      const { port } = target;
      const first = target.hostKey.fingerprint;
      await target.restart();
      expect([target.port, target.hostKey.fingerprint]).toEqual([port, first]);
      await target.restart({ newHostKey: true });
      expect(target.port).toBe(port);
      expect(target.hostKey.fingerprint).not.toBe(first);
    } finally {
      await target.stop();
    }
  });
});
