/**
 * ssh-agent authentication against a real ssh-agent and every SSH host tier: opt-in with
 * --ssh-agent, never forwarded to the remote unless the connect asks for it and the server allows it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fingerprintOf } from '@bastion/ssh-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { sshHostProviders } from '../src/targets/ssh/index.js';
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

/** The agent's login with no password or key of its own: only the agent can authenticate it. */
function agentLogin(args: Record<string, unknown>): Record<string, unknown> {
  const { privateKey: _, ...rest } = args;
  return { ...rest, agent: true };
}

describeEachTier('ssh-server ssh-agent authentication', sshHostProviders, (ctx) => {
  const logs = new LogCapture();
  const servers: SshServerUnderTest[] = [];
  let dir: string;
  let socket: string;
  let agent: ChildProcess | undefined;

  const server = async (input: Parameters<typeof startSshMcpServer>[0]) => {
    const s = await startSshMcpServer(input, logs);
    servers.push(s);
    return s;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bastion-ssh-agent-'));
    socket = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    const env = { SSH_AUTH_SOCK: socket };
    for (let i = 0; i < 400; i++) {
      try {
        execFileSync('ssh-add', ['-l'], { env, stdio: 'ignore' });
        break;
      } catch (err) {
        // Exit 1: the agent answers and holds no key yet; 2: not listening yet.
        if ((err as { status?: number }).status === 1) break;
        await sleep(25);
      }
    }
    const keyFile = join(dir, 'id');
    writeFileSync(keyFile, ctx.target().keyLogin.privateKey, { mode: 0o600 });
    execFileSync('ssh-add', [keyFile], { env, stdio: 'ignore' });
    rmSync(keyFile);
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    agent?.kill();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it(verifies('ssh.agent.auth'), async () => {
    const target = ctx.target();
    const args = agentLogin(connectArgs(target, 'key'));
    // Without --ssh-agent the server's agent is out of reach, whatever the agent asks.
    const off = await callTool(await (await server({})).session(), 'connect', args);
    expect(off.isError).toBe(true);
    expect(off.structured.code).toBe('INVALID_INPUT');
    expect(off.text).toContain('--ssh-agent');

    const client = await (await server({ sshAgent: socket })).session();
    const id = await connectOrFail(client, args);
    const who = await callTool(client, 'exec', { connectionId: id, command: 'echo "$USER"' });
    expect(who.structured.stdout).toBe(`${target.keyLogin.username}\n`);
  });

  const forwarding =
    ctx.tier === 'embedded'
      ? (title: string, fn: () => Promise<void>) =>
          it.skip(`${title} (skipped: the embedded ssh2 host does not implement agent forwarding)`, fn)
      : it;
  forwarding(verifies('ssh.agent.no-forward'), async () => {
    const target = ctx.target();
    const args = agentLogin(connectArgs(target, 'key'));
    const keyFingerprint = fingerprintOf(
      Buffer.from(target.keyLogin.publicKey.split(' ')[1] ?? '', 'base64'),
    );
    // What the remote sees of an agent: the socket sshd sets up, and the keys behind it.
    const probe = 'printf "sock=%s\\n" "$SSH_AUTH_SOCK"; ssh-add -l; echo "ssh-add exit $?"';

    const plain = await (await server({ sshAgent: socket })).session();
    const id = await connectOrFail(plain, args);
    const notForwarded = await callTool(plain, 'exec', { connectionId: id, command: probe });
    expect(notForwarded.structured.stdout).toMatch(/^sock=\n(.|\n)*ssh-add exit 2\n$/);
    expect(notForwarded.structured.stdout).not.toContain(keyFingerprint);

    // Asking is not enough: the operator must allow it.
    const refused = await callTool(plain, 'connect', { ...args, agentForward: true });
    expect(refused.structured.code).toBe('INVALID_INPUT');
    expect(refused.text).toContain('--allow-agent-forwarding');

    const allowing = await (await server({ sshAgent: socket, allowAgentForwarding: true })).session();
    // Allowed by the server, not asked for by this connect: still not forwarded.
    const unasked = await connectOrFail(allowing, args);
    const stillNot = await callTool(allowing, 'exec', { connectionId: unasked, command: probe });
    expect(stillNot.structured.stdout).toMatch(/^sock=\n/);

    const asked = await callTool<{ connectionId: string; agentForwarding: boolean }>(allowing, 'connect', {
      ...args,
      agentForward: true,
    });
    expect(asked.isError, asked.text).toBe(false);
    expect(asked.structured.agentForwarding).toBe(true);
    const forwarded = await callTool(allowing, 'exec', {
      connectionId: asked.structured.connectionId,
      command: probe,
    });
    expect(forwarded.structured.stdout).toMatch(/^sock=\/\S+\n/);
    expect(forwarded.structured.stdout).toContain(keyFingerprint);
    expect(forwarded.structured.stdout).toContain('ssh-add exit 0');
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const target = ctx.target();
    expect(leakedSecrets([logs.text(), target.logs(), ...resultsSeen], target.secrets())).toEqual([]);
  });
});
