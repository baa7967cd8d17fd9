/**
 * Interactive shells on a PTY against a real SSH host in every tier that has terminals: a real
 * terminal of the size asked for, named keys, a no-echo password prompt whose answer is never
 * logged, resize, a REPL and `top -b`, the output ring, and closing, idle timeout and disconnect
 * each ending what ran in the shell (pgrep on the host).
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { sshHostProvidersWith } from '../src/targets/ssh/index.js';
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

interface ShellInfo {
  shellId: string;
  state: 'open' | 'closed';
  rows: number;
  cols: number;
  closeReason: string | null;
  outputEnd: number;
}

interface ShellRead extends ShellInfo {
  output: string;
  offset: number;
  nextOffset: number;
  dropped: number;
  more: boolean;
}

const marker = () => `${randomInt(100, 999)}.${randomInt(100000, 999999)}`;

describeEachTier('ssh-server interactive shells', sshHostProvidersWith('pty'), (ctx) => {
  const logs = new LogCapture();
  let server: SshServerUnderTest;
  let client: Client;
  let connectionId: string;

  const open = async (args: Record<string, unknown> = {}) => {
    const opened = await callTool<ShellInfo>(client, 'openShell', { connectionId, ...args });
    if (opened.isError) throw new Error(`openShell failed: ${opened.text}`);
    return opened.structured.shellId;
  };
  const gone = (pattern: string) =>
    eventually(async () => (await ctx.target().processes(pattern)).length === 0);
  const running = (pattern: string) =>
    eventually(async () => (await ctx.target().processes(pattern)).length > 0);

  /** Output of `shellId` from `offset` until it contains `text` (or the shell ends). */
  async function readUntil(shellId: string, offset: number, text: string): Promise<string> {
    let output = '';
    let at = offset;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const read = await callTool<ShellRead>(client, 'readShell', {
        shellId,
        offset: at,
        waitMs: 5000,
        until: text,
      });
      expect(read.isError).toBe(false);
      output += read.structured.output;
      at = read.structured.nextOffset;
      if (output.includes(text) || read.structured.state === 'closed') return output;
    }
    return output;
  }

  /** Types `input` (and Enter), then returns the output up to `expected`. */
  async function type(shellId: string, input: string, expected: string): Promise<string> {
    const written = await callTool<{ outputEnd: number }>(client, 'writeShell', {
      shellId,
      text: input,
      keys: ['enter'],
    });
    expect(written.isError).toBe(false);
    return readUntil(shellId, written.structured.outputEnd, expected);
  }

  beforeAll(async () => {
    server = await startSshMcpServer({ maxShells: 3, killGraceMs: 300 }, logs);
    client = await server.session();
    // With the tool list cached, the official client checks every result against its outputSchema.
    await client.listTools();
    connectionId = await connectOrFail(client, connectArgs(ctx.target(), 'key'));
  });
  // A test that failed half-way must not leave shells that count against the next one's limit.
  afterEach(async () => {
    const list = await callTool<{ shells: ShellInfo[] }>(client, 'listShells', {});
    for (const shell of list.structured.shells)
      await callTool(client, 'closeShell', { shellId: shell.shellId });
  });
  afterAll(async () => {
    await server?.close();
  });

  it(verifies('ssh.shell.pty'), async () => {
    const shellId = await open({ term: 'vt100', rows: 30, cols: 100 });
    const output = await type(shellId, 'tty; echo "T=$TERM"; stty size; echo done-$((40+2))', 'done-42');
    expect(output).toMatch(/\/dev\/pts\/\d+/);
    expect(output).toContain('T=vt100');
    expect(output).toContain('30 100');
    // A terminal's line ends.
    expect(output).toContain('\r\n');
    await callTool(client, 'closeShell', { shellId });
  });

  it(verifies('ssh.shell.keys'), async () => {
    const shellId = await open();
    const m = marker();
    const written = await callTool<{ outputEnd: number }>(client, 'writeShell', {
      shellId,
      text: `sleep ${m}`,
      keys: ['enter'],
    });
    await running(`sleep ${m}`);
    await callTool(client, 'writeShell', { shellId, keys: ['ctrl-c'] });
    await gone(`sleep ${m}`);
    // The shell is still there, and up recalls the last line of its history.
    await type(shellId, 'echo alive-$((6*7))', 'alive-42');
    const again = await callTool<{ outputEnd: number }>(client, 'writeShell', {
      shellId,
      keys: ['up', 'enter'],
    });
    expect(await readUntil(shellId, again.structured.outputEnd, 'alive-42')).toContain('alive-42');
    expect(written.structured.outputEnd).toBeGreaterThanOrEqual(0);
    await callTool(client, 'closeShell', { shellId });
  });

  it(verifies('ssh.shell.secret-input'), async () => {
    const { tools } = await client.listTools();
    const writeShell = tools.find((t) => t.name === 'writeShell');
    const properties = (writeShell?.inputSchema.properties ?? {}) as Record<string, Record<string, unknown>>;
    expect(properties.text?.writeOnly).toBe(true);

    const secret = `s3cr3t-${randomBytes(9).toString('base64url')}`;
    const shellId = await open();
    const prompt = await callTool<{ outputEnd: number }>(client, 'writeShell', {
      shellId,
      // The prompt is built when read runs, so the echo of this line does not contain it: typing
      // before the prompt is there would put the password on the screen.
      text: `read -s -p "$(printf 'Pass%s: ' word)" pw; echo; echo "len=\${#pw}"`,
      keys: ['enter'],
    });
    await readUntil(shellId, prompt.structured.outputEnd, 'Password: ');
    const typed = await callTool<{ outputEnd: number }>(client, 'writeShell', {
      shellId,
      text: secret,
      keys: ['enter'],
    });
    expect(typed.text).not.toContain(secret);
    const answer = await readUntil(shellId, typed.structured.outputEnd, `len=${secret.length}`);
    expect(answer).toContain(`len=${secret.length}`);
    const all = await callTool<ShellRead>(client, 'readShell', { shellId });
    // Echo was off: the terminal never printed it.
    expect(all.structured.output).not.toContain(secret);
    await callTool(client, 'closeShell', { shellId });
    expect(leakedSecrets([logs.text(), ctx.target().logs(), ...resultsSeen], [secret])).toEqual([]);
  });

  it(verifies('ssh.shell.resize'), async () => {
    const shellId = await open({ rows: 24, cols: 80 });
    expect(await type(shellId, 'stty size', '24 80')).toContain('24 80');
    const resized = await callTool<ShellInfo>(client, 'resizeShell', { shellId, rows: 40, cols: 120 });
    expect(resized.structured).toMatchObject({ rows: 40, cols: 120, state: 'open' });
    expect(await type(shellId, 'stty size', '40 120')).toContain('40 120');
    await callTool(client, 'closeShell', { shellId });
  });

  it(verifies('ssh.shell.programs'), async () => {
    const shellId = await open();
    // A REPL every Debian host has (perl-base is essential): it answers each line read from the
    // terminal, until ctrl-d. (mawk would wait for a full input block, not a line.) It announces
    // itself with a computed marker: waiting for the typed text would match the terminal's own echo,
    // and a line typed before perl runs can go to the shell instead.
    await type(
      shellId,
      `perl -ne 'BEGIN { $| = 1; print "perl-", 6 * 7, "\\n" } print $_ * 3, "\\n"'`,
      'perl-42',
    );
    expect(await type(shellId, '341', '1023')).toContain('1023');
    const eof = await callTool<{ outputEnd: number }>(client, 'writeShell', { shellId, keys: ['ctrl-d'] });
    expect(eof.isError).toBe(false);
    const top = await type(shellId, 'top -b -n 1 | head -n 12; echo top-$((1+1))', 'top-2');
    expect(top).toMatch(/PID\s+USER/);
    await callTool(client, 'closeShell', { shellId });
  });

  it(verifies('ssh.shell.output-cap'), async () => {
    const shellId = await open({ outputBytes: 1024 });
    await type(shellId, 'seq 1 3000; echo end-$((2+3))', 'end-5');
    const read = await callTool<ShellRead>(client, 'readShell', { shellId });
    expect(read.structured.dropped).toBeGreaterThan(0);
    expect(read.structured.offset).toBe(read.structured.dropped);
    expect(Buffer.byteLength(read.structured.output)).toBeLessThanOrEqual(1024);
    expect(read.structured.output).toContain('end-5');
    await callTool(client, 'closeShell', { shellId });
  });

  it(verifies('ssh.shell.close'), async () => {
    const shellId = await open();
    const m = marker();
    await callTool(client, 'writeShell', { shellId, text: `sleep ${m}`, keys: ['enter'] });
    await running(`sleep ${m}`);
    const closed = await callTool<ShellInfo>(client, 'closeShell', { shellId });
    expect(closed.structured).toMatchObject({ state: 'closed', closeReason: 'stopped' });
    await gone(`sleep ${m}`);
    const after = await callTool(client, 'readShell', { shellId });
    expect(after.isError).toBe(true);
    expect(after.structured.code).toBe('UNKNOWN_SHELL');
  });

  it(verifies('ssh.shell.idle-timeout'), async () => {
    const shellId = await open({ idleTimeoutMs: 1000 });
    const m = marker();
    await callTool(client, 'writeShell', { shellId, text: `sleep ${m}`, keys: ['enter'] });
    await running(`sleep ${m}`);
    // No call on the shell from here on (listShells does not count as one).
    await eventually(async () => {
      const list = await callTool<{ shells: ShellInfo[] }>(client, 'listShells', {});
      return list.structured.shells.find((s) => s.shellId === shellId)?.closeReason === 'idle_timeout';
    });
    await gone(`sleep ${m}`);
    const write = await callTool(client, 'writeShell', { shellId, keys: ['enter'] });
    expect(write.isError).toBe(true);
    expect(write.text).toContain('idle_timeout');
  });

  it(verifies('ssh.shell.connection-closed'), async () => {
    const other = await connectOrFail(client, connectArgs(ctx.target(), 'key'));
    const shell = await callTool<ShellInfo>(client, 'openShell', { connectionId: other });
    const m = marker();
    await callTool(client, 'writeShell', {
      shellId: shell.structured.shellId,
      text: `sleep ${m}`,
      keys: ['enter'],
    });
    await running(`sleep ${m}`);
    await callTool(client, 'disconnect', { connectionId: other });
    await gone(`sleep ${m}`);
    const list = await callTool<{ shells: ShellInfo[] }>(client, 'listShells', {});
    expect(list.structured.shells.find((s) => s.shellId === shell.structured.shellId)).toMatchObject({
      state: 'closed',
      closeReason: 'connection_closed',
    });
  });

  it(verifies('ssh.shell.limits'), async () => {
    const ids = [await open(), await open(), await open()];
    const refused = await callTool(client, 'openShell', { connectionId });
    expect(refused.isError).toBe(true);
    expect(refused.structured.code).toBe('TOO_MANY_SHELLS');
    for (const shellId of ids) await callTool(client, 'closeShell', { shellId });
    const empty = await callTool(client, 'writeShell', { shellId: 'nope' });
    expect(empty.isError).toBe(true);
    const unknownKey = await callTool(client, 'writeShell', { shellId: 'nope', keys: ['hyper-x'] });
    expect(unknownKey.isError).toBe(true);
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const target = ctx.target();
    expect(leakedSecrets([logs.text(), target.logs(), ...resultsSeen], target.secrets())).toEqual([]);
  });
});
