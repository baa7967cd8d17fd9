import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectArgs,
  type Harness,
  LogCapture,
  openSession,
  startTestHost,
  type TestHost,
} from './support.js';

let host: TestHost;
const sessions: Harness[] = [];
const logs = new LogCapture();

async function session(input: Parameters<typeof openSession>[0] = {}) {
  const h = await openSession(input, logs);
  sessions.push(h);
  return h;
}

async function until(check: () => boolean | Promise<boolean>) {
  for (let i = 0; i < 400 && !(await check()); i++) await sleep(25);
  expect(await check()).toBe(true);
}

/** The structured facts of a result: its structuredContent, and for an error the kit's code and details. */
const structured = (r: { structuredContent?: unknown; isError?: boolean; _meta?: Record<string, unknown> }) =>
  ({ ...(r.structuredContent as Record<string, unknown>), ...errorDataOf(r) }) as Record<string, unknown>;

beforeAll(async () => {
  host = await startTestHost();
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  // Each test starts with no SSH connection open on the host.
  await until(() => host.connections() === 0);
});
afterAll(async () => {
  await host.close();
  // The whole file's logs: no password or key material anywhere.
  const text = logs.text();
  expect(text).not.toContain(host.password);
  for (const line of host.privateKey.split('\n').filter((l) => l.length > 16 && !l.startsWith('-----'))) {
    expect(text).not.toContain(line);
  }
});

describe('ssh-server tools', () => {
  it('lists the connection, exec, file, job and shell tools with annotations and schemas', async () => {
    const h = await session();
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        'connect',
        'disconnect',
        'downloadFile',
        'exec',
        'listConnections',
        'uploadFile',
        'startJob',
        'jobStatus',
        'readJobOutput',
        'signalJob',
        'stopJob',
        'listJobs',
        'openShell',
        'writeShell',
        'readShell',
        'resizeShell',
        'closeShell',
        'listShells',
      ].sort(),
    );
    for (const tool of tools) {
      expect(Object.keys(tool.annotations ?? {}).sort()).toEqual(
        ['destructiveHint', 'idempotentHint', 'openWorldHint', 'readOnlyHint'].sort(),
      );
      expect(tool.outputSchema).toBeDefined();
      expect(tool.description?.length).toBeGreaterThan(20);
    }
    const exec = tools.find((t) => t.name === 'exec');
    expect(Object.keys(exec?.inputSchema.properties ?? {}).sort()).toEqual(
      ['command', 'connectionId', 'cwd', 'env', 'maxOutputBytes', 'stdin', 'timeoutMs'].sort(),
    );
    expect(tools.find((t) => t.name === 'downloadFile')?.annotations?.readOnlyHint).toBe(true);
  });

  it('connects, runs a command, lists and disconnects, and the SSH connection really closes', async () => {
    const h = await session();
    const connected = await h.call('connect', connectArgs(host, { name: 'box' }));
    expect(connected.isError).toBeFalsy();
    const id = structured(connected).connectionId as string;
    expect(structured(connected)).toMatchObject({
      name: 'box',
      fingerprint: host.fingerprint,
      username: 'tester',
    });
    expect(JSON.stringify(connected)).not.toContain(host.password);

    const run = await h.call('exec', { connectionId: id, command: 'echo hi; echo err >&2; exit 4' });
    expect(run.isError).toBe(true);
    expect(Object.keys(structured(run))).toEqual(
      expect.arrayContaining([
        'stdout',
        'stderr',
        'exitCode',
        'signal',
        'timedOut',
        'truncated',
        'durationMs',
      ]),
    );
    expect(structured(run)).toMatchObject({ stdout: 'hi\n', stderr: 'err\n', exitCode: 4, signal: null });

    const listed = structured(await h.call('listConnections')).connections as Array<Record<string, unknown>>;
    expect(listed).toEqual([
      expect.objectContaining({
        connectionId: id,
        name: 'box',
        host: '127.0.0.1',
        port: host.port,
        username: 'tester',
        state: 'ready',
        fingerprint: host.fingerprint,
        openedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      }),
    ]);
    expect(host.connections()).toBe(1);
    const closed = await h.call('disconnect', { connectionId: id });
    expect(structured(closed)).toEqual({ connectionId: id, disconnected: true });
    await until(() => host.connections() === 0);
    const again = await h.call('disconnect', { connectionId: id });
    expect(structured(again).code).toBe('UNKNOWN_CONNECTION');
  });

  it('closes the SSH connections of a session when the session ends', async () => {
    const h = await openSession({}, logs);
    for (let i = 0; i < 2; i++) expect((await h.call('connect', connectArgs(host))).isError).toBeFalsy();
    expect(host.connections()).toBe(2);
    await h.close();
    await until(() => host.connections() === 0);
  });

  it('connects with a private key, and refuses a wrong passphrase without crashing', async () => {
    const h = await session();
    const ok = await h.call(
      'connect',
      connectArgs(host, { password: undefined, privateKey: host.privateKey }),
    );
    expect(ok.isError).toBeFalsy();
    const bad = await h.call(
      'connect',
      connectArgs(host, { password: undefined, privateKey: host.privateKey, passphrase: 'x' }),
    );
    // An unencrypted key with a passphrase still works; a garbage key does not.
    expect(bad.isError).toBeFalsy();
    const garbage = await h.call(
      'connect',
      connectArgs(host, {
        password: undefined,
        privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----',
      }),
    );
    expect(structured(garbage).code).toBe('INVALID_INPUT');
  });

  it('refuses a host outside --allow-hosts before opening any connection', async () => {
    const h = await session({ allowHosts: 'db.internal:22' });
    const result = await h.call('connect', connectArgs(host));
    expect(result.isError).toBe(true);
    expect(structured(result)).toMatchObject({
      code: 'HOST_NOT_ALLOWED',
      host: '127.0.0.1',
      port: host.port,
    });
    expect(host.connections()).toBe(0);
    const allowed = await session({ allowHosts: `127.0.0.1:${host.port}` });
    expect((await allowed.call('connect', connectArgs(host))).isError).toBeFalsy();
  });

  it('reports refused and silent hosts clearly, and keeps working', async () => {
    const h = await session({ defaultReadyTimeoutMs: 300 });
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const refused = await h.call('connect', { ...connectArgs(host), port: closedPort });
    expect(structured(refused).code).toBe('CONNECT_FAILED');
    expect((refused.content[0] as { text: string }).text).toContain('ECONNREFUSED');

    const pending = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      pending.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (silent.address() as { port: number }).port;
      const timedOut = await h.call('connect', { ...connectArgs(host), port });
      expect(structured(timedOut).code).toBe('CONNECT_TIMEOUT');
    } finally {
      for (const socket of pending) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
    expect((await h.call('connect', connectArgs(host))).isError).toBeFalsy();
  });

  it('shows a connection whose host stopped answering as dead, detected by keepalives', async () => {
    const frozen = await startTestHost();
    try {
      const h = await session({ keepaliveIntervalMs: 100, keepaliveCountMax: 2 });
      const id = structured(await h.call('connect', connectArgs(frozen))).connectionId;
      frozen.freeze();
      await until(async () => {
        const list = structured(await h.call('listConnections')).connections as Array<{ state: string }>;
        return list[0]?.state === 'dead';
      });
      const list = structured(await h.call('listConnections')).connections as Array<{
        lastError: string;
        connectionId: string;
      }>;
      expect(list[0]).toMatchObject({
        connectionId: id,
        lastError: expect.stringMatching(/Keepalive timeout/),
      });
    } finally {
      await frozen.close();
    }
  });

  it('caps the requested timeout at the server maximum', async () => {
    const h = await session({ maxTimeoutMs: 300, defaultTimeoutMs: 300, killGraceMs: 100 });
    const id = structured(await h.call('connect', connectArgs(host))).connectionId;
    const result = await h.call('exec', { connectionId: id, command: 'sleep 30', timeoutMs: 3_600_000 });
    expect(structured(result)).toMatchObject({ timedOut: true, code: 'TIMEOUT' });
  });
});

describe('ssh-agent authentication', () => {
  let dir: string;
  let agent: ChildProcess;
  let socket: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bastion-agent-'));
    socket = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      try {
        execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
        break;
      } catch (err) {
        // Exit 1: agent up with no keys; 2: not reachable yet.
        if ((err as { status?: number }).status === 1) break;
        await sleep(25);
      }
    }
    writeFileSync(join(dir, 'id'), host.privateKey, { mode: 0o600 });
    execFileSync('ssh-add', [join(dir, 'id')], { env: { SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
  });
  afterAll(() => {
    agent.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses the agent only when the server was started with --ssh-agent', async () => {
    const off = await session();
    const refused = await off.call('connect', connectArgs(host, { password: undefined, agent: true }));
    expect(structured(refused).code).toBe('INVALID_INPUT');
    const on = await session({ sshAgent: socket });
    const ok = await on.call('connect', connectArgs(host, { password: undefined, agent: true }));
    expect(ok.isError, JSON.stringify(ok)).toBeFalsy();
  });
});
