/**
 * The benchmark's side of the load generator: starts the generator process (load-main.ts) with an
 * IPC channel, sends it jobs one at a time and checks its answers. Its pid is read like any other
 * process's, so every figure comes with the generator's own CPU next to the hop's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { HARNESS_ROOT } from '../suites/paths.js';
import { trackChild } from '../targets/run-scope.js';
import { type LoadJob, type LoadResults, READY, RESULT_SCHEMAS, replySchema } from './load-protocol.js';
import type { BenchProcesses } from './processes.js';

export const LOAD_MAIN = join(HARNESS_ROOT, 'src', 'bench', 'load-main.ts');
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5000;

export class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  private stderr = '';
  private exited: string | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4096);
    });
    child.on('message', (raw: unknown) => {
      const parsed = replySchema.safeParse(raw);
      if (!parsed.success) return;
      const waiter = this.pending.get(parsed.data.id);
      if (waiter === undefined) return;
      this.pending.delete(parsed.data.id);
      if (parsed.data.ok) waiter.resolve(parsed.data.result);
      else waiter.reject(new Error(parsed.data.error));
    });
    child.once('exit', (code, signal) => {
      this.exited = `the load generator exited with ${signal ?? code}`;
      const err = new Error(`${this.exited}${this.stderr ? `: ${this.stderr.trim()}` : ''}`);
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Starts the generator and waits for its ready message; `processes` owns it from then on. */
  static async start(processes: BenchProcesses): Promise<LoadGenerator> {
    const child = spawn(process.execPath, ['--import', 'tsx', LOAD_MAIN], {
      cwd: HARNESS_ROOT,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    trackChild(child, 'bench-load');
    const generator = new LoadGenerator(child);
    const owned = processes.adopt({
      name: 'load-generator',
      get pid() {
        return child.exitCode === null && child.signalCode === null ? child.pid : undefined;
      },
      stop: () => generator.stop(),
    });
    child.once('exit', () => owned.release());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the load generator did not start in time')),
        START_TIMEOUT_MS,
      );
      const ready = (message: unknown) => {
        if (message !== READY) return;
        clearTimeout(timer);
        child.off('message', ready);
        resolve();
      };
      child.on('message', ready);
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`${generator.exited}: ${generator.stderr.trim()}`));
      });
    }).catch(async (err: unknown) => {
      await generator.stop();
      throw err;
    });
    return generator;
  }

  /** Runs one job; rejects when the generator reports an error, dies, or `signal` aborts. */
  async run<K extends LoadJob['kind']>(
    job: Extract<LoadJob, { kind: K }>,
    signal?: AbortSignal,
  ): Promise<LoadResults[K]> {
    signal?.throwIfAborted();
    if (this.exited !== undefined) throw new Error(this.exited);
    const id = this.nextId++;
    const answer = new Promise<unknown>((resolve, reject) => {
      const onAbort = () => {
        this.pending.delete(id);
        // The generator runs one job at a time: end this one there too, or every job after it waits.
        if (this.child.connected) this.child.send({ cancel: id });
        reject(signal?.reason ?? new Error('aborted'));
      };
      const settled = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (value) => {
          settled();
          resolve(value);
        },
        reject: (err) => {
          settled();
          reject(err);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.child.send({ id, job }, (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
    const result = await answer;
    return RESULT_SCHEMAS[job.kind].parse(result) as LoadResults[K];
  }

  /** Disconnects (the generator closes its connections and exits); SIGKILL if it takes too long. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) child.disconnect();
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}
