/**
 * The benchmark's child processes (upstream, gateway, peer proxy, bare echo): each is a Node
 * process of its own so that its CPU and memory can be read apart from the load generator's, and
 * all of them are owned here so that one `stopAll()` (or, at a hard exit, `killAllSync()`) leaves
 * nothing running.
 */
import { join } from 'node:path';
import { HARNESS_ROOT } from '../suites/paths.js';
import { freePort, ServiceProcess } from '../targets/process.js';

/** The harness's CLI, which also serves the benchmark's own servers. */
export const HARNESS_BIN = join(HARNESS_ROOT, 'bin', 'bastion.js');

export type BenchServerKind = 'echo-upstream' | 'bare-echo' | 'peer-mcp-proxy';

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

export class BenchProcesses {
  private readonly running = new Map<ServiceProcess, string>();
  private readonly seen: Array<{ name: string; pid: number; port: number }> = [];

  async startNode(options: NodeProcessOptions): Promise<StartedProcess> {
    const service = new ServiceProcess({
      name: options.name,
      command: process.execPath,
      args: [...(options.nodeArgs ?? []), options.script, ...options.args],
      port: options.port,
      cwd: options.cwd ?? HARNESS_ROOT,
      env: options.env,
      readyTimeoutMs: 30_000,
    });
    this.running.set(service, options.name);
    try {
      await service.start();
    } catch (err) {
      this.running.delete(service);
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
        this.running.delete(service);
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

  /** Every process started so far, running or not (tests check that all are gone). */
  started(): Array<{ name: string; pid: number; port: number }> {
    return this.seen.map((p) => ({ ...p }));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((service) => service.stop()));
    this.running.clear();
  }

  /** Last resort at process exit, where nothing asynchronous runs any more. */
  killAllSync(): void {
    for (const service of this.running.keys()) {
      const pid = service.pid;
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
