/**
 * The sandbox's default shell: just-bash, a bash interpreter over an in-memory file system, with no
 * processes, no network and no view of the host's files, so an agent playing in the sandbox cannot
 * touch the machine it runs on. It plugs into the embedded SSH host as its CommandRunner, and the
 * host's SFTP works on the same file system (memory-sftp.ts), so exec and uploadFile/downloadFile
 * see the same files.
 *
 * just-bash runs in a worker thread: its interpreter only yields between statements on its own
 * promises, so a `while true; do :; done` would otherwise hold this process's event loop (and with
 * it the gateway and both MCP servers) until its command limit. A signal reaches such a loop through
 * a shared flag the interpreter reads at every statement, and `sleep` through an abort message.
 *
 * What differs from a real shell (SANDBOX.md lists it for users):
 *  - each exec starts a fresh shell (variables, `cd` and functions do not carry over); files do;
 *  - an interactive shell (`pty-req` + `shell`) is simulated-terminal.ts: one line at a time, with
 *    echo, line editing, history and the working directory kept, but no real terminal;
 *  - output is returned when the command ends (no streaming), as UTF-8 text: a binary file read
 *    with `cat` does not come back byte for byte (downloadFile does);
 *  - a signal (or the client's timeout) stops the script at the next statement boundary;
 *  - only just-bash's built-in commands exist (ls, cat, grep, sed, awk, jq, ...; no ps, uname,
 *    ssh, curl, python, node).
 */
import { Worker } from 'node:worker_threads';
import type { FsStat, InitialFiles } from 'just-bash';
import type { CommandExit, CommandRunner, RunningCommand } from '../targets/ssh/command-runner.js';
import { type RunScript, startSimulatedTerminal } from './simulated-terminal.js';

export interface SimulatedShellOptions {
  /** The login's home, where every command starts (created if missing). */
  home: string;
  /** USER/LOGNAME when a request carries no login name. */
  user: string;
  /** Files to start with, by absolute path. */
  files?: Record<string, string | Uint8Array>;
  /** Upper bound of the bytes the file system holds (64 MiB by default). */
  maxTotalBytes?: number;
  /**
   * How long a command waits for the client to end its stdin before running with what arrived.
   * bastion-ssh sends EOF right after the input; `ssh host cmd` from a terminal may never do so.
   */
  stdinGraceMs?: number;
}

/** The part of just-bash's file system the SFTP subsystem uses; every call crosses to the worker. */
export interface SandboxFileSystem {
  stat(path: string): Promise<FsStat>;
  lstat(path: string): Promise<FsStat>;
  readFileBuffer(path: string): Promise<Uint8Array>;
  writeFile(path: string, content: Uint8Array | string): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  readdir(path: string): Promise<string[]>;
  rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void>;
  mv(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  utimes(path: string, atime: Date, mtime: Date): Promise<void>;
  readlink(path: string): Promise<string>;
}

/** A file system error from the worker, with its errno name when just-bash gave one. */
export class SandboxFsError extends Error {
  override readonly name = 'SandboxFsError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export interface SimulatedShell {
  readonly fs: SandboxFileSystem;
  readonly runner: CommandRunner;
  /** Ends the worker: commands still running end as killed, the files are gone. */
  close(): Promise<void>;
}

type WorkerReply =
  | { type: 'ready' }
  | { type: 'exec-done'; id: number; stdout: string; stderr: string; exitCode: number }
  | { type: 'fs-done'; id: number; value?: unknown; error?: { message: string; code?: string } };

/** Signal names (without SIG) whose default action ends a process. */
const TERMINATING = new Set(['HUP', 'INT', 'KILL', 'PIPE', 'QUIT', 'TERM', 'USR1', 'USR2', 'ALRM', 'ABRT']);

const WORKER_URL = new URL('./shell-worker.mjs', import.meta.url);

export async function startSimulatedShell(options: SimulatedShellOptions): Promise<SimulatedShell> {
  const files: InitialFiles = { ...options.files };
  const worker = new Worker(WORKER_URL, {
    workerData: {
      home: options.home,
      user: options.user,
      files,
      maxTotalBytes: options.maxTotalBytes ?? 64 * 1024 * 1024,
    },
  });
  const pendingFs = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const pendingExec = new Map<number, (reply: Extract<WorkerReply, { type: 'exec-done' }>) => void>();
  let nextId = 1;
  let failure: Error | undefined;

  const failAll = (err: Error) => {
    failure ??= err;
    for (const p of pendingFs.values()) p.reject(err);
    pendingFs.clear();
    for (const done of pendingExec.values())
      done({ type: 'exec-done', id: 0, stdout: '', stderr: '', exitCode: 137 });
    pendingExec.clear();
  };

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    worker.once('error', onError);
    worker.once('message', (reply: WorkerReply) => {
      worker.off('error', onError);
      if (reply.type === 'ready') resolve();
      else reject(new Error(`simulated shell: unexpected first message ${reply.type}`));
    });
  });
  worker.on('message', (reply: WorkerReply) => {
    if (reply.type === 'fs-done') {
      const pending = pendingFs.get(reply.id);
      pendingFs.delete(reply.id);
      if (reply.error !== undefined)
        pending?.reject(new SandboxFsError(reply.error.message, reply.error.code));
      else pending?.resolve(reply.value);
    } else if (reply.type === 'exec-done') {
      const done = pendingExec.get(reply.id);
      pendingExec.delete(reply.id);
      done?.(reply);
    }
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', () => failAll(new Error('the simulated shell has stopped')));

  const call = <T>(op: keyof SandboxFileSystem, ...args: unknown[]): Promise<T> => {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pendingFs.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ type: 'fs', id, op, args });
    });
  };
  const fs: SandboxFileSystem = {
    stat: (p) => call('stat', p),
    lstat: (p) => call('lstat', p),
    readFileBuffer: (p) => call('readFileBuffer', p),
    writeFile: (p, c) => call('writeFile', p, c),
    mkdir: (p, o) => call('mkdir', p, o),
    readdir: (p) => call('readdir', p),
    rm: (p, o) => call('rm', p, o),
    mv: (a, b) => call('mv', a, b),
    chmod: (p, m) => call('chmod', p, m),
    utimes: (p, a, m) => call('utimes', p, a, m),
    readlink: (p) => call('readlink', p),
  };

  const graceMs = options.stdinGraceMs ?? 200;
  const runner: CommandRunner = {
    start(request, io): RunningCommand {
      const id = nextId++;
      const flag = new SharedArrayBuffer(4);
      const local = new AbortController();
      let signalled: string | null = null;
      let sent = false;
      const exit = (async (): Promise<CommandExit> => {
        const stdin = await collectStdin(io.stdin, graceMs, local.signal);
        if (local.signal.aborted || failure !== undefined) return { code: null, signal: signalled ?? 'KILL' };
        const user = request.username === '' ? options.user : request.username;
        const reply = await new Promise<Extract<WorkerReply, { type: 'exec-done' }>>((resolve) => {
          pendingExec.set(id, resolve);
          sent = true;
          worker.postMessage({
            type: 'exec',
            id,
            command: request.command,
            env: { ...request.env, USER: user, LOGNAME: user, HOME: options.home },
            stdin,
            flag,
          });
        });
        if (reply.id !== id) return { code: null, signal: 'KILL' }; // the worker ended under it
        if (reply.stdout !== '') io.stdout.write(Buffer.from(reply.stdout, 'utf8'));
        if (reply.stderr !== '') io.stderr.write(Buffer.from(reply.stderr, 'utf8'));
        if (signalled !== null) return { code: null, signal: signalled };
        return { code: reply.exitCode, signal: null };
      })();
      return {
        signal(name) {
          const upper = name.toUpperCase().replace(/^SIG/, '');
          if (!TERMINATING.has(upper) || signalled !== null) return;
          signalled = upper;
          local.abort();
          Atomics.store(new Int32Array(flag), 0, 1);
          if (sent) worker.postMessage({ type: 'abort', id });
        },
        exit,
      };
    },
  };

  // One script for the terminal (simulated-terminal.ts): no stdin, its own working directory.
  const runScript: RunScript = (script, { cwd, env, abort }) => {
    if (failure !== undefined) return Promise.resolve({ stdout: '', stderr: '', exitCode: 137 });
    const id = nextId++;
    const flag = new SharedArrayBuffer(4);
    const onAbort = () => {
      Atomics.store(new Int32Array(flag), 0, 1);
      worker.postMessage({ type: 'abort', id });
    };
    abort.addEventListener('abort', onAbort, { once: true });
    return new Promise((resolve) => {
      pendingExec.set(id, (reply) => {
        abort.removeEventListener('abort', onAbort);
        resolve(reply.id === id ? reply : { stdout: '', stderr: '', exitCode: 137 });
      });
      worker.postMessage({ type: 'exec', id, command: script, env, stdin: new Uint8Array(0), flag, cwd });
    });
  };
  runner.startShell = (request, io) =>
    startSimulatedTerminal(request, io, runScript, { home: options.home, user: options.user });

  let closing: Promise<void> | undefined;
  return {
    fs,
    runner,
    close() {
      closing ??= worker.terminate().then(() => undefined);
      return closing;
    },
  };
}

/** Reads stdin until EOF, until `graceMs` pass without data, or until aborted. */
function collectStdin(stdin: NodeJS.ReadableStream, graceMs: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      stdin.off('data', onData);
      stdin.off('end', finish);
      stdin.off('close', finish);
      signal.removeEventListener('abort', finish);
      // Whatever arrives later is read by no one: let it flow away.
      stdin.resume();
      resolve(Buffer.concat(chunks));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, graceMs);
    };
    const onData = (chunk: Buffer | string) => {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      arm();
    };
    stdin.on('data', onData);
    stdin.once('end', finish);
    stdin.once('close', finish);
    signal.addEventListener('abort', finish, { once: true });
    arm();
  });
}
