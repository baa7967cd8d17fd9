/**
 * Connecting to a real SSH host in every tier: password and key logins, and the host-key modes
 * (pinned, known_hosts, trust on first use, refused by default).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { generateLoginKey, PASSWORD_LOGIN_SKIP, sshHostProviders } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import {
  callTool,
  connectArgs,
  LogCapture,
  leakedSecrets,
  resultsSeen,
  type SshServerUnderTest,
  startSshMcpServer,
} from './ssh-support.js';

/** A fingerprint of some other key: what a mismatched pin looks like. */
function otherFingerprint(): string {
  const parsed = ssh2.utils.parseKey(generateLoginKey().publicKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('key');
  return `SHA256:${createHash('sha256').update(parsed.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
}

describeEachTier('ssh-server connect and host keys', sshHostProviders, (ctx) => {
  const logs = new LogCapture();
  const servers: SshServerUnderTest[] = [];
  const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
  let dir: string;
  let plain: SshServerUnderTest;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bastion-ssh-connect-'));
    plain = await startSshMcpServer({}, logs);
    servers.push(plain);
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it(verifies('ssh.auth.password'), async (test) => {
    const target = ctx.target();
    if (target.passwordLogin === undefined) test.skip(PASSWORD_LOGIN_SKIP);
    const client = await plain.session();
    const result = await callTool<{ connectionId: string }>(
      client,
      'connect',
      connectArgs(target, 'password'),
    );
    expect(result.isError, result.text).toBe(false);
    // USER is set by sshd (and the embedded host) to the login name.
    const run = await callTool(client, 'exec', {
      connectionId: result.structured.connectionId,
      command: 'echo "$USER"',
    });
    expect(run.structured.stdout).toBe(`${target.passwordLogin?.username}\n`);
  });

  it(verifies('ssh.hostkey.pinned'), async () => {
    const target = ctx.target();
    const client = await plain.session();
    const result = await callTool<{ fingerprint: string; hostKeyTrust: string }>(
      client,
      'connect',
      connectArgs(target, 'key'),
    );
    expect(result.isError, result.text).toBe(false);
    expect(result.structured.fingerprint).toBe(target.hostKey.fingerprint);
    expect(result.structured.hostKeyTrust).toBe('pinned');
  });

  it(verifies('ssh.auth.key'), async () => {
    const target = ctx.target();
    const client = await plain.session();
    const result = await callTool<{ connectionId: string; username: string }>(
      client,
      'connect',
      connectArgs(target, 'key'),
    );
    expect(result.isError, result.text).toBe(false);
    const run = await callTool(client, 'exec', {
      connectionId: result.structured.connectionId,
      command: 'echo "$USER"',
    });
    expect(run.structured.stdout).toBe(`${target.keyLogin.username}\n`);
  });

  it(verifies('ssh.auth.wrong-password'), async () => {
    const target = ctx.target();
    const client = await plain.session();
    const username = target.passwordLogin?.username ?? target.keyLogin.username;
    const result = await callTool(client, 'connect', {
      host: target.host,
      port: target.port,
      username,
      password: wrongPassword,
      hostFingerprint: target.hostKey.fingerprint,
    });
    expect(result.isError).toBe(true);
    expect(result.structured.code).toBe('AUTH_FAILED');
    expect(result.text).toContain(username);
    expect(JSON.stringify(result)).not.toContain(wrongPassword);
    const list = await callTool<{ connections: unknown[] }>(client, 'listConnections', {});
    expect(list.structured.connections).toEqual([]);
  });

  it(verifies('ssh.hostkey.mismatch'), async () => {
    const target = ctx.target();
    const client = await plain.session();
    const pinned = otherFingerprint();
    const result = await callTool(client, 'connect', connectArgs(target, 'key', { hostFingerprint: pinned }));
    expect(result.isError).toBe(true);
    expect(result.structured.code).toBe('HOST_KEY_REJECTED');
    expect(result.structured.offeredFingerprint).toBe(target.hostKey.fingerprint);
    expect(result.text).toContain(target.hostKey.fingerprint);
    expect(result.text).toContain(pinned);
  });

  it(verifies('ssh.hostkey.unverified'), async () => {
    const target = ctx.target();
    const client = await plain.session();
    const { hostFingerprint: _, ...args } = connectArgs(target, 'key');
    const result = await callTool(client, 'connect', args);
    expect(result.isError).toBe(true);
    expect(result.structured.code).toBe('HOST_KEY_REJECTED');
    expect(result.text).toContain(`the server offered ${target.hostKey.fingerprint}`);
  });

  it(verifies('ssh.hostkey.known-hosts'), async () => {
    const target = ctx.target();
    const [type, key] = target.hostKey.publicKey.split(' ');
    const name = `[${target.host}]:${target.port}`;
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
    const otherKey = generateLoginKey().publicKey.split(' ')[1];
    const files = {
      plain: `# comment\nexample.org ${type} ${otherKey}\n${name} ${type} ${key}\n`,
      hashed: `${hashed} ${type} ${key}\n`,
      wildcard: `[127.0.0.?]:${target.port} ${type} ${key}\n`,
      changed: `${name} ${type} ${otherKey}\n`,
    };
    const outcomes: Record<string, string> = {};
    for (const [label, text] of Object.entries(files)) {
      const file = join(dir, `known_hosts_${label}`);
      writeFileSync(file, text);
      // A changed key is refused even when trust on first use is on.
      const server = await startSshMcpServer(
        { knownHostsFile: file, trustOnFirstUse: label === 'changed' },
        logs,
      );
      servers.push(server);
      const client = await server.session();
      const { hostFingerprint: _, ...args } = connectArgs(target, 'key');
      const result = await callTool<{ hostKeyTrust?: string; code?: string }>(client, 'connect', args);
      outcomes[label] = result.isError
        ? `refused:${result.structured.code}`
        : `${result.structured.hostKeyTrust}`;
    }
    expect(outcomes).toEqual({
      plain: 'known_hosts',
      hashed: 'known_hosts',
      wildcard: 'known_hosts',
      changed: 'refused:HOST_KEY_REJECTED',
    });
  });

  ctx.itWith('restart')(verifies('ssh.hostkey.tofu'), async () => {
    const target = ctx.target();
    const server = await startSshMcpServer({ trustOnFirstUse: true }, logs);
    servers.push(server);
    const { hostFingerprint: _, ...args } = connectArgs(target, 'key');
    const first = await callTool<{ hostKeyTrust: string; firstUse: boolean; fingerprint: string }>(
      await server.session(),
      'connect',
      args,
    );
    expect(first.structured).toMatchObject({
      hostKeyTrust: 'trust_on_first_use',
      firstUse: true,
      fingerprint: target.hostKey.fingerprint,
    });
    // Another session of the same server: the pin holds server-wide.
    const again = await callTool<{ firstUse: boolean }>(await server.session(), 'connect', args);
    expect(again.structured.firstUse).toBe(false);

    const before = target.hostKey.fingerprint;
    await target.restart({ newHostKey: true });
    expect(target.hostKey.fingerprint).not.toBe(before);
    const changed = await callTool(await server.session(), 'connect', args);
    expect(changed.isError).toBe(true);
    expect(changed.structured.code).toBe('HOST_KEY_REJECTED');
    expect(changed.text).toContain(`the server offered ${target.hostKey.fingerprint}`);
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const target = ctx.target();
    const texts = [logs.text(), target.logs(), ...resultsSeen];
    expect(logs.text()).toContain('ssh connected');
    expect(leakedSecrets(texts, [...target.secrets(), wrongPassword])).toEqual([]);
  });
});
