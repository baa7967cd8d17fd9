/**
 * What every `process`-tier target needs: a free loopback port, a binary found on PATH (or in the
 * sbin directories that a non-root PATH leaves out), and a child process that can be killed and
 * started again on the same port for the reconnect scenarios.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackChild } from './run-scope.js';

/**
 * The two ways the reconnect scenarios end a service: SIGKILL is a crash (no goodbye, nothing
 * flushed), SIGTERM a clean shutdown (the service closes what it holds, and may leave children).
 */
export type FaultSignal = 'SIGKILL' | 'SIGTERM';

/** Asks the kernel for a free port on 127.0.0.1. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The full path of `name` on PATH or in /usr/sbin and /sbin, or undefined. */
export function findBinary(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, host);
  });
}

/** Polls until something accepts connections on the port; bounded by `timeoutMs`. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(port, host)) return;
    await sleep(25);
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}

/**
 * Polls until the service on the port *answers* as expected: a mapped container port accepts
 * connections before the service behind it runs, so an open port is not enough. Each attempt
 * connects, optionally writes `greeting.send`, and passes the first chunk to `greeting.ready`.
 */
export async function waitForGreeting(
  port: number,
  host: string,
  greeting: { send?: string; ready: (firstChunk: Buffer) => boolean; what: string },
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      const done = (value: boolean) => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('data', (chunk: Buffer) => done(greeting.ready(chunk)));
      socket.once('error', () => done(false));
      socket.once('close', () => done(false));
      socket.connect(port, host, () => {
        if (greeting.send !== undefined) socket.write(greeting.send);
      });
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`no ${greeting.what} from ${host}:${port} after ${timeoutMs} ms`);
}

export interface ServiceProcessOptions {
  /** Shown in errors, e.g. 'mosquitto'. */
  name: string;
  command: string;
  args: string[];
  /** The port the service listens on; readiness is a successful connect to it. */
  port: number;
  host?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  readyTimeoutMs?: number;
}

/**
 * A service binary run as a child process. `kill()` and `start()` again give a restart on the same
 * port; `stop()` is the owner's final release and is safe to call twice.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(private readonly options: ServiceProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last few KiB the service printed, for error messages. */
  recentOutput(): string {
    return this.output;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.options.name} is already running`);
    const child = spawn(this.options.command, this.options.args, {
      env: this.options.env ?? process.env,
      cwd: this.options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    trackChild(child, this.options.name);
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8192);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      if (this.child === child) this.child = undefined;
    });
    child.once('error', (err) => {
      exited = err.message;
    });
    const host = this.options.host ?? '127.0.0.1';
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      if (exited !== undefined) break;
      if (await canConnect(this.options.port, host)) return;
      await sleep(25);
    }
    await this.stop();
    throw new Error(
      `${this.options.name} did not start on ${host}:${this.options.port} (${exited ?? 'timed out'}): ${this.output.trim()}`,
    );
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs`). */
  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.child = undefined;
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.kill(signal);
    await this.start();
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
  }
}
