/**
 * OpenSSH certificates against a real sshd that trusts a user CA (TrustedUserCAKeys) and serves a
 * CA-signed host certificate (HostCertificate). The OpenSSH client shows that every certificate here
 * is good; ssh2 1.17, which the SSH server is built on, cannot use them, and these tests pin down
 * where it stops, so that a later ssh2 (or a patch) shows up as a failing test to update:
 *
 *  - user certificates: ssh2's Protocol.authPK writes the key algorithm
 *    (`ssh-ed25519-cert-v01@openssh.com`) into the signature blob too, where OpenSSH requires the plain
 *    one (`ssh-ed25519`), so sshd accepts the certificate at the query (USERAUTH_PK_OK) and refuses the
 *    signed request; and its key parser (parseDER) does not know `*-cert-v01@openssh.com` blobs, so
 *    the certificates an ssh-agent holds are dropped;
 *  - host certificates: `*-cert-v01@openssh.com` is not among ssh2's host-key algorithms, so it
 *    cannot ask for one, and the server shows only its plain key.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2, {
  type IdentityCallback,
  type ParsedKey,
  type SignCallback,
  type SigningRequestOptions,
} from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { SshdHost, sshdAvailability } from '../src/targets/ssh/index.js';
import { describeEachTier, type TargetProvider } from '../src/testing/tiers.js';
import {
  callTool,
  connectArgs,
  LogCapture,
  leakedSecrets,
  resultsSeen,
  type SshServerUnderTest,
  startSshMcpServer,
} from './ssh-support.js';

/** sshd trusting a user CA and serving a host certificate signed by a host CA, with the CA files. */
interface CaSshd {
  sshd: SshdHost;
  dir: string;
  userCa: string;
  hostCa: string;
  stop(): Promise<void>;
}

function keygen(...args: string[]): void {
  execFileSync('ssh-keygen', ['-q', ...args], { stdio: 'ignore' });
}

const caSshdProvider: TargetProvider<CaSshd> = {
  kind: 'ssh-host',
  tier: 'process',
  availability: () => sshdAvailability(),
  async start() {
    const dir = mkdtempSync(join(tmpdir(), 'bastion-ssh-ca-'));
    const userCa = join(dir, 'user_ca');
    const hostCa = join(dir, 'host_ca');
    keygen('-t', 'ed25519', '-N', '', '-C', 'user-ca', '-f', userCa);
    keygen('-t', 'ed25519', '-N', '', '-C', 'host-ca', '-f', hostCa);
    try {
      const sshd = await SshdHost.start({
        extraConfig: [`TrustedUserCAKeys ${userCa}.pub`],
        hostCertificate: { caKeyFile: hostCa, principals: ['127.0.0.1'] },
      });
      return {
        sshd,
        dir,
        userCa,
        hostCa,
        async stop() {
          await sshd.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  },
};

describeEachTier('ssh-server OpenSSH certificates', [caSshdProvider], (ctx) => {
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
    const { sshd, userCa } = ctx.target();
    const user = sshd.keyLogin.username;
    // A key that is in no authorized_keys file: only its certificate can log in.
    const key = join(work, 'id_user');
    keygen('-t', 'ed25519', '-N', '', '-C', 'cert-user', '-f', key);
    keygen('-s', userCa, '-I', 'bastion-test-user', '-n', user, '-V', '-1m:+1h', `${key}.pub`);
    const knownHosts = join(work, 'known_hosts_plain');
    writeFileSync(knownHosts, `[${sshd.host}]:${sshd.port} ${sshd.hostKey.publicKey}\n`);
    const ssh = ['-o', `UserKnownHostsFile=${knownHosts}`];

    // OpenSSH logs in with the certificate, from the files and from an agent.
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

    // bastion-ssh cannot: the key alone is not authorized, and the agent's certificate is dropped.
    const server = await startSshMcpServer({ sshAgent: agentSocket }, logs);
    servers.push(server);
    const client = await server.session();
    const base = {
      host: sshd.host,
      port: sshd.port,
      username: user,
      hostFingerprint: sshd.hostKey.fingerprint,
    };
    const withKey = await callTool(client, 'connect', { ...base, privateKey: readFileSync(key, 'utf8') });
    expect(withKey.structured.code).toBe('AUTH_FAILED');
    const withAgent = await callTool(client, 'connect', { ...base, agent: true });
    expect(withAgent.structured.code).toBe('AUTH_FAILED');

    // Why, in ssh2's own terms. Its parser does not know certificate blobs (what an agent hands out)...
    const certLine = readFileSync(`${key}-cert.pub`, 'utf8').trim();
    const certBlob = Buffer.from(certLine.split(' ')[1] ?? '', 'base64');
    const parsedBlob = ssh2.utils.parseKey(certBlob);
    expect(parsedBlob).toBeInstanceOf(Error);
    // ...and parses a certificate line as a plain key made of the wrong bytes (the nonce).
    const parsedLine = ssh2.utils.parseKey(certLine);
    if (parsedLine instanceof Error || Array.isArray(parsedLine)) throw new Error('the line did not parse');
    expect(parsedLine.type).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(parsedLine.getPublicSSH().equals(certBlob)).toBe(false);

    // Offered the real certificate (through ssh2's agent interface), sshd accepts it at the query and
    // refuses the signed request, whose signature blob ssh2 labels with the certificate's algorithm.
    const parsedPrivate = ssh2.utils.parseKey(readFileSync(key, 'utf8'));
    if (parsedPrivate instanceof Error || Array.isArray(parsedPrivate))
      throw new Error('the key did not parse');
    const signer: ParsedKey = parsedPrivate;
    const certificate: ParsedKey = Object.create(parsedLine, { getPublicSSH: { value: () => certBlob } });
    class CertificateAgent extends ssh2.BaseAgent<ParsedKey> {
      override getIdentities(cb: IdentityCallback<ParsedKey>) {
        cb(undefined, [certificate]);
      }
      override sign(
        _key: ParsedKey,
        data: Buffer,
        optionsOrCb: SigningRequestOptions | SignCallback,
        cb?: SignCallback,
      ) {
        const done = typeof optionsOrCb === 'function' ? optionsOrCb : cb;
        done?.(undefined, signer.sign(data));
      }
    }
    const trace: string[] = [];
    const outcome = await new Promise<string>((resolve) => {
      const c = new ssh2.Client();
      c.on('ready', () => {
        c.end();
        resolve('ready');
      });
      c.on('error', (err) => resolve(err.message));
      c.connect({
        host: sshd.host,
        port: sshd.port,
        username: user,
        agent: new CertificateAgent(),
        hostVerifier: () => true,
        debug: (line: string) => trace.push(line),
      });
    });
    expect(trace.some((l) => l.includes('Received USERAUTH_PK_OK'))).toBe(true);
    expect(trace.some((l) => l.includes('Sending USERAUTH_REQUEST (publickey)'))).toBe(true);
    expect(outcome).toBe('All configured authentication methods failed');
  });

  it(verifies('ssh.cert.host-ca'), async () => {
    const { sshd, hostCa } = ctx.target();
    const knownHosts = join(work, 'known_hosts_ca');
    const caPublic = readFileSync(`${hostCa}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    writeFileSync(knownHosts, `@cert-authority [${sshd.host}]:${sshd.port} ${caPublic}\n`);
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

    // bastion-ssh refuses, saying why, and does not fall back to trust on first use.
    const server = await startSshMcpServer({ knownHostsFile: knownHosts, trustOnFirstUse: true }, logs);
    servers.push(server);
    const { hostFingerprint: _, ...args } = connectArgs(sshd, 'key');
    const refused = await callTool(await server.session(), 'connect', args);
    expect(refused.isError).toBe(true);
    expect(refused.structured).toMatchObject({
      code: 'HOST_KEY_REJECTED',
      offeredFingerprint: sshd.hostKey.fingerprint,
    });
    expect(refused.text).toContain('only through @cert-authority');
    expect(refused.text).toContain('ssh2 1.17');

    // ssh2 cannot even ask for a host certificate.
    expect(() =>
      new ssh2.Client().connect({
        host: sshd.host,
        port: sshd.port,
        algorithms: { serverHostKey: ['ssh-ed25519-cert-v01@openssh.com' as never] },
      }),
    ).toThrow('Unsupported algorithm: ssh-ed25519-cert-v01@openssh.com');
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const { sshd } = ctx.target();
    expect(leakedSecrets([logs.text(), sshd.logs(), ...resultsSeen], sshd.secrets())).toEqual([]);
  });
});
