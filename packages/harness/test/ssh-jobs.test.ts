/**
 * Background jobs against a real SSH host in every tier: start, read by offset, status, the output
 * ring, signals, stop, timeout, and every way a job's connection can end, each checked with pgrep on
 * the host so that no remote process outlives its job.
 */
import { randomInt } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../src/faults/tcp-proxy.js';
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

interface JobInfo {
  jobId: string;
  state: 'running' | 'finished';
  exitCode: number | null;
  signal: string | null;
  endReason: string | null;
  stdoutBytes: number;
  stderrBytes: number;
  droppedBytes: number;
}

interface JobRead extends JobInfo {
  stdout: string;
  stderr: string;
  stdoutOffset: number;
  nextStdoutOffset: number;
  nextStderrOffset: number;
  dropped: number;
  more: boolean;
}

/** A command line no other process has, so that pgrep finds only what this test started. */
const marker = () => `${randomInt(100, 999)}.${randomInt(100000, 999999)}`;

describeEachTier('ssh-server background jobs', sshHostProviders, (ctx) => {
  const logs = new LogCapture();
  let server: SshServerUnderTest;
  let client: Client;
  let connectionId: string;
  let proxy: FaultProxy | undefined;

  const startJob = (args: Record<string, unknown>) =>
    callTool<JobInfo>(client, 'startJob', { connectionId, ...args });
  const status = (jobId: string, waitMs = 0) => callTool<JobInfo>(client, 'jobStatus', { jobId, waitMs });
  const gone = (pattern: string) =>
    eventually(async () => (await ctx.target().processes(pattern)).length === 0);
  const running = (pattern: string) =>
    eventually(async () => (await ctx.target().processes(pattern)).length > 0);

  /** Reads a job to its end, offset after offset, and returns everything it printed. */
  async function readAll(jobId: string): Promise<{ stdout: string; stderr: string; last: JobRead }> {
    let stdout = '';
    let stderr = '';
    let offsets = { stdoutOffset: 0, stderrOffset: 0 };
    for (;;) {
      const read = await callTool<JobRead>(client, 'readJobOutput', { jobId, ...offsets, waitMs: 2000 });
      expect(read.isError).toBe(false);
      stdout += read.structured.stdout;
      stderr += read.structured.stderr;
      offsets = {
        stdoutOffset: read.structured.nextStdoutOffset,
        stderrOffset: read.structured.nextStderrOffset,
      };
      if (read.structured.state === 'finished' && !read.structured.more)
        return { stdout, stderr, last: read.structured };
    }
  }

  beforeAll(async () => {
    server = await startSshMcpServer({ maxJobs: 3, killGraceMs: 300 }, logs);
    client = await server.session();
    // With the tool list cached, the official client checks every result against its outputSchema.
    await client.listTools();
    connectionId = await connectOrFail(client, connectArgs(ctx.target(), 'key'));
  });
  // A test that failed half-way must not leave jobs that count against the next one's limit.
  afterEach(async () => {
    const list = await callTool<{ jobs: JobInfo[] }>(client, 'listJobs', {});
    for (const job of list.structured.jobs.filter((j) => j.state === 'running'))
      await callTool(client, 'stopJob', { jobId: job.jobId });
  });
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
  });

  it(verifies('ssh.jobs.start-read'), async () => {
    const started = await startJob({
      command: "printf 'one\\n'; sleep 0.3; printf 'two\\n' >&2; printf 'thrée\\n'; exit 5",
    });
    expect(started.isError).toBe(false);
    expect(started.structured.jobId).toMatch(/^[0-9a-f-]{36}$/);
    const { stdout, stderr, last } = await readAll(started.structured.jobId);
    expect(stdout).toBe('one\nthrée\n');
    expect(stderr).toBe('two\n');
    expect(last).toMatchObject({ exitCode: 5, endReason: 'exited', dropped: 0 });
    expect(last.nextStdoutOffset).toBe(Buffer.byteLength('one\nthrée\n'));
    const done = await status(started.structured.jobId);
    expect(done.structured).toMatchObject({ state: 'finished', exitCode: 5, signal: null });
    expect(done.text).toContain('exited with code 5');
    const listed = await callTool<{ jobs: JobInfo[] }>(client, 'listJobs', {});
    expect(listed.structured.jobs.map((j) => j.jobId)).toContain(started.structured.jobId);
  });

  it(verifies('ssh.jobs.ring'), async () => {
    const started = await startJob({ command: 'seq 1 3000', outputBytes: 1024 });
    const done = await status(started.structured.jobId, 20_000);
    const total = Array.from({ length: 3000 }, (_, i) => `${i + 1}\n`).join('');
    expect(done.structured).toMatchObject({ state: 'finished', exitCode: 0, stdoutBytes: total.length });
    expect(done.structured.droppedBytes).toBe(total.length - 1024);
    const read = await callTool<JobRead>(client, 'readJobOutput', { jobId: started.structured.jobId });
    expect(read.structured.dropped).toBe(total.length - 1024);
    expect(read.structured.stdoutOffset).toBe(total.length - 1024);
    expect(read.structured.stdout).toBe(total.slice(-1024));
    expect(read.text).toContain('dropped');
    // Reading in small steps gives each held byte once.
    const first = await callTool<JobRead>(client, 'readJobOutput', {
      jobId: started.structured.jobId,
      stdoutOffset: total.length - 1024,
      maxBytes: 1000,
    });
    expect(first.structured).toMatchObject({ more: true, dropped: 0 });
    const rest = await callTool<JobRead>(client, 'readJobOutput', {
      jobId: started.structured.jobId,
      stdoutOffset: first.structured.nextStdoutOffset,
    });
    expect(first.structured.stdout + rest.structured.stdout).toBe(total.slice(-1024));
  });

  it(verifies('ssh.jobs.signal'), async () => {
    const started = await startJob({
      command: "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.1; done",
    });
    const jobId = started.structured.jobId;
    const ready = await callTool<JobRead>(client, 'readJobOutput', { jobId, waitMs: 10_000 });
    expect(ready.structured.stdout).toContain('ready');
    const signalled = await callTool<JobInfo>(client, 'signalJob', { jobId, signal: 'USR1' });
    expect(signalled.isError).toBe(false);
    await eventually(async () => {
      const read = await callTool<JobRead>(client, 'readJobOutput', { jobId });
      return read.structured.stdout.includes('got-usr1');
    });
    expect((await status(jobId)).structured.state).toBe('running');
    await callTool(client, 'signalJob', { jobId, signal: 'TERM' });
    const ended = await status(jobId, 10_000);
    expect(ended.structured).toMatchObject({ state: 'finished', endReason: 'exited', signal: 'SIGTERM' });
  });

  it(verifies('ssh.jobs.stop'), async () => {
    const [a, b] = [marker(), marker()];
    // A background child, and a foreground one that ignores TERM: only KILL ends it.
    const started = await startJob({ command: `sleep ${a} & (trap '' TERM; exec sleep ${b})` });
    await running(`sleep ${a}`);
    await running(`sleep ${b}`);
    const stopped = await callTool<JobInfo>(client, 'stopJob', { jobId: started.structured.jobId });
    expect(stopped.structured).toMatchObject({ state: 'finished', endReason: 'stopped' });
    await gone(`sleep ${a}`);
    await gone(`sleep ${b}`);
    // Stopping again is harmless; the output stays readable.
    expect((await callTool(client, 'stopJob', { jobId: started.structured.jobId })).isError).toBe(false);
  });

  it(verifies('ssh.jobs.timeout'), async () => {
    const m = marker();
    const started = await startJob({ command: `sleep ${m}`, timeoutMs: 500 });
    const ended = await status(started.structured.jobId, 20_000);
    expect(ended.structured).toMatchObject({ state: 'finished', endReason: 'timeout' });
    await gone(`sleep ${m}`);
  });

  it(verifies('ssh.jobs.connection-closed'), async () => {
    const other = await connectOrFail(client, connectArgs(ctx.target(), 'key'));
    const m = marker();
    const started = await callTool<JobInfo>(client, 'startJob', {
      connectionId: other,
      command: `sleep ${m}`,
    });
    await running(`sleep ${m}`);
    await callTool(client, 'disconnect', { connectionId: other });
    await gone(`sleep ${m}`);
    const ended = await status(started.structured.jobId);
    expect(ended.structured).toMatchObject({ state: 'finished', endReason: 'connection_closed' });
  });

  it(verifies('ssh.jobs.connection-lost'), async () => {
    const target = ctx.target();
    proxy = await startFaultProxy({ targetHost: target.host, targetPort: target.port });
    const viaProxy = await connectOrFail(
      client,
      connectArgs(target, 'key', { host: proxy.host, port: proxy.port }),
    );
    const m = marker();
    const started = await callTool<JobInfo>(client, 'startJob', {
      connectionId: viaProxy,
      command: `sleep ${m}`,
    });
    await running(`sleep ${m}`);
    // The network drops: no signal request can reach the host any more.
    proxy.cut();
    await gone(`sleep ${m}`);
    const ended = await status(started.structured.jobId, 10_000);
    expect(ended.structured).toMatchObject({ state: 'finished', endReason: 'connection_lost' });
    await callTool(client, 'disconnect', { connectionId: viaProxy });
  });

  it(verifies('ssh.jobs.cwd'), async () => {
    const target = ctx.target();
    const inDir = await startJob({ command: 'pwd', cwd: target.scratchDir });
    expect((await readAll(inDir.structured.jobId)).stdout).toBe(`${target.scratchDir}\n`);
    const missing = await startJob({ command: 'echo ran', cwd: `${target.scratchDir}/no such dir` });
    const { stdout, stderr, last } = await readAll(missing.structured.jobId);
    expect(last.endReason).toBe('cwd_failed');
    expect(stdout).toBe('');
    expect(stderr).not.toContain('bastion-cwd');
    // cd's own message stays.
    expect(stderr).toMatch(/cd/);
  });

  it(verifies('ssh.jobs.limits'), async () => {
    const m = marker();
    const jobs = await Promise.all([1, 2, 3].map(() => startJob({ command: `sleep ${m}` })));
    expect(jobs.map((j) => j.isError)).toEqual([false, false, false]);
    const refused = await startJob({ command: 'true' });
    expect(refused.isError).toBe(true);
    expect((refused.structured as { code?: string }).code).toBe('TOO_MANY_JOBS');
    for (const job of jobs) await callTool(client, 'stopJob', { jobId: job.structured.jobId });
    await gone(`sleep ${m}`);
    const unknown = await status('no-such-job');
    expect(unknown.isError).toBe(true);
    expect((unknown.structured as { code?: string }).code).toBe('UNKNOWN_JOB');
    const past = await callTool(client, 'readJobOutput', {
      jobId: jobs[0]?.structured.jobId,
      stdoutOffset: 1e9,
    });
    expect(past.isError).toBe(true);
    expect(past.structured.code).toBe('INVALID_INPUT');
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const target = ctx.target();
    expect(leakedSecrets([logs.text(), target.logs(), ...resultsSeen], target.secrets())).toEqual([]);
  });
});
