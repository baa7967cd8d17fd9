/**
 * An MCP server (or the gateway) run from its bin as a child process on a fixed loopback port:
 * `node <bin> ...args --port P`. Ready means the process logged its JSON `listening` line on stderr
 * (@bastion/mcp-http writes it at level info once the socket is bound, so `--log-level` must stay
 * at info or below), and a port that merely accepts is not mistaken for a server that is up. `kill(signal)` and `start()` give the crash and the clean
 * restart on the same port that the reconnect scenarios need.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { HARNESS_ROOT } from '../suites/paths.js';
import { type FaultSignal, freePort } from './process.js';
import { trackChild } from './run-scope.js';

export interface McpServerProcessOptions {
  /** Shown in errors, e.g. 'bastion-mqtt'. */
  name: string;
  /** A Node entry script: a package's bin (which registers tsx itself). */
  script: string;
  /** Arguments before `--port P`. */
  args: string[];
  /** Default: a free port, chosen once and kept across restarts. */
  port?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  readyTimeoutMs?: number;
}

/** How the last run of the process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class McpServerProcess {
  private child: ChildProcess | undefined;
  private output = '';
  private lastExit: ProcessExit | undefined;
  private listeningUrl: string | undefined;

  private constructor(
    private readonly options: McpServerProcessOptions,
    readonly port: number,
  ) {}

  static async start(options: McpServerProcessOptions): Promise<McpServerProcess> {
    const server = new McpServerProcess(options, options.port ?? (await freePort()));
    await server.start();
    return server;
  }

  /** `http://127.0.0.1:P` as the server logged it. */
  get url(): string {
    if (this.listeningUrl === undefined) throw new Error(`${this.options.name} has not started`);
    return this.listeningUrl;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  running(): boolean {
    return this.child !== undefined;
  }

  /** The last few KiB the process wrote to stderr. */
  recentOutput(): string {
    return this.output;
  }

  async start(): Promise<void> {
    if (this.child !== undefined) throw new Error(`${this.options.name} is already running`);
    const child = spawn(
      process.execPath,
      [this.options.script, ...this.options.args, '--port', String(this.port)],
      { env: this.options.env ?? process.env, cwd: this.options.cwd, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    trackChild(child, this.options.name);
    let pending = '';
    let resolveReady: (url: string) => void = () => {};
    const ready = new Promise<string>((resolve) => {
      resolveReady = resolve;
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      this.output = (this.output + text).slice(-16_384);
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const url = listeningUrl(line);
        if (url !== undefined) resolveReady(url);
      }
    });
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => {
        this.lastExit = { code, signal };
        if (this.child === child) this.child = undefined;
        resolve(`exited with ${signal ?? code}`);
      });
      child.once('error', (err) => resolve(err.message));
    });
    const timeoutMs = this.options.readyTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no 'listening' line after ${timeoutMs} ms`), timeoutMs);
    });
    const outcome = await Promise.race([
      ready.then((url) => ({ url })),
      exited.then((why) => ({ why })),
      timedOut.then((why) => ({ why })),
    ]);
    clearTimeout(timer);
    if ('url' in outcome) {
      this.listeningUrl = outcome.url;
      return;
    }
    await this.kill('SIGKILL');
    throw new Error(
      `${this.options.name} did not start on port ${this.port} (${outcome.why}): ${this.output.trim()}`,
    );
  }

  /**
   * Sends `signal` and waits for the process to exit (SIGKILL after `graceMs` if a SIGTERM is not
   * obeyed). Resolves with how it ended.
   */
  async kill(signal: FaultSignal = 'SIGTERM', graceMs = 10_000): Promise<ProcessExit | undefined> {
    const child = this.child;
    if (child === undefined) return this.lastExit;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    return this.lastExit;
  }

  async restart(signal: FaultSignal = 'SIGTERM'): Promise<void> {
    await this.kill(signal);
    await this.start();
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
  }
}

/** The `url` of a pino JSON line whose msg is 'listening', else undefined. */
function listeningUrl(line: string): string | undefined {
  if (!line.includes('"listening"')) return undefined;
  try {
    const record = JSON.parse(line) as { msg?: unknown; url?: unknown };
    return record.msg === 'listening' && typeof record.url === 'string' ? record.url : undefined;
  } catch {
    return undefined;
  }
}

/** The bins of the packages the harness depends on, as pnpm installs them into the harness. */
export const BASTION_BINS = {
  mqtt: join(HARNESS_ROOT, 'node_modules', '@bastion', 'mqtt-server', 'bin', 'bastion-mqtt.js'),
  ssh: join(HARNESS_ROOT, 'node_modules', '@bastion', 'ssh-server', 'bin', 'bastion-ssh.js'),
  gateway: join(HARNESS_ROOT, 'node_modules', '@bastion', 'gateway', 'bin', 'bastion-gateway.js'),
} as const;

/** `bastion-mqtt --transport http` (Streamable HTTP at /mcp, legacy SSE at /mqttx/sse). */
export function startMqttServerProcess(
  args: string[] = [],
  env?: NodeJS.ProcessEnv,
): Promise<McpServerProcess> {
  return McpServerProcess.start({
    name: 'bastion-mqtt',
    script: BASTION_BINS.mqtt,
    args: ['--transport', 'http', ...args],
    ...(env === undefined ? {} : { env }),
  });
}

/** `bastion-ssh --transport http`. */
export function startSshServerProcess(
  args: string[] = [],
  env?: NodeJS.ProcessEnv,
): Promise<McpServerProcess> {
  return McpServerProcess.start({
    name: 'bastion-ssh',
    script: BASTION_BINS.ssh,
    args: ['--transport', 'http', ...args],
    ...(env === undefined ? {} : { env }),
  });
}

/** `bastion-gateway --config FILE` over HTTP (each server at /servers/NAME/mcp). */
export function startGatewayProcess(
  configFile: string,
  args: string[] = [],
  env?: NodeJS.ProcessEnv,
): Promise<McpServerProcess> {
  return McpServerProcess.start({
    name: 'bastion-gateway',
    script: BASTION_BINS.gateway,
    args: ['--config', configFile, ...args],
    ...(env === undefined ? {} : { env }),
  });
}
