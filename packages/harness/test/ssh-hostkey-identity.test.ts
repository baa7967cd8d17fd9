/**
 * Host keys by identity, against real SSH hosts: a key trusted on first use belongs to the endpoint
 * the connection reached, whatever the name was spelt like; and a hostFingerprint the agent supplies
 * cannot override the operator's known_hosts unless the operator allows it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { knownHostsName } from '@bastion/ssh-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import {
  generateLoginKey,
  SshdHost,
  type SshHostProvider,
  sshDualStackContainerProvider,
  sshHostProviders,
  sshProcessProvider,
} from '../src/targets/ssh/index.js';
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

interface Connected {
  connectionId: string;
  endpoint: string;
  hostKeyTrust: string;
  firstUse: boolean;
  overrode?: string;
  code?: string;
}

/** The process tier's sshd, listening on ::1 as well as on 127.0.0.1 (same port, same host key). */
const dualStackSshd: SshHostProvider = {
  ...sshProcessProvider,
  start: () => SshdHost.start({ extraConfig: ['ListenAddress ::1'] }),
};

/** One sshd reachable at 127.0.0.1:P and [::1]:P, on the process and container tiers. */
const dualStackHosts = [dualStackSshd, sshDualStackContainerProvider];

function unpinned(args: Record<string, unknown>): Record<string, unknown> {
  const { hostFingerprint: _, ...rest } = args;
  return rest;
}

describeEachTier('ssh-server host keys by endpoint', dualStackHosts, (ctx) => {
  const logs = new LogCapture();
  let server: SshServerUnderTest;

  beforeAll(async () => {
    server = await startSshMcpServer({ trustOnFirstUse: true }, logs);
  });
  afterAll(async () => {
    await server?.close();
  });

  it(verifies('ssh.hostkey.endpoint'), async () => {
    const target = ctx.target();
    const port = target.port;
    const client = await server.session();
    const connect = (host: string) =>
      callTool<Connected>(client, 'connect', { ...unpinned(connectArgs(target, 'key')), host });

    const first = await connect('127.0.0.1');
    expect(first.structured).toMatchObject({ endpoint: `127.0.0.1:${port}`, firstUse: true });
    // Other spellings of the same endpoint find that pin: no new first use.
    for (const spelling of ['localhost', '::ffff:127.0.0.1', 'LOCALHOST']) {
      const again = await connect(spelling);
      expect(again.structured, spelling).toMatchObject({
        endpoint: `127.0.0.1:${port}`,
        hostKeyTrust: 'trust_on_first_use',
        firstUse: false,
      });
    }
    // ::1 is another address: another endpoint, with a first use of its own.
    const v6 = await connect('::1');
    expect(v6.structured).toMatchObject({ endpoint: `[::1]:${port}`, firstUse: true });

    // A changed key is refused under the other spelling too, which used to count as a first use.
    await target.restart({ newHostKey: true });
    const changed = await connect('localhost');
    expect(changed.isError).toBe(true);
    expect(changed.structured.code).toBe('HOST_KEY_REJECTED');
    expect(changed.text).toContain(`endpoint 127.0.0.1:${port}) changed since it was first trusted`);
    expect(changed.text).toContain(target.hostKey.fingerprint);
  });
});

describeEachTier('ssh-server hostFingerprint against known_hosts', sshHostProviders, (ctx) => {
  const logs = new LogCapture();
  const servers: SshServerUnderTest[] = [];
  let dir: string;

  const serverWith = async (knownHosts: string, input: Record<string, unknown> = {}) => {
    const file = join(dir, `known_hosts_${servers.length}`);
    writeFileSync(file, knownHosts);
    const s = await startSshMcpServer({ knownHostsFile: file, ...input }, logs);
    servers.push(s);
    return s.session();
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bastion-ssh-pin-'));
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it(verifies('ssh.hostkey.pin-conflict'), async () => {
    const target = ctx.target();
    const name = knownHostsName(target.host, target.port);
    // known_hosts records another key for the host; the agent pins the key the host really has.
    const recorded = `${name} ${generateLoginKey().publicKey.split(' ').slice(0, 2).join(' ')}\n`;
    const args = connectArgs(target, 'key');

    const strict = await callTool<Connected>(await serverWith(recorded), 'connect', args);
    expect(strict.isError).toBe(true);
    expect(strict.structured.code).toBe('HOST_KEY_REJECTED');
    expect(strict.text).toContain('contradicts its known_hosts entries');
    expect(strict.text).toContain('--allow-fingerprint-override');

    const lenient = await callTool<Connected>(
      await serverWith(recorded, { allowFingerprintOverride: true }),
      'connect',
      args,
    );
    expect(lenient.isError, lenient.text).toBe(false);
    expect(lenient.structured).toMatchObject({ hostKeyTrust: 'pinned', overrode: 'known_hosts' });
    expect(logs.text()).toContain('hostFingerprint overrode the host-key record');

    // A pin that agrees with known_hosts needs no override; a revoked key is refused even when pinned.
    const agreeing = await callTool<Connected>(
      await serverWith(`${name} ${target.hostKey.publicKey}\n`),
      'connect',
      args,
    );
    expect(agreeing.structured).toMatchObject({ hostKeyTrust: 'pinned' });
    expect(agreeing.structured.overrode).toBeUndefined();
    const revoked = await callTool<Connected>(
      await serverWith(`@revoked * ${target.hostKey.publicKey}\n`, { allowFingerprintOverride: true }),
      'connect',
      args,
    );
    expect(revoked.structured.code).toBe('HOST_KEY_REJECTED');
    expect(revoked.text).toContain('@revoked');
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const target = ctx.target();
    expect(leakedSecrets([logs.text(), target.logs(), ...resultsSeen], target.secrets())).toEqual([]);
  });
});
