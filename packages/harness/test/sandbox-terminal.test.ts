/**
 * Jobs and the terminal-like shell of the sandbox's simulated shell (just-bash), through the real
 * SSH MCP server: what SANDBOX.md promises of them, and nothing of this machine reached.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
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

interface ShellRead {
  output: string;
  nextOffset: number;
  state: 'open' | 'closed';
  exitCode: number | null;
  closeReason: string | null;
}

describe('sandbox SSH host, simulated shell: jobs and terminal', () => {
  const logs = new LogCapture();
  let host: SandboxSshHost;
  let server: SshServerUnderTest;
  let client: Client;
  let connectionId: string;

  /** Types `text` + Enter into the shell and returns the output up to `expected`. */
  async function type(shellId: string, text: string | undefined, expected: string, keys = ['enter']) {
    const written = await callTool<{ outputEnd: number }>(client, 'writeShell', { shellId, text, keys });
    expect(written.isError, written.text).toBe(false);
    const read = await callTool<ShellRead>(client, 'readShell', {
      shellId,
      offset: written.structured.outputEnd,
      waitMs: 10_000,
      until: expected,
    });
    return read.structured;
  }

  beforeAll(async () => {
    host = await startSandboxSshHost('embedded', 'simulated');
    server = await startSshMcpServer({ killGraceMs: 200 }, logs);
    client = await server.session();
    await client.listTools();
    connectionId = await connectOrFail(client, {
      host: host.host,
      port: host.port,
      username: host.username,
      password: host.password,
      hostFingerprint: host.fingerprint,
    });
  });
  afterAll(async () => {
    await server?.close();
    await host?.stop();
  });

  it(verifies('sandbox.shell.jobs'), async () => {
    const started = await callTool<{ jobId: string }>(client, 'startJob', {
      connectionId,
      command: 'grep -c WARN logs/controller.log; echo oops >&2; exit 3',
    });
    expect(started.isError, started.text).toBe(false);
    const done = await callTool(client, 'jobStatus', { jobId: started.structured.jobId, waitMs: 10_000 });
    expect(done.structured).toMatchObject({ state: 'finished', exitCode: 3, endReason: 'exited' });
    const read = await callTool(client, 'readJobOutput', { jobId: started.structured.jobId });
    expect(read.structured).toMatchObject({ stdout: '1\n', stderr: 'oops\n' });
    const long = await callTool<{ jobId: string }>(client, 'startJob', { connectionId, command: 'sleep 60' });
    const stopped = await callTool(client, 'stopJob', { jobId: long.structured.jobId });
    expect(stopped.structured).toMatchObject({ state: 'finished', endReason: 'stopped' });
  });

  it(verifies('sandbox.shell.terminal'), async () => {
    const opened = await callTool<{ shellId: string }>(client, 'openShell', { connectionId });
    expect(opened.isError, opened.text).toBe(false);
    const { shellId } = opened.structured;
    const first = await callTool<ShellRead>(client, 'readShell', { shellId, waitMs: 10_000, until: '$ ' });
    expect(first.structured.output).toContain('agent@sandbox:~$ ');
    // The directory carries over from line to line; output has a terminal's line ends.
    await type(shellId, 'cd config', 'config$ ');
    const ls = await type(shellId, 'pwd; ls', 'devices.json\r\nagent@sandbox:~/config$ ');
    expect(ls.output).toContain('/home/agent/config\r\ndevices.json\r\n');
    // Line editing and history (waiting for the prompt after the output, not the echo of the line).
    const prompt = 'agent@sandbox:~/config$ ';
    const edited = await type(shellId, 'echo helloo', `\r\nhello\r\n${prompt}`, ['backspace', 'enter']);
    expect(edited.output).toContain(`\r\nhello\r\n${prompt}`);
    const recalled = await type(shellId, undefined, `\r\nhello\r\n${prompt}`, ['up', 'enter']);
    expect(recalled.output).toContain('echo hello\r\nhello\r\n');
    // ctrl-c stops a running line; the shell stays.
    await callTool(client, 'writeShell', { shellId, text: 'sleep 30', keys: ['enter'] });
    const interrupted = await type(shellId, undefined, '^C', ['ctrl-c']);
    expect(interrupted.output).toContain('^C');
    expect((await type(shellId, 'echo alive', `\r\nalive\r\n${prompt}`)).output).toContain('alive');
    // exit ends it with its code.
    const exited = await type(shellId, 'exit 4', 'never printed');
    expect(exited).toMatchObject({ state: 'closed', exitCode: 4, closeReason: 'exited' });
  });
});
