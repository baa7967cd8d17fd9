/**
 * One test run's footprint, so that nothing a run starts outlives it even when a test worker dies
 * without cleaning up (a timeout, a crash, Ctrl-C):
 *   - BASTION_RUN_DIR: a directory every target's temp files go under, removed at the end of the run;
 *   - BASTION_RUN_ID: a label put on every container the run starts;
 *   - <run dir>/pids/: one file per child process still running, removed when it exits.
 * test/global-setup.ts sets both variables (test workers and the processes they start inherit them)
 * and calls `sweepRun()` at teardown and at exit. Outside such a run (the sandbox, the benchmark) the
 * variables are unset and this module only keeps the in-process exit hook.
 */

import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RUN_DIR_ENV = 'BASTION_RUN_DIR';
export const RUN_ID_ENV = 'BASTION_RUN_ID';
/** The Docker label that marks a container as started by one run. */
export const RUN_LABEL = 'org.bastion.run';

export interface RunScope {
  id: string;
  dir: string;
}

export function runScope(env: NodeJS.ProcessEnv = process.env): RunScope | undefined {
  const dir = env[RUN_DIR_ENV];
  const id = env[RUN_ID_ENV];
  if (dir === undefined || dir === '' || id === undefined || id === '') return undefined;
  return { id, dir };
}

function tempParent(): string {
  const scope = runScope();
  if (scope === undefined) return tmpdir();
  const parent = join(scope.dir, 'tmp');
  // Traversable: services that drop privileges (mosquitto, sshd's logins) read files below it.
  mkdirSync(parent, { recursive: true, mode: 0o755 });
  return parent;
}

/** A fresh temp directory, under the run directory when there is one. The owner still removes it. */
export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tempParent(), prefix));
}

export function makeTempDirSync(prefix: string): string {
  return mkdtempSync(join(tempParent(), prefix));
}

/** Labels for a container this run starts (none outside a run). */
export function containerLabels(): Record<string, string> {
  const scope = runScope();
  return scope === undefined ? {} : { [RUN_LABEL]: scope.id };
}

/** Linux's start time of a process (field 22 of /proc/PID/stat), to tell a reused PID apart. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Tracks a child process until it exits: SIGKILLed if this process exits first, and recorded in the
 * run directory so the run's teardown can kill it if this whole process dies first.
 */
export function trackChild(child: ChildProcess, name: string, scope = runScope()): void {
  const pid = child.pid;
  if (pid === undefined) return;
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // 'exit' runs only synchronous code: signals are sent, nothing is awaited.
    process.on('exit', () => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
  }
  let record: string | undefined;
  if (scope !== undefined) {
    const dir = join(scope.dir, 'pids');
    mkdirSync(dir, { recursive: true });
    record = join(dir, String(pid));
    writeFileSync(record, JSON.stringify({ pid, name, startTime: startTimeOf(pid) ?? null }));
  }
  child.once('exit', () => {
    live.delete(child);
    if (record !== undefined) rmSync(record, { force: true });
  });
}

export interface SweepResult {
  /** `name (pid)` of every process that was still running and got killed. */
  killed: string[];
  /** Containers removed. */
  containers: number;
}

/**
 * Kills what a run left running and removes its containers and directory. Synchronous (it also runs
 * from an 'exit' hook); containers go through the docker CLI when one is on PATH.
 */
export function sweepRun(scope: RunScope, env: NodeJS.ProcessEnv = process.env): SweepResult {
  const killed: string[] = [];
  const pidDir = join(scope.dir, 'pids');
  let records: string[] = [];
  try {
    records = readdirSync(pidDir);
  } catch {
    // no process was ever recorded
  }
  for (const file of records) {
    try {
      const { pid, name, startTime } = JSON.parse(readFileSync(join(pidDir, file), 'utf8')) as {
        pid: number;
        name: string;
        startTime: string | null;
      };
      const now = startTimeOf(pid);
      if (now === undefined) continue; // gone
      if (startTime !== null && now !== startTime) continue; // the PID was reused by something else
      process.kill(pid, 'SIGKILL');
      killed.push(`${name} (${pid})`);
    } catch {
      // unreadable record or already gone
    }
  }
  let containers = 0;
  try {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=${RUN_LABEL}=${scope.id}`], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    })
      .split('\n')
      .filter((id) => id.trim() !== '');
    if (ids.length > 0) {
      execFileSync('docker', ['rm', '-f', ...ids], { env, stdio: 'ignore', timeout: 60_000 });
      containers = ids.length;
    }
  } catch {
    // no docker CLI or engine: then this run started no container either
  }
  rmSync(scope.dir, { recursive: true, force: true });
  return { killed, containers };
}
