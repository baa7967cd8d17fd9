/**
 * OpenSSH certificates against a real sshd that trusts a user CA (TrustedUserCAKeys) and serves a
 * CA-signed host certificate (HostCertificate), next to the OpenSSH client with the same files; on
 * the process tier (sshd from PATH) and the container tier (the sshd image, src/targets/ssh/ca-sshd.ts).
 *
 * ssh2 1.17, which the SSH server is built on, could use neither; the patch in patches/ (see
 * pnpm-workspace.yaml, mscdex/ssh2#551) makes it:
 *  - user certificates: Protocol.authPK now names the plain algorithm (`ssh-ed25519`) in the
 *    signature blob, where it wrote the certificate's (`ssh-ed25519-cert-v01@openssh.com`) and sshd
 *    refused the signed request after USERAUTH_PK_OK; the key parser reads certificate blobs (what an
 *    agent lists; they were dropped) and lines (the nonce was read as the key); a parsed key (the
 *    private key showing its certificate) is accepted as privateKey; RSA certificates sign on SHA-2;
 *  - host certificates: the `*-cert-v01@openssh.com` host-key algorithms can be asked for (they
 *    threw "Unsupported algorithm"), and the key exchange's signature is checked with the certified
 *    key. bastion-ssh asks for them only for a host with an `@cert-authority` line, and checks the
 *    certificate itself (certificates.ts): the CA's signature, type, principals, validity, @revoked.
 * When an ssh2 release does this, drop the patch; these tests then show whether it does it all.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { caSshdProviders } from '../src/targets/ssh/index.js';
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

function keygen(...args: string[]): void {
  execFileSync('ssh-keygen', ['-q', ...args], { stdio: 'ignore' });
}

describeEachTier('ssh-server OpenSSH certificates', caSshdProviders, (ctx) => {
  const logs = new LogCapture();
  const servers: SshServerUnderTest[] = [];
  let work: string;
  let agent: ChildProcess | undefined;
  let agentSocket: string;

  /** The OpenSSH client, configured by nothing but these options; resolves its stdout. */
  const openssh = (options: string[], user: string, command: string, env: NodeJS.ProcessEnv = {}) => {
    const { sshd } = ctx.target();
    return execFileSync(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        ...options,
        '-p',
        String(sshd.port),
        `${user}@${sshd.host}`,
        command,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 20_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'bastion-ssh-cert-'));
    agentSocket = join(work, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
    for (let i = 0; i < 400; i++) {
      try {
        execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: agentSocket }, stdio: 'ignore' });
        break;
      } catch (err) {
        if ((err as { status?: number }).status === 1) break;
        await sleep(25);
      }
    }
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    agent?.kill();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it(verifies('ssh.cert.user'), async () => {
    const { sshd, self, userCa, hostCa } = ctx.target();
    const user = sshd.keyLogin.username;
    // A key that is in no authorized_keys file: only its certificate can log in.
    const key = join(work, 'id_user');
    keygen('-t', 'ed25519', '-N', '', '-C', 'cert-user', '-f', key);
    keygen('-s', userCa, '-I', 'bastion-test-user', '-n', user, '-V', '-1m:+1h', `${key}.pub`);
    const knownHosts = join(work, 'known_hosts_plain');
    writeFileSync(knownHosts, `[${sshd.host}]:${sshd.port} ${sshd.hostKey.publicKey}\n`);
    const ssh = ['-o', `UserKnownHostsFile=${knownHosts}`];

    // OpenSSH logs in with the certificate, from the files and from an agent: the files are good.
    expect(
      openssh(
        [...ssh, '-o', 'IdentityAgent=none', '-o', 'IdentitiesOnly=yes', '-i', key],
        user,
        'echo cert-ok',
      ),
    ).toBe('cert-ok\n');
    execFileSync('ssh-add', [key], { env: { SSH_AUTH_SOCK: agentSocket }, stdio: 'ignore' });
    const listed = execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: agentSocket }, encoding: 'utf8' });
    expect(listed).toContain('ED25519-CERT');
    expect(openssh([...ssh, '-o', `IdentityAgent=${agentSocket}`], user, 'echo agent-ok')).toBe('agent-ok\n');

    const server = await startSshMcpServer({ sshAgent: agentSocket }, logs);
    servers.push(server);
    const client = await server.session();
    const base = {
      host: sshd.host,
      port: sshd.port,
      username: user,
      hostFingerprint: sshd.hostKey.fingerprint,
    };
    const privateKey = readFileSync(key, 'utf8');
    const certificate = readFileSync(`${key}-cert.pub`, 'utf8');
    const whoami = async (connectArgs: Record<string, unknown>) => {
      const connected = await callTool<{ connectionId: string }>(client, 'connect', connectArgs);
      if (connected.isError) return connected.text;
      const run = await callTool<{ stdout: string }>(client, 'exec', {
        connectionId: connected.structured.connectionId,
        command: 'echo "$USER"',
      });
      await callTool(client, 'disconnect', { connectionId: connected.structured.connectionId });
      return run.structured.stdout;
    };

    // The key alone is not authorized; with its certificate it logs in (sshd checks it against
    // TrustedUserCAKeys), from the connect arguments and from the server's agent alike.
    const keyOnly = await callTool(client, 'connect', { ...base, privateKey });
    expect(keyOnly.structured.code).toBe('AUTH_FAILED');
    expect(await whoami({ ...base, privateKey, certificate })).toBe(`${user}\n`);
    expect(await whoami({ ...base, agent: true })).toBe(`${user}\n`);
    // A jump host logs in with its own certificate too (this sshd, reached through itself).
    const hop = { ...base, privateKey, certificate };
    expect(await whoami({ ...base, ...self, privateKey, certificate, jumpHosts: [hop] })).toBe(`${user}\n`);
    // ECDSA and RSA certificates too: their signatures are converted and named as their keys' are
    // (RSA on SHA-2, which OpenSSH requires).
    for (const type of ['ecdsa', 'rsa']) {
      const other = join(work, `id_${type}`);
      keygen('-t', type, '-N', '', '-C', type, '-f', other);
      keygen('-s', userCa, '-I', `${type}-user`, '-n', user, '-V', '-1m:+1h', `${other}.pub`);
      const login = {
        ...base,
        privateKey: readFileSync(other, 'utf8'),
        certificate: readFileSync(`${other}-cert.pub`, 'utf8'),
      };
      expect(await whoami(login)).toBe(`${user}\n`);
    }

    // A certificate signed by a CA the host does not trust is refused by sshd, and the error names it.
    const stranger = join(work, 'id_stranger');
    keygen('-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', stranger);
    keygen('-s', hostCa, '-I', 'wrong-ca', '-n', user, '-V', '-1m:+1h', `${stranger}.pub`);
    const wrongCa = await callTool(client, 'connect', {
      ...base,
      privateKey: readFileSync(stranger, 'utf8'),
      certificate: readFileSync(`${stranger}-cert.pub`, 'utf8'),
    });
    expect(wrongCa.structured.code).toBe('AUTH_FAILED');
    expect(wrongCa.text).toContain('publickey with certificate "wrong-ca"');

    // What bastion-ssh can tell before dialling is bad input, naming the certificate field.
    const expiredKey = join(work, 'id_expired');
    keygen('-t', 'ed25519', '-N', '', '-C', 'expired', '-f', expiredKey);
    keygen('-s', userCa, '-I', 'expired', '-n', user, '-V', '20200101:20200102', `${expiredKey}.pub`);
    const expired = await callTool(client, 'connect', {
      ...base,
      privateKey: readFileSync(expiredKey, 'utf8'),
      certificate: readFileSync(`${expiredKey}-cert.pub`, 'utf8'),
    });
    expect(expired.structured.code).toBe('INVALID_INPUT');
    expect(expired.text).toContain('certificate has expired (valid from 2020-01-01');
    const otherKey = await callTool(client, 'connect', {
      ...base,
      privateKey: readFileSync(expiredKey, 'utf8'),
      certificate,
    });
    expect(otherKey.structured.code).toBe('INVALID_INPUT');
    expect(otherKey.text).toContain('certificate certifies another key than privateKey');
    const asHost = join(work, 'as_host');
    copyFileSync(`${key}.pub`, `${asHost}.pub`);
    keygen('-s', hostCa, '-h', '-I', 'as-host', '-n', sshd.host, `${asHost}.pub`);
    const hostCert = await callTool(client, 'connect', {
      ...base,
      privateKey,
      certificate: readFileSync(`${asHost}-cert.pub`, 'utf8'),
    });
    expect(hostCert.structured.code).toBe('INVALID_INPUT');
    expect(hostCert.text).toContain('certificate is a host certificate');
    const alone = await callTool(client, 'connect', { ...base, password: 'x', certificate });
    expect(alone.structured.code).toBe('INVALID_INPUT');
    expect(alone.text).toContain('certificate needs the privateKey it certifies');
    const notACert = await callTool(client, 'connect', {
      ...base,
      privateKey,
      certificate: readFileSync(`${key}.pub`, 'utf8'),
    });
    expect(notACert.isError).toBe(true);
    expect(notACert.text).toContain('certificate');

    // The patched ssh2 parser reads certificate blobs (what an agent lists) and lines alike.
    const certBlob = Buffer.from(certificate.trim().split(' ')[1] ?? '', 'base64');
    for (const input of [certBlob, certificate]) {
      const parsed = ssh2.utils.parseKey(input);
      if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('the certificate did not parse');
      expect(parsed.type).toBe('ssh-ed25519-cert-v01@openssh.com');
      expect(parsed.getPublicSSH().equals(certBlob)).toBe(true);
    }
  });

  it(verifies('ssh.cert.host-ca'), async () => {
    const { sshd, self, hostCa } = ctx.target();
    const knownHosts = join(work, 'known_hosts_ca');
    const caPublic = readFileSync(`${hostCa}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    // The CA is trusted for the sshd as the jump below reaches it too (in a container: its own port 22).
    const patterns = new Set([
      `[${sshd.host}]:${sshd.port}`,
      self.port === 22 ? self.host : `[${self.host}]:${self.port}`,
    ]);
    writeFileSync(knownHosts, `@cert-authority ${[...patterns].join(',')} ${caPublic}\n`);
    const loginKey = join(work, 'id_login');
    writeFileSync(loginKey, sshd.keyLogin.privateKey, { mode: 0o600 });

    // OpenSSH verifies the host through its certificate and the CA line alone.
    expect(
      openssh(
        [
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          '-o',
          'IdentityAgent=none',
          '-o',
          'IdentitiesOnly=yes',
          '-i',
          loginKey,
        ],
        sshd.keyLogin.username,
        'echo host-ok',
      ),
    ).toBe('host-ok\n');

    // bastion-ssh asks for the host certificate, checks it against the CA line, and logs in; the
    // host key is named by the key it certifies, as OpenSSH does.
    const server = await startSshMcpServer({ knownHostsFile: knownHosts, trustOnFirstUse: true }, logs);
    servers.push(server);
    const client = await server.session();
    const { hostFingerprint: _, ...args } = connectArgs(sshd, 'key');
    const connected = await callTool<{
      connectionId: string;
      fingerprint: string;
      hostKeyTrust: string;
      firstUse: boolean;
      hostCertificate?: string;
    }>(client, 'connect', args);
    expect(connected.isError, connected.text).toBe(false);
    expect(connected.structured).toMatchObject({
      fingerprint: sshd.hostKey.fingerprint,
      hostKeyTrust: 'known_hosts',
      firstUse: false,
    });
    const caFingerprint = execFileSync('ssh-keygen', ['-lf', `${hostCa}.pub`], { encoding: 'utf8' }).split(
      ' ',
    )[1];
    expect(connected.structured.hostCertificate).toContain('principals 127.0.0.1');
    expect(connected.structured.hostCertificate).toContain(`signed by @cert-authority ${caFingerprint}`);
    expect(connected.text).toContain('vouched for by its certificate');
    const run = await callTool<{ stdout: string }>(client, 'exec', {
      connectionId: connected.structured.connectionId,
      command: 'echo host-ok',
    });
    expect(run.structured.stdout).toBe('host-ok\n');
    await callTool(client, 'disconnect', { connectionId: connected.structured.connectionId });
    // A jump host is verified through its certificate the same way (this sshd, reached through itself).
    const { hostFingerprint: __, ...hop } = connectArgs(sshd, 'key');
    const viaJump = await callTool<{ jumpHosts: Array<{ hostKeyTrust: string; hostCertificate?: string }> }>(
      client,
      'connect',
      { ...args, ...self, jumpHosts: [hop] },
    );
    expect(viaJump.isError, viaJump.text).toBe(false);
    expect(viaJump.structured.jumpHosts[0]?.hostKeyTrust).toBe('known_hosts');
    expect(viaJump.structured.jumpHosts[0]?.hostCertificate).toContain(
      `signed by @cert-authority ${caFingerprint}`,
    );

    // A certificate from a CA that known_hosts does not list for the host is refused, and never
    // trusted on first use instead.
    const refusedWith = async (knownHostsText: string) => {
      const file = join(work, 'known_hosts_refuse');
      writeFileSync(file, knownHostsText);
      const other = await startSshMcpServer({ knownHostsFile: file, trustOnFirstUse: true }, logs);
      servers.push(other);
      const refused = await callTool(await other.session(), 'connect', args);
      expect(refused.isError).toBe(true);
      expect(refused.structured).toMatchObject({
        code: 'HOST_KEY_REJECTED',
        offeredFingerprint: sshd.hostKey.fingerprint,
      });
      return refused.text;
    };
    const userCaPublic = readFileSync(`${ctx.target().userCa}.pub`, 'utf8')
      .trim()
      .split(' ')
      .slice(0, 2)
      .join(' ');
    expect(await refusedWith(`@cert-authority [${sshd.host}]:${sshd.port} ${userCaPublic}\n`)).toContain(
      'is signed by a CA that known_hosts does not trust for this host',
    );
    // @revoked wins over the CA: here it names the host's own key.
    expect(
      await refusedWith(
        `@cert-authority [${sshd.host}]:${sshd.port} ${caPublic}\n@revoked * ${sshd.hostKey.publicKey}\n`,
      ),
    ).toContain('marked @revoked in known_hosts');
  });

  it(`${verifies('ssh.cert.host-ca')} (a new host key, certified again)`, async () => {
    // What a CA is for: the host key changes and nothing the client holds does.
    const { sshd, hostCa } = ctx.target();
    const before = sshd.hostKey.fingerprint;
    const knownHosts = join(work, 'known_hosts_rotated');
    const caPublic = readFileSync(`${hostCa}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    writeFileSync(knownHosts, `@cert-authority [${sshd.host}]:${sshd.port} ${caPublic}\n`);
    const server = await startSshMcpServer({ knownHostsFile: knownHosts, trustOnFirstUse: true }, logs);
    servers.push(server);
    const client = await server.session();
    const { hostFingerprint: _, ...args } = connectArgs(sshd, 'key');
    const first = await callTool<{ connectionId: string; fingerprint: string }>(client, 'connect', args);
    expect(first.isError, first.text).toBe(false);
    expect(first.structured.fingerprint).toBe(before);
    await callTool(client, 'disconnect', { connectionId: first.structured.connectionId });

    await sshd.restart({ newHostKey: true });
    expect(sshd.hostKey.fingerprint).not.toBe(before);
    const again = await callTool<{
      connectionId: string;
      fingerprint: string;
      hostKeyTrust: string;
      hostCertificate?: string;
    }>(client, 'connect', args);
    expect(again.isError, again.text).toBe(false);
    expect(again.structured).toMatchObject({
      fingerprint: sshd.hostKey.fingerprint,
      hostKeyTrust: 'known_hosts',
    });
    expect(again.structured.hostCertificate).toContain('signed by @cert-authority');
    await callTool(client, 'disconnect', { connectionId: again.structured.connectionId });
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const { sshd } = ctx.target();
    expect(leakedSecrets([logs.text(), sshd.logs(), ...resultsSeen], sshd.secrets())).toEqual([]);
  });
});
