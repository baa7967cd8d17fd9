/**
 * exec against a real SSH host in every tier: output and exit codes, timeouts that end the remote
 * process, output caps, cwd, stdin, env, progress, limits and bad input.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { sshHostProviders } from '../src/targets/ssh/index.js';
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

interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  truncated: boolean;
  durationMs: number;
  reconnected: boolean;
  code?: string;
}

describeEachTier('ssh-server exec', sshHostProviders, (ctx) => {
  const logs = new LogCapture();
  let server: SshServerUnderTest;
  let client: Client;
  let connectionId: string;
  const exec = (args: Record<string, unknown>) =>
    callTool<ExecResult>(client, 'exec', { connectionId, ...args });

  beforeAll(async () => {
    server = await startSshMcpServer(
      { maxExecsPerConnection: 2, maxConnectionsPerSession: 2, killGraceMs: 500, maxFileBytes: 1024 },
      logs,
    );
    client = await server.session();
    connectionId = await connectOrFail(client, connectArgs(ctx.target(), 'key'));
  });
  afterAll(async () => {
    await server?.close();
  });

  it(verifies('ssh.exec.output'), async () => {
    const result = await exec({ command: 'echo out; echo err >&2' });
    expect(result.isError).toBe(false);
    expect(result.structured).toMatchObject({
      stdout: 'out\n',
      stderr: 'err\n',
      exitCode: 0,
      timedOut: false,
    });
    expect(result.text).toContain('out');
  });

  it(verifies('ssh.exec.nonzero-exit'), async () => {
    const result = await exec({ command: 'echo hi; echo err >&2; exit 3' });
    expect(result.isError).toBe(true);
    expect(result.structured).toMatchObject({
      stdout: 'hi\n',
      stderr: 'err\n',
      exitCode: 3,
      code: 'NONZERO_EXIT',
    });
    expect(result.text).toContain('exited with code 3');
  });

  ctx.itWith('signals')(verifies('ssh.exec.timeout'), async () => {
    const target = ctx.target();
    // A sleep whose command line no other process has, so that pgrep finds only this one.
    const marker = `60.${randomInt(100000, 999999)}`;
    const result = await exec({ command: `sleep ${marker}`, timeoutMs: 500 });
    expect(result.isError).toBe(true);
    expect(result.structured.timedOut).toBe(true);
    expect(result.structured.code).toBe('TIMEOUT');
    expect(result.structured.signal).toMatch(/^SIG(TERM|KILL)$/);
    await eventually(async () => (await target.processes(`sleep ${marker}`)).length === 0);
    // The connection is still usable afterwards.
    expect((await exec({ command: 'echo still-here' })).structured.stdout).toBe('still-here\n');
  });

  ctx.itWith('signals')('ends a command when the client cancels the request', async () => {
    const target = ctx.target();
    const marker = `61.${randomInt(100000, 999999)}`;
    const abort = new AbortController();
    const call = client.callTool(
      { name: 'exec', arguments: { connectionId, command: `sleep ${marker}` } },
      undefined,
      {
        signal: abort.signal,
      },
    );
    await eventually(async () => (await target.processes(`sleep ${marker}`)).length > 0);
    abort.abort();
    await expect(call).rejects.toThrow();
    await eventually(async () => (await target.processes(`sleep ${marker}`)).length === 0);
  });

  it(verifies('ssh.exec.output-cap'), async () => {
    const result = await exec({
      command: 'head -c 300000 /dev/zero | tr "\\0" a; echo done >&2',
      maxOutputBytes: 1000,
    });
    expect(result.structured.truncated).toBe(true);
    expect(result.structured.stdout.length + result.structured.stderr.length).toBe(1000);
    expect(result.structured.exitCode).toBe(0);
    expect(result.text).toContain('truncated');
    const small = await exec({ command: 'printf 12345', maxOutputBytes: 5 });
    expect(small.structured).toMatchObject({ stdout: '12345', truncated: false });
  });

  it(verifies('ssh.exec.cwd'), async () => {
    const target = ctx.target();
    const inDir = await exec({ command: 'pwd', cwd: target.scratchDir });
    expect(inDir.structured.stdout).toBe(`${target.scratchDir}\n`);

    const file = `${target.scratchDir}/ran-${randomBytes(4).toString('hex')}`;
    const missing = await exec({ command: `touch '${file}'`, cwd: `${target.scratchDir}/no such dir` });
    expect(missing.isError).toBe(true);
    expect(missing.structured.code).toBe('CWD_FAILED');
    expect(missing.text).toContain('the command was not run');
    const check = await exec({ command: `test -e '${file}' && echo exists || echo absent` });
    expect(check.structured.stdout).toBe('absent\n');

    // A directory name that is itself shell syntax is entered literally, not run.
    const odd = `${target.scratchDir}/d'$(touch pwned);"x`;
    await exec({ command: 'mkdir -p "$D"', env: { D: odd } });
    const quoted = await exec({ command: 'pwd; ls', cwd: odd });
    expect(quoted.structured.stdout).toBe(`${odd}\n`);
  });

  it(verifies('ssh.exec.stdin'), async () => {
    const input = 'line one\nline two with ünïcode\n';
    const result = await exec({ command: 'cat; echo "[$(wc -l)]" >&2', stdin: input });
    expect(result.structured.stdout).toBe(input);
    const empty = await exec({ command: 'cat' });
    expect(empty.structured).toMatchObject({ stdout: '', exitCode: 0 });
  });

  it(verifies('ssh.exec.env'), async () => {
    const value = `a b 'c' "d" $HOME \`x\` ü`;
    const result = await exec({
      command: 'printf %s "$FOO"; printf %s "$BAR" >&2',
      env: { FOO: value, BAR: '' },
    });
    expect(result.structured).toMatchObject({ stdout: value, stderr: '', exitCode: 0 });
  });

  it(verifies('ssh.exec.progress'), async () => {
    const messages: string[] = [];
    const result = await callTool<ExecResult>(
      client,
      'exec',
      { connectionId, command: 'echo first; sleep 0.2; echo second >&2' },
      (progress) => messages.push(progress.message ?? ''),
    );
    expect(result.isError).toBe(false);
    expect(messages.join('')).toContain('first');
    expect(messages.join('')).toContain('[stderr] second');
  });

  it(verifies('ssh.exec.limits'), async () => {
    const target = ctx.target();
    // Per session: this one already has a connection, and the limit is two.
    const second = await connectOrFail(client, connectArgs(target, 'key'));
    const refused = await callTool(client, 'connect', connectArgs(target, 'key'));
    expect(refused.isError).toBe(true);
    expect(refused.structured.code).toBe('TOO_MANY_CONNECTIONS');

    // Per connection: two commands at once, the third is refused while they run.
    const marker = `62.${randomInt(100000, 999999)}`;
    const running = [1, 2].map(() => exec({ command: `sleep ${marker}`, timeoutMs: 30_000 }));
    await eventually(async () => (await target.processes(`sleep ${marker}`)).length >= 2);
    const third = await exec({ command: 'echo no' });
    expect(third.isError).toBe(true);
    expect(third.structured.code).toBe('TOO_MANY_EXECS');
    // The other connection is not affected; it ends the two (the [p] keeps pkill's own shell out).
    await callTool(client, 'exec', { connectionId: second, command: `pkill -f 'slee[p] ${marker}'` });
    const ended = await Promise.all(running);
    expect(ended.map((r) => r.structured.signal)).toEqual(['SIGTERM', 'SIGTERM']);
    await callTool(client, 'disconnect', { connectionId: second });
  });

  it(verifies('ssh.input.invalid'), async () => {
    const unknown = await callTool(client, 'exec', { connectionId: 'nope', command: 'true' });
    expect(unknown.isError).toBe(true);
    expect(unknown.structured.code).toBe('UNKNOWN_CONNECTION');
    const empty = await callTool(client, 'exec', { connectionId, command: '' });
    expect(empty.isError).toBe(true);
    expect(empty.text).toMatch(/command must not be empty/);
    const fingerprint = await callTool(client, 'connect', {
      ...connectArgs(ctx.target(), 'key'),
      hostFingerprint: 'MD5:aa:bb',
    });
    expect(fingerprint.isError).toBe(true);
    expect(fingerprint.text).toMatch(/SHA256:<43 base64 characters>/);
    const big = await callTool(client, 'uploadFile', {
      connectionId,
      remotePath: `${ctx.target().scratchDir}/big`,
      content: 'x'.repeat(2048),
    });
    expect(big.isError).toBe(true);
    expect(big.structured.code).toBe('TOO_LARGE');
    const noAuth = await callTool(client, 'connect', { host: '127.0.0.1', username: 'x' });
    expect(noAuth.structured.code).toBe('INVALID_INPUT');
    const badKey = await callTool(client, 'connect', {
      host: '127.0.0.1',
      username: 'x',
      privateKey: 'not a key',
    });
    expect(badKey.structured.code).toBe('INVALID_INPUT');
    // The server is still fine after all of that.
    expect((await exec({ command: 'echo ok' })).structured.stdout).toBe('ok\n');
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const target = ctx.target();
    expect(logs.text()).toContain('ssh connected');
    expect(leakedSecrets([logs.text(), target.logs(), ...resultsSeen], target.secrets())).toEqual([]);
  });
});
