/**
 * The benchmark's child processes (upstreams, gateways, proxies, the load generator): each is a
 * Node process of its own so that its CPU and memory can be read apart from the others', and all of
 * them are owned here so that one `stopAll()` (or, at a hard exit, `killAllSync()`) leaves nothing
 * running.
 */
import { join } from 'node:path';
import { HARNESS_ROOT } from '../suites/paths.js';
import { freePort, ServiceProcess } from '../targets/process.js';
import type { FdLimit } from './fd-limit.js';

/** The harness's CLI, which also serves the benchmark's own servers. */
export const HARNESS_BIN = join(HARNESS_ROOT, 'bin', 'bastion.js');

export type BenchServerKind = 'echo-upstream' | 'proxy-hop' | 'peer-mcp-proxy';

export interface StartedProcess {
  name: string;
  pid: number;
  port: number;
  /** The last output the process printed (for errors). */
  recentOutput(): string;
  stop(): Promise<void>;
}

export interface NodeProcessOptions {
  name: string;
  /** A Node entry script (a package bin that registers tsx itself). */
  script: string;
  args: string[];
  port: number;
  /** Flags for node itself, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Something this owner must stop: a service with a port, or the load generator. */
export interface OwnedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export class BenchProcesses {
  private readonly running = new Set<OwnedProcess>();
  private readonly seen: Array<{ name: string; pid: number; port: number }> = [];

  /** The open-file limit every server process starts with (fd-limit.ts); set by the run. */
  fdLimit: FdLimit | undefined;

  constructor(fdLimit?: FdLimit) {
    this.fdLimit = fdLimit;
  }

  async startNode(options: NodeProcessOptions): Promise<StartedProcess> {
    const node = [...(options.nodeArgs ?? []), options.script, ...options.args];
    const { command, args } = this.fdLimit?.wrap(process.execPath, node) ?? {
      command: process.execPath,
      args: node,
    };
    const service = new ServiceProcess({
      name: options.name,
      command,
      args,
      port: options.port,
      cwd: options.cwd ?? HARNESS_ROOT,
      env: options.env,
      readyTimeoutMs: 30_000,
    });
    const owned: OwnedProcess = {
      name: options.name,
      get pid() {
        return service.pid;
      },
      stop: () => service.stop(),
    };
    this.running.add(owned);
    try {
      await service.start();
    } catch (err) {
      this.running.delete(owned);
      throw err;
    }
    const pid = service.pid;
    if (pid === undefined) throw new Error(`${options.name} has no pid after start`);
    this.seen.push({ name: options.name, pid, port: options.port });
    return {
      name: options.name,
      pid,
      port: options.port,
      recentOutput: () => service.recentOutput(),
      stop: async () => {
        await service.stop();
        this.running.delete(owned);
      },
    };
  }

  /** Starts one of the benchmark's own servers through `bastion bench-server`. */
  async startBenchServer(kind: BenchServerKind, extraArgs: string[] = []): Promise<StartedProcess> {
    const port = await freePort();
    return this.startNode({
      name: kind,
      script: HARNESS_BIN,
      args: ['bench-server', kind, '--port', String(port), ...extraArgs],
      port,
    });
  }

  /** Takes ownership of a process started elsewhere (the load generator); `release` when it is gone. */
  adopt(owned: OwnedProcess, port = 0): { release(): void } {
    this.running.add(owned);
    if (owned.pid !== undefined) this.seen.push({ name: owned.name, pid: owned.pid, port });
    return { release: () => this.running.delete(owned) };
  }

  /** Every process started so far, running or not (tests check that all are gone). */
  started(): Array<{ name: string; pid: number; port: number }> {
    return this.seen.map((p) => ({ ...p }));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((owned) => owned.stop().catch(() => undefined)));
    this.running.clear();
  }

  /** Last resort at process exit, where nothing asynchronous runs any more. */
  killAllSync(): void {
    for (const owned of this.running) {
      const pid = owned.pid;
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
