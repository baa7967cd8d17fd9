/**
 * The sandbox's SSH host: the simulated shell (just-bash in a worker, in-memory files) behind the
 * embedded ssh2 host, reached through the real SSH MCP server and through a plain ssh2 SFTP client;
 * and the `--ssh-shell host` variant with a real shell in a scratch directory.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import ssh2, { type SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { type SandboxSshHost, startSandboxSshHost } from '../src/sandbox/targets.js';
import {
  callTool,
  connectOrFail,
  LogCapture,
  type SshServerUnderTest,
  startSshMcpServer,
} from './ssh-support.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

interface Exec {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
}

async function connectTo(
  host: SandboxSshHost,
  server: SshServerUnderTest,
): Promise<{ client: Client; id: string }> {
  const client = await server.session();
  const id = await connectOrFail(client, {
    host: host.host,
    port: host.port,
    username: host.username,
    password: host.password,
    hostFingerprint: host.fingerprint,
  });
  return { client, id };
}

function sftpSession(host: SandboxSshHost): Promise<{ sftp: SFTPWrapper; end(): void }> {
  const conn = new ssh2.Client();
  return new Promise((resolve, reject) => {
    conn.once('error', reject);
    conn.once('ready', () =>
      conn.sftp((err, sftp) => (err ? reject(err) : resolve({ sftp, end: () => conn.end() }))),
    );
    conn.connect({ host: host.host, port: host.port, username: host.username, password: host.password });
  });
}

const promisify =
  <T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void) =>
  () =>
    new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));

describe('sandbox SSH host, simulated shell', () => {
  const logs = new LogCapture();
  let host: SandboxSshHost;
  let server: SshServerUnderTest;
  let client: Client;
  let id: string;
  const exec = async (command: string, extra: Record<string, unknown> = {}) =>
    (await callTool<Exec>(client, 'exec', { connectionId: id, command, ...extra })).structured;

  beforeAll(async () => {
    host = await startSandboxSshHost('embedded', 'simulated');
    server = await startSshMcpServer({}, logs);
    ({ client, id } = await connectTo(host, server));
  });
  afterAll(async () => {
    await server?.close();
    await host?.stop();
  });

  it(verifies('sandbox.ssh.seeded'), async () => {
    const listing = await exec('pwd; ls; cat README.md | head -1');
    expect(listing.exitCode).toBe(0);
    expect(listing.stdout).toBe(
      '/home/agent\nREADME.md\nconfig\nlogs\n# Greenhouse controller (Bastion sandbox)\n',
    );
    const warn = await exec('grep -c WARN logs/controller.log');
    expect(warn.stdout).toBe('1\n');
  });

  it(verifies('sandbox.shell.isolated'), async () => {
    const etc = await exec('cat /etc/hostname');
    expect(etc.exitCode).not.toBe(0);
    expect(etc.stdout).not.toContain(hostname());
    const repo = await exec(`ls '${REPO}'`);
    expect(repo.exitCode).not.toBe(0);
    expect(existsSync(REPO)).toBe(true);
    const proc = await exec('ls /proc/self/environ /proc/1 2>&1; uname -a; ps');
    expect(proc.exitCode).not.toBe(0);
    expect(proc.stdout).not.toContain('PATH=');
    // A file written in the sandbox is not written on this machine.
    const marker = `/tmp/bastion-sandbox-${randomBytes(6).toString('hex')}`;
    expect((await exec(`echo leak > ${marker} && cat ${marker}`)).stdout).toBe('leak\n');
    expect(existsSync(marker)).toBe(false);
  });

  it(verifies('sandbox.shell.sftp-agrees'), async () => {
    const text = `hello ${randomBytes(4).toString('hex')}\nsecond line\n`;
    const up = await callTool(client, 'uploadFile', {
      connectionId: id,
      remotePath: 'notes/today.txt',
      content: text,
      mode: '0600',
    });
    // The directory does not exist yet: SFTP refuses, as on a disk.
    expect(up.isError).toBe(true);
    expect((await exec('mkdir notes')).exitCode).toBe(0);
    const again = await callTool(client, 'uploadFile', {
      connectionId: id,
      remotePath: 'notes/today.txt',
      content: text,
      mode: '0600',
    });
    expect(again.isError, again.text).toBe(false);
    expect((await exec('cat notes/today.txt')).stdout).toBe(text);
    expect((await exec('stat -c %a /home/agent/notes/today.txt')).stdout).toBe('600\n');

    // The reverse: a file the shell writes is the file SFTP reads, binary included.
    expect((await exec("printf 'a\\tb\\n' > made-by-shell.txt")).exitCode).toBe(0);
    const down = await callTool<{ content: string; encoding: string }>(client, 'downloadFile', {
      connectionId: id,
      remotePath: '/home/agent/made-by-shell.txt',
    });
    expect(down.structured.content).toBe('a\tb\n');
    const binary = Buffer.concat([Buffer.from([0, 255, 0xc3, 0x28, 13, 10]), randomBytes(100_000)]);
    const bin = await callTool(client, 'uploadFile', {
      connectionId: id,
      remotePath: 'blob.bin',
      content: binary.toString('base64'),
      encoding: 'base64',
    });
    expect(bin.isError, bin.text).toBe(false);
    expect((await exec('wc -c < blob.bin')).stdout.trim()).toBe(String(binary.length));
    const back = await callTool<{ content: string; encoding: string }>(client, 'downloadFile', {
      connectionId: id,
      remotePath: 'blob.bin',
      maxBytes: 1_000_000,
    });
    expect(Buffer.from(back.structured.content, 'base64').equals(binary)).toBe(true);
  });

  it('serves directory listings, renames, removals and offset writes over SFTP on the same files', async () => {
    const { sftp, end } = await sftpSession(host);
    try {
      const names = (await promisify<{ filename: string }[]>((cb) => sftp.readdir('.', cb))()).map(
        (e) => e.filename,
      );
      expect(names.sort()).toEqual(expect.arrayContaining(['README.md', 'config', 'logs']));
      await promisify<void>((cb) => sftp.mkdir('/home/agent/sftp-dir', cb))();
      await promisify<void>((cb) => sftp.writeFile('/home/agent/sftp-dir/a.txt', '0123456789', cb))();
      // A write at an offset inside the file, through an open handle.
      const handle = await promisify<Buffer>((cb) => sftp.open('/home/agent/sftp-dir/a.txt', 'r+', cb))();
      await promisify<void>((cb) => sftp.write(handle, Buffer.from('AB'), 0, 2, 4, (err) => cb(err)))();
      await promisify<void>((cb) => sftp.close(handle, cb))();
      expect((await exec('cat sftp-dir/a.txt')).stdout).toBe('0123AB6789');
      await promisify<void>((cb) => sftp.rename('/home/agent/sftp-dir/a.txt', 'sftp-dir/b.txt', cb))();
      expect((await exec('ls sftp-dir')).stdout).toBe('b.txt\n');
      const stat = await promisify<{ size: number; isDirectory(): boolean }>((cb) =>
        sftp.stat('sftp-dir', cb),
      )();
      expect(stat.isDirectory()).toBe(true);
      await expect(promisify<void>((cb) => sftp.rmdir('sftp-dir', cb))()).rejects.toThrow();
      await promisify<void>((cb) => sftp.unlink('sftp-dir/b.txt', cb))();
      await promisify<void>((cb) => sftp.rmdir('sftp-dir', cb))();
      expect((await exec('ls sftp-dir')).exitCode).not.toBe(0);
      await expect(promisify<unknown>((cb) => sftp.stat('/etc/passwd', cb))()).rejects.toThrow(
        /No such file/,
      );
    } finally {
      end();
    }
  });

  it(verifies('sandbox.shell.interrupt'), async () => {
    // A loop that never waits: only the shared abort flag can reach it, the timeout sends the signal.
    const loop = exec('while true; do :; done', { timeoutMs: 500 });
    // Meanwhile the host, the SSH server and this process keep answering.
    const during = await exec('echo still here');
    expect(during.stdout).toBe('still here\n');
    const ended = await loop;
    expect(ended.timedOut).toBe(true);
    expect(ended.exitCode).toBeNull();
    const sleeping = await exec('sleep 30; echo never', { timeoutMs: 300 });
    expect(sleeping.timedOut).toBe(true);
    expect(sleeping.stdout).toBe('');
    expect((await exec('echo after')).stdout).toBe('after\n');
  });

  it('keeps files across commands but starts each command in a fresh shell at home', async () => {
    expect((await exec('cd /tmp; export X=1; echo kept > /tmp/k')).exitCode).toBe(0);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion.
    const next = await exec('pwd; echo "x=${X:-unset}"; cat /tmp/k');
    expect(next.stdout).toBe('/home/agent\nx=unset\nkept\n');
    const withStdin = await callTool<Exec>(client, 'exec', {
      connectionId: id,
      command: 'wc -l',
      stdin: 'one\ntwo\n',
    });
    expect(withStdin.structured.stdout.trim()).toBe('2');
    const failing = await exec('cd /does-not-exist');
    expect(failing.exitCode).toBe(1);
    expect(failing.stderr).toContain('No such file or directory');
    expect((await exec('exit 7')).exitCode).toBe(7);
  });
});

describe('sandbox SSH host, --ssh-shell host', () => {
  const logs = new LogCapture();
  let host: SandboxSshHost;
  let server: SshServerUnderTest;

  beforeAll(async () => {
    host = await startSandboxSshHost('embedded', 'host');
    server = await startSshMcpServer({}, logs);
  });
  afterAll(async () => {
    await server?.close();
    await host?.stop();
  });

  it(verifies('sandbox.shell.host'), async () => {
    expect(host.shell).toBe('host');
    expect(existsSync(`${host.filesDir}/README.md`)).toBe(true);
    const { client, id } = await connectTo(host, server);
    const result = await callTool<Exec>(client, 'exec', {
      connectionId: id,
      command: 'pwd; ls /etc > /dev/null',
    });
    expect(result.structured.stdout.split('\n')[0]).toBe(host.filesDir);
    expect(result.structured.exitCode).toBe(0);
    const dir = host.filesDir;
    await host.stop();
    expect(existsSync(dir)).toBe(false);
  });
});
