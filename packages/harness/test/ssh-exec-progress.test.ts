/**
 * exec's output streamed as progress notifications against a real SSH host in every tier: a silent
 * command longer than the client's timeout completes for a client that resets its timeout on
 * progress (and is ended on the host for one that does not), the cap holds for the stream as for
 * the result, and no UTF-8 character is split between two notifications.
 */

import { randomInt } from 'node:crypto';
import { errorDataOf } from '@bastion/mcp-http/kit';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { sshHostProviders } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import {
  connectArgs,
  connectOrFail,
  eventually,
  LogCapture,
  type SshServerUnderTest,
  startSshMcpServer,
} from './ssh-support.js';

interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  truncated: boolean;
}

describeEachTier('ssh-server exec progress, and results every client accepts', sshHostProviders, (ctx) => {
  const logs = new LogCapture();
  let server: SshServerUnderTest;
  let client: Client;
  let connectionId: string;

  /** exec with a progress token; returns the result and every progress notification. */
  async function execWithProgress(args: Record<string, unknown>, options: { timeout?: number } = {}) {
    const notes: Progress[] = [];
    const result = (await client.callTool({ name: 'exec', arguments: { connectionId, ...args } }, undefined, {
      onprogress: (p) => notes.push(p),
      resetTimeoutOnProgress: true,
      ...options,
    })) as CallToolResult;
    return { result, structured: result.structuredContent as unknown as ExecResult, notes };
  }

  beforeAll(async () => {
    // A heartbeat well inside the client timeouts below.
    server = await startSshMcpServer({ progressIntervalMs: 200, killGraceMs: 300 }, logs);
    client = await server.session();
    await client.listTools();
    connectionId = await connectOrFail(client, connectArgs(ctx.target(), 'key'));
  });
  afterAll(async () => {
    await server?.close();
  });

  it(verifies('ssh.exec.progress-heartbeat'), async () => {
    // Silent for three times the client's timeout.
    const { result, structured, notes } = await execWithProgress(
      { command: 'sleep 3; echo done' },
      { timeout: 1000 },
    );
    expect(result.isError).toBeFalsy();
    expect(structured.stdout).toBe('done\n');
    expect(notes.filter((n) => n.message === undefined).length).toBeGreaterThan(0);
    // progress increases with each notification (the spec's MUST).
    expect(notes.every((n, i) => i === 0 || n.progress > (notes[i - 1]?.progress ?? 0))).toBe(true);

    // Without progress the same client gives up, and the command does not outlive its request.
    const m = `${randomInt(100, 999)}.${randomInt(100000, 999999)}`;
    await expect(
      client.callTool({ name: 'exec', arguments: { connectionId, command: `sleep ${m}` } }, undefined, {
        timeout: 1000,
      }),
    ).rejects.toThrow(/timed out/i);
    await eventually(async () => (await ctx.target().processes(`sleep ${m}`)).length === 0);
  });

  it(verifies('ssh.exec.progress-cap'), async () => {
    const { structured, notes } = await execWithProgress({
      command: "head -c 300000 /dev/zero | tr '\\0' a; sleep 0.3; echo after >&2",
      maxOutputBytes: 1000,
    });
    expect(structured.truncated).toBe(true);
    const messages = notes.map((n) => n.message).filter((m) => m !== undefined);
    const notices = messages.filter((m) => m.includes('truncated'));
    expect(notices).toHaveLength(1);
    const streamed = messages.filter((m) => !m.includes('truncated')).join('');
    expect(streamed).toBe('a'.repeat(1000));
    expect(structured.stdout).toBe(streamed);
  });

  it(verifies('ssh.results.schema'), async () => {
    // This client listed the tools, so callTool checks every result against its outputSchema and
    // throws -32602 on a mismatch: each call below returning at all is the check.
    const unknown = (await client.callTool({
      name: 'exec',
      arguments: { connectionId: 'no-such-connection', command: 'true' },
    })) as CallToolResult;
    expect(unknown.isError).toBe(true);
    // An error before any run has no output to describe: only its code, in _meta (the kit's convention).
    expect(unknown.structuredContent).toBeUndefined();
    expect(errorDataOf(unknown)).toMatchObject({ code: 'UNKNOWN_CONNECTION' });
    for (const [name, args] of [
      ['jobStatus', { jobId: 'nope' }],
      ['readJobOutput', { jobId: 'nope' }],
      ['signalJob', { jobId: 'nope' }],
      ['stopJob', { jobId: 'nope' }],
      ['startJob', { connectionId: 'nope', command: 'true' }],
      ['openShell', { connectionId: 'nope' }],
      ['writeShell', { shellId: 'nope', keys: ['enter'] }],
      ['readShell', { shellId: 'nope' }],
      ['resizeShell', { shellId: 'nope', rows: 1, cols: 1 }],
      ['closeShell', { shellId: 'nope' }],
    ] as const) {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      expect(result.isError, name).toBe(true);
      expect(errorDataOf(result)?.code, name).toMatch(/^(UNKNOWN_JOB|UNKNOWN_CONNECTION|UNKNOWN_SHELL)$/);
    }
  });

  it(verifies('ssh.exec.progress'), async () => {
    // Many 2-byte characters: chunk boundaries fall inside some of them.
    const { structured, notes } = await execWithProgress({
      command:
        "i=0; while [ $i -lt 400 ]; do printf 'üüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüü'; i=$((i+1)); done",
    });
    const streamed = notes.map((n) => n.message ?? '').join('');
    expect(streamed).not.toContain('\uFFFD');
    expect(streamed).toBe(structured.stdout);
    expect(streamed).toBe('ü'.repeat(400 * 48));
  });
});
