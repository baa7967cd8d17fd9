/**
 * Fixtures of the sandbox's end-to-end tests: `bastion sandbox --json` as a child process (as a user
 * starts it), its ready line and event lines parsed, the processes it started found through /proc,
 * an MCP client through its gateway, and the `bastion` bin run to its end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { HARNESS_BIN } from '../src/bench/processes.js';
import type { SandboxInfo } from '../src/sandbox/sandbox.js';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** `bastion ...args` run to its end (from the repository root unless told): exit code and output. */
export function runHarnessBin(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HARNESS_BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export type SandboxLine = Record<string, unknown> & { event: string };

export interface SandboxChild {
  readonly info: SandboxInfo;
  readonly child: ChildProcess;
  /** Every line printed after the ready line. */
  readonly events: SandboxLine[];
  stderr(): string;
  waitForEvent(match: (line: SandboxLine) => boolean, timeoutMs?: number): Promise<SandboxLine>;
  /** Sends `signal` and resolves with how the process ended. */
  interrupt(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Ends the sandbox if it still runs (SIGINT, then SIGKILL after a while). */
  stop(): Promise<void>;
}

export async function startSandboxChild(args: string[], timeoutMs = 90_000): Promise<SandboxChild> {
  const child = spawn(process.execPath, [HARNESS_BIN, 'sandbox', '--json', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const events: SandboxLine[] = [];
  const waiters = new Set<() => void>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let ready: ((info: SandboxInfo) => void) | undefined;
  const readyLine = new Promise<SandboxInfo>((resolve) => {
    ready = resolve;
  });
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      const parsed = JSON.parse(line) as SandboxLine;
      if (parsed.event === 'ready') ready?.(parsed as unknown as SandboxInfo);
      else events.push(parsed);
      for (const wake of waiters) wake();
    }
  });

  const info = await Promise.race([
    readyLine,
    exited.then((how) => {
      throw new Error(`bastion sandbox exited (${how.code ?? how.signal}) before ready:\n${stderr}`);
    }),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no ready line in ${timeoutMs} ms:\n${stderr}`)), timeoutMs).unref(),
    ),
  ]).catch((err: Error) => {
    child.kill('SIGKILL');
    throw err;
  });

  const interrupt = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return {
    info,
    child,
    events,
    stderr: () => stderr,
    waitForEvent(match, waitMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (found === undefined) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such event in ${waitMs} ms; seen: ${JSON.stringify(events.slice(-5))}`));
        }, waitMs);
        waiters.add(check);
        check();
      });
    },
    interrupt,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await interrupt('SIGINT');
      clearTimeout(timer);
    },
  };
}

interface ProcInfo {
  pid: number;
  ppid: number;
  startTime: string;
  /** One letter: R, S, D, Z (a zombie: ended, not yet reaped), ... */
  state: string;
}

function readProc(pid: string): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid: Number(pid), ppid: Number(fields[1]), startTime: fields[19] ?? '', state: fields[0] ?? '' };
  } catch {
    return undefined;
  }
}

/** Every process descended from `root`, with its start time (to tell a reused PID apart). */
export function descendantsOf(root: number): ProcInfo[] {
  const all = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(readProc)
    .filter((p): p is ProcInfo => p !== undefined);
  const out: ProcInfo[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const p of all.filter((x) => x.ppid === parent)) {
      out.push(p);
      queue.push(p.pid);
    }
  }
  return out;
}

/** Whether the process still runs (a zombie has ended: only its parent has yet to collect it). */
export function stillRunning(p: ProcInfo): boolean {
  const now = readProc(String(p.pid));
  return now !== undefined && now.startTime === p.startTime && now.state !== 'Z';
}

export interface ToolCall<T> {
  isError: boolean;
  text: string;
  structured: T;
  /** An error result's machine-readable part (`_meta["dev.bastion/error"]`), when it has one. */
  error: Record<string, unknown> | undefined;
}

export async function gatewayClient(url: string, token: string | undefined): Promise<Client> {
  const client = new Client({ name: 'sandbox-e2e', version: '1.0.0' });
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

export async function call<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<ToolCall<T>> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
  const error = result._meta?.['dev.bastion/error'] as Record<string, unknown> | undefined;
  return { isError: result.isError === true, text, structured: (result.structuredContent ?? {}) as T, error };
}

/** The command line of a process, for messages. */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '(gone)';
  }
}
