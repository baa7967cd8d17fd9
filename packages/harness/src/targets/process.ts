/**
 * What every `process`-tier target needs: a free loopback port, a binary found on PATH (or in the
 * sbin directories that a non-root PATH leaves out), and a child process that can be killed and
 * started again on the same port for the reconnect scenarios.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackChild } from './run-scope.js';

/**
 * The two ways the reconnect scenarios end a service: SIGKILL is a crash (no goodbye, nothing
 * flushed), SIGTERM a clean shutdown (the service closes what it holds, and may leave children).
 */
export type FaultSignal = 'SIGKILL' | 'SIGTERM';

/**
 * The lowest port of the kernel's ephemeral range (`ip_local_port_range`, 32768 by default). Every
 * outgoing connection takes its local port from that range, and so does Docker when it publishes a
 * port, so a port picked there can be taken between `freePort()` and the service's own bind.
 */
function ephemeralRangeStart(): number {
  try {
    const first = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'), 10);
    return Number.isInteger(first) ? first : 32_768;
  } catch {
    return 32_768; // not Linux: the IANA dynamic range starts at 49152, so this stays below it
  }
}

/** Below this, ports are left to well-known and registered services. */
const LOWEST_PICKED_PORT = 10_000;

/**
 * Ports this process has handed out. A service stopped for a restart scenario still owns its port,
 * so it is never handed to a second caller.
 */
const handedOut = new Set<number>();

function tryListen(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A port that is free on every one of `hosts` now, for a service that binds it itself (a mosquitto
 * listener, an sshd `Port`, a container's published port; several hosts for one published on
 * 127.0.0.1 and ::1 alike). It is picked at random *below* the ephemeral range, where no outgoing
 * connection or Docker allocation can take it before the service binds it; only where that range
 * leaves no room is the choice left to the kernel. Nothing does this for us: the `get-port` style
 * libraries pick in the ephemeral range too.
 */
export async function freePort(hosts: string | ReadonlyArray<string> = '127.0.0.1'): Promise<number> {
  const [first, ...others] = typeof hosts === 'string' ? [hosts] : hosts;
  if (first === undefined) throw new Error('freePort needs at least one host');
  const freeOnOthers = async (port: number) => {
    for (const host of others) if ((await tryListen(port, host)) === undefined) return false;
    return true;
  };
  const high = ephemeralRangeStart() - 1;
  if (high - LOWEST_PICKED_PORT >= 1_000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const candidate = randomInt(LOWEST_PICKED_PORT, high + 1);
      if (handedOut.has(candidate)) continue;
      if ((await tryListen(candidate, first)) === undefined || !(await freeOnOthers(candidate))) continue;
      handedOut.add(candidate);
      return candidate;
    }
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await tryListen(0, first);
    if (port === undefined) throw new Error(`cannot bind any port on ${first}`);
    if (!handedOut.has(port) && (await freeOnOthers(port))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no port found free on ${[first, ...others].join(' and ')}`);
}

/**
 * True when a service failed because one of its ports was taken after `freePort()` chose it (rare
 * below the ephemeral range, but another process may still pick the same port): starting again on
 * fresh ports is then the cure. The texts are mosquitto's, sshd's, redis-server's and Node's.
 */
export function isPortTaken(err: unknown): boolean {
  return (
    err instanceof Error && /address already in use|unable to create websockets listener/i.test(err.message)
  );
}

/** Runs `start` (which picks its own ports) again, up to `attempts` times, while a port was taken. */
export async function withFreshPorts<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts || !isPortTaken(err)) throw err;
    }
  }
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
  /** Further ports the service opens; it is ready when every one of them accepts, too. */
  morePorts?: number[];
  /**
   * A line the service logs once every listener is bound. A port that accepts proves little when
   * another process took it first, so where the service says when it is up, that is awaited too.
   */
  readyLine?: RegExp;
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
    const readyLine = this.options.readyLine;
    let logged = '';
    let saidReady = readyLine === undefined;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8192);
      if (saidReady || readyLine === undefined) return;
      logged = (logged + chunk.toString()).slice(-4096);
      saidReady = readyLine.test(logged);
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
    // Services open their listeners one after another and exit at the first that fails to bind, so
    // an early port can accept and then vanish: ready means every port accepts, checked while the
    // process is alive.
    const waiting = [this.options.port, ...(this.options.morePorts ?? [])];
    while (Date.now() < deadline && exited === undefined) {
      const port = waiting[0];
      if (port === undefined && saidReady) return;
      if (port !== undefined && (await canConnect(port, host))) waiting.shift();
      else await sleep(25);
    }
    await this.stop();
    const where = waiting.length > 0 ? `${host}:${waiting.join(',')}` : `${host} (ports open, no ready line)`;
    throw new Error(
      `${this.options.name} did not start on ${where} (${exited ?? 'timed out'}): ${this.output.trim()}`,
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
