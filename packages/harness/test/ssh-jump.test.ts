/**
 * Jump hosts (ProxyJump) against real sshd, on two topologies where the target is reachable only
 * through the jump host, so every connection the tests open to it has gone through the jump host:
 *  - process tier: the target listens in a network namespace that only the jump host's namespace can
 *    reach (src/targets/ssh/jump-network.ts);
 *  - container tier: the target container is on an internal Docker network only, and the jump
 *    container, also on that network, is the only one published (src/targets/ssh/jump-containers.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { sshJumpContainersProvider } from '../src/targets/ssh/jump-containers.js';
import { type JumpNetwork, sshJumpNetworkProvider } from '../src/targets/ssh/jump-network.js';
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

interface Hop {
  host: string;
  port: number;
  username: string;
  fingerprint: string;
  endpoint: string;
  hostKeyTrust: string;
  firstUse: boolean;
}

interface Connected {
  connectionId: string;
  endpoint: string;
  fingerprint: string;
  jumpHosts: Hop[];
  code?: string;
  hop?: number;
  offeredFingerprint?: string;
}

/** `host:port`, as the server names an endpoint (and the jump host's, which is not on port 22 everywhere). */
const at = (host: string, port: number) => `${host}:${port}`;

describeEachTier('ssh-server jump hosts', [sshJumpNetworkProvider, sshJumpContainersProvider], (ctx) => {
  const logs = new LogCapture();
  const servers: SshServerUnderTest[] = [];
  let server: SshServerUnderTest;
  let dir: string;

  const jumpArgs = (net: JumpNetwork, extra: Record<string, unknown> = {}) => {
    const { hostFingerprint, ...hop } = connectArgs(net.jump, 'key');
    return { ...hop, hostFingerprint, ...extra };
  };
  const nothingOpen = async (net: JumpNetwork) =>
    eventually(async () => {
      const open = await net.establishedSessions();
      return open.jump === 0 && open.target === 0;
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bastion-ssh-jump-'));
    server = await startSshMcpServer({ killGraceMs: 200 }, logs);
    servers.push(server);
  });
  afterEach(async () => {
    // Every session of every server ends, and with it every route it opened.
    for (const s of servers) await s.close();
    await nothingOpen(ctx.target());
  });
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it(verifies('ssh.jump.chain'), async () => {
    const net = ctx.target();
    // The topology itself: no way to the target from here, one from the jump host.
    expect(await net.reachableFromHere(1_500)).toBe(false);
    expect(await net.reachableFromJump()).toBe(true);
    const inner = await net.innerAddresses();
    const client = await server.session();
    // At the address the jump host reaches it by: refused or unanswered from here.
    const direct = await callTool(client, 'connect', {
      ...connectArgs(net.target, 'password'),
      host: inner.target,
      readyTimeoutMs: 1_500,
    });
    expect(direct.isError).toBe(true);
    expect(direct.structured.code).toMatch(/^CONNECT_(TIMEOUT|FAILED)$/);

    // One hop (key login), then the target (password login) reached from it.
    const result = await callTool<Connected>(client, 'connect', {
      ...connectArgs(net.target, 'password'),
      jumpHosts: [jumpArgs(net)],
    });
    expect(result.isError, result.text).toBe(false);
    expect(result.structured.fingerprint).toBe(net.target.hostKey.fingerprint);
    const jumpAt = at(net.jump.host, net.jump.port);
    expect(result.structured.endpoint).toBe(`${at(net.target.host, net.target.port)} via ${jumpAt}`);
    expect(result.structured.jumpHosts).toEqual([
      {
        host: net.jump.host,
        port: net.jump.port,
        username: net.jump.keyLogin.username,
        endpoint: jumpAt,
        fingerprint: net.jump.hostKey.fingerprint,
        hostKeyTrust: 'pinned',
        firstUse: false,
      },
    ]);
    // sshd on the target saw the connection come from the jump host's inner address.
    const seen = await callTool(client, 'exec', {
      connectionId: result.structured.connectionId,
      command: 'echo "$SSH_CONNECTION"',
    });
    const [from, , to] = String(seen.structured.stdout).trim().split(' ');
    expect(to).toBe(inner.target);
    expect(from).toBe(inner.jump);

    // Two hops: the jump host again, reached from itself, logging in with a password this time.
    const { host: insideHost, port: insidePort } = net.jumpFromInside;
    const chained = await callTool<Connected>(client, 'connect', {
      ...connectArgs(net.target, 'key'),
      jumpHosts: [jumpArgs(net), connectArgs(net.jump, 'password', { host: insideHost, port: insidePort })],
    });
    expect(chained.isError, chained.text).toBe(false);
    expect(chained.structured.jumpHosts.map((h) => [h.username, h.endpoint])).toEqual([
      [net.jump.keyLogin.username, jumpAt],
      [net.jump.passwordLogin?.username, `${at(insideHost, insidePort)} via ${jumpAt}`],
    ]);
    const who = await callTool(client, 'exec', {
      connectionId: chained.structured.connectionId,
      command: 'whoami',
    });
    expect(who.structured.stdout).toBe(`${net.target.keyLogin.username}\n`);
  });

  it(verifies('ssh.jump.verify'), async () => {
    const net = ctx.target();
    const client = await server.session();
    const target = connectArgs(net.target, 'key');

    // No pin, no known_hosts, no TOFU: the hop is refused, and the target was never contacted.
    const { hostFingerprint: _, ...unpinned } = jumpArgs(net);
    const unverified = await callTool<Connected>(client, 'connect', { ...target, jumpHosts: [unpinned] });
    expect(unverified.isError).toBe(true);
    expect(unverified.structured).toMatchObject({
      code: 'HOST_KEY_REJECTED',
      hop: 1,
      offeredFingerprint: net.jump.hostKey.fingerprint,
    });
    expect(unverified.text).toContain(
      `jump host 1 of 1 (${net.jump.keyLogin.username}@${at(net.jump.host, net.jump.port)})`,
    );

    // A wrong pin on the hop.
    const wrongPin = await callTool<Connected>(client, 'connect', {
      ...target,
      jumpHosts: [jumpArgs(net, { hostFingerprint: net.target.hostKey.fingerprint })],
    });
    expect(wrongPin.structured).toMatchObject({ code: 'HOST_KEY_REJECTED', hop: 1 });

    // The target's own key is checked too: a hop that passes does not vouch for it.
    const wrongTarget = await callTool<Connected>(client, 'connect', {
      ...target,
      hostFingerprint: net.jump.hostKey.fingerprint,
      jumpHosts: [jumpArgs(net)],
    });
    expect(wrongTarget.structured).toMatchObject({
      code: 'HOST_KEY_REJECTED',
      offeredFingerprint: net.target.hostKey.fingerprint,
    });
    expect(wrongTarget.structured.hop).toBeUndefined();
    await nothingOpen(net);

    // known_hosts for the hop and trust on first use for the target, where the server allows it.
    const knownHosts = join(dir, 'known_hosts');
    // OpenSSH's known_hosts names a host on another port than 22 as [host]:port.
    const jumpName = net.jump.port === 22 ? net.jump.host : `[${net.jump.host}]:${net.jump.port}`;
    writeFileSync(knownHosts, `${jumpName} ${net.jump.hostKey.publicKey}\n`);
    const tofu = await startSshMcpServer({ knownHostsFile: knownHosts, trustOnFirstUse: true }, logs);
    servers.push(tofu);
    const { hostFingerprint: __, ...targetUnpinned } = target;
    const trusted = await callTool<Connected>(await tofu.session(), 'connect', {
      ...targetUnpinned,
      jumpHosts: [unpinned],
    });
    expect(trusted.isError, trusted.text).toBe(false);
    expect(trusted.structured.jumpHosts[0]?.hostKeyTrust).toBe('known_hosts');
    expect(trusted.structured).toMatchObject({ hostKeyTrust: 'trust_on_first_use', firstUse: true });
  });

  it(verifies('ssh.jump.cleanup'), async () => {
    const net = ctx.target();
    const client = await server.session();
    const id = await connectOrFail(client, { ...connectArgs(net.target, 'key'), jumpHosts: [jumpArgs(net)] });

    const timedOut = await callTool(client, 'exec', {
      connectionId: id,
      command: 'sleep 333',
      timeoutMs: 500,
    });
    expect(timedOut.structured).toMatchObject({ timedOut: true, code: 'TIMEOUT' });
    await eventually(async () => (await net.target.processes('sleep 333')).length === 0);

    // The target restarts: the next exec opens the whole route again.
    await net.target.restart();
    const after = await callTool(client, 'exec', { connectionId: id, command: 'echo after' });
    expect(after.structured).toMatchObject({ stdout: 'after\n', reconnected: true });

    // The jump host comes back with another key: reconnecting through it is refused, naming the hop.
    await net.jump.restart({ newHostKey: true });
    const refused = await callTool(client, 'exec', { connectionId: id, command: 'echo never' });
    expect(refused.structured.code).toBe('RECONNECT_FAILED');
    expect(refused.text).toContain('jump host 1 of 1');
    expect(refused.text).toContain(net.jump.hostKey.fingerprint);

    await callTool(client, 'disconnect', { connectionId: id });
    await nothingOpen(net);

    // A session that ends takes its routes with it.
    const session = await server.session();
    await connectOrFail(session, { ...connectArgs(net.target, 'key'), jumpHosts: [jumpArgs(net)] });
    expect(await net.establishedSessions()).toEqual({ jump: 1, target: 1 });
    await server.close();
    await nothingOpen(net);
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const net = ctx.target();
    const texts = [logs.text(), net.jump.logs(), net.target.logs(), ...resultsSeen];
    expect(logs.text()).toContain('ssh connected');
    expect(leakedSecrets(texts, [...net.jump.secrets(), ...net.target.secrets()])).toEqual([]);
  });
});
