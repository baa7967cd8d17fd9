/**
 * The SDK-independent owners of remote work, driven directly (no MCP) against a real SSH host:
 * ManagedConnection.close() ends every exec, job and shell running on it before the connection
 * itself closes, and JobTable/ShellTable.closeAll() end theirs while the connection stays usable.
 * These are the hooks a stateless-era registry calls when an identity's connections expire.
 */
import { randomInt } from 'node:crypto';
import {
  ConnectionRegistry,
  execOnConnection,
  fingerprintOf,
  inputBytes,
  type Job,
  JobTable,
  type ManagedConnection,
  ShellTable,
} from '@bastion/ssh-server';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { type SshHostTarget, sshHostProvidersWith } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { eventually, LogCapture } from './ssh-support.js';

const marker = () => `${randomInt(100, 999)}.${randomInt(100000, 999999)}`;

function paramsFor(target: SshHostTarget) {
  return {
    host: target.host,
    port: target.port,
    username: target.keyLogin.username,
    privateKey: target.keyLogin.privateKey,
    readyTimeoutMs: 10_000,
    keepaliveIntervalMs: 0,
    keepaliveCountMax: 3,
    verifyHostKey: (key: Buffer) =>
      fingerprintOf(key) === target.hostKey.fingerprint ? undefined : 'not the target host key',
  };
}

describeEachTier('ssh-server remote work owners', sshHostProvidersWith('pty'), (ctx) => {
  const logs = new LogCapture();
  let registry: ConnectionRegistry;
  let jobs: JobTable;
  let shells: ShellTable;
  const limits = { killGraceMs: 300 };

  const count = async (pattern: string) => (await ctx.target().processes(pattern)).length;
  const running = (pattern: string) => eventually(async () => (await count(pattern)) > 0);
  const gone = (pattern: string) => eventually(async () => (await count(pattern)) === 0);

  /** A sleep in a job, one in a shell and one in an exec, all running on `managed`. */
  async function startAll(managed: ManagedConnection) {
    const [a, b, c] = [marker(), marker(), marker()];
    const job = await jobs.start(managed, { command: `sleep ${a}` });
    const shell = await shells.open(managed, {});
    shell.write(inputBytes(`sleep ${b}`, ['enter']));
    const exec = execOnConnection(managed, {
      command: `sleep ${c}`,
      limits: { timeoutMs: 600_000, maxOutputBytes: 1024, ...limits },
      maxPerConnection: 4,
    });
    const patterns = [`sleep ${a}`, `sleep ${b}`, `sleep ${c}`];
    for (const p of patterns) await running(p);
    return { job, shell, exec, patterns };
  }

  beforeAll(() => {
    registry = new ConnectionRegistry({ maxConnections: 4 }, logs.logger);
  });
  afterEach(async () => {
    await Promise.all([jobs?.closeAll(), shells?.closeAll()]);
    for (const c of registry.list()) await registry.remove(c.id);
  });
  const tables = (maxKept = 8) => {
    jobs = new JobTable(
      { maxRunning: 8, maxKept, maxOutputBytes: 64 * 1024, maxTimeoutMs: 600_000, ...limits },
      logs.logger,
    );
    shells = new ShellTable(
      {
        maxOpen: 4,
        maxOutputBytes: 64 * 1024,
        defaultIdleTimeoutMs: 600_000,
        maxIdleTimeoutMs: 600_000,
        ...limits,
      },
      logs.logger,
    );
  };

  it(verifies('ssh.owner.connection-close'), async () => {
    tables();
    const managed = await registry.open('work', paramsFor(ctx.target()));
    const { job, shell, exec, patterns } = await startAll(managed);
    await registry.remove(managed.id);
    // Everything has ended on the host by the time close() returns.
    expect(await Promise.all(patterns.map(count))).toEqual([0, 0, 0]);
    expect(job.info()).toMatchObject({ state: 'finished', endReason: 'connection_closed' });
    expect(shell.info()).toMatchObject({ state: 'closed', closeReason: 'connection_closed' });
    expect((await exec).outcome.cancelled).toBe(true);
    expect(managed.work.size).toBe(0);
  });

  it(verifies('ssh.owner.table-close'), async () => {
    tables();
    const managed = await registry.open('tables', paramsFor(ctx.target()));
    const { job, shell, exec, patterns } = await startAll(managed);
    await Promise.all([jobs.closeAll('session_closed'), shells.closeAll('session_closed')]);
    for (const p of patterns.slice(0, 2)) await gone(p);
    expect(job.info().endReason).toBe('session_closed');
    expect(shell.info().closeReason).toBe('session_closed');
    // The exec is not theirs; the connection still runs commands.
    expect(await count(patterns[2] ?? '')).toBeGreaterThan(0);
    const echo = await execOnConnection(managed, {
      command: 'echo still-usable',
      limits: { timeoutMs: 10_000, maxOutputBytes: 1024, ...limits },
      maxPerConnection: 4,
    });
    expect(echo.outcome.stdout).toBe('still-usable\n');
    await registry.remove(managed.id);
    await gone(patterns[2] ?? '');
    await exec;
  });

  it(verifies('ssh.jobs.kept'), async () => {
    tables(2);
    const managed = await registry.open('kept', paramsFor(ctx.target()));
    const started: Job[] = [];
    for (const n of [1, 2, 3]) {
      const job = await jobs.start(managed, { command: `echo job-${n}` });
      await job.ended;
      started.push(job);
    }
    expect(jobs.list().map((j) => j.id)).toEqual(started.slice(1).map((j) => j.id));
    expect(() => jobs.get(started[0]?.id ?? '')).toThrow(/no job/);
    expect(jobs.get(started[2]?.id ?? '').read(0, 0, 1024).stdout.text).toBe('job-3\n');
  });
});
