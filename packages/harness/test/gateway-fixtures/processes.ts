/**
 * The real servers as the gateway's upstreams: their bins (as the harness's dependencies install
 * them), started over HTTP as child processes that can be killed and started again on the same port,
 * and a way to find the stdio children the gateway spawned by an environment marker.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../src/targets/process.js';

const bin = (pkg: string, name: string) =>
  join(import.meta.dirname, '..', '..', 'node_modules', '@bastion', pkg, 'bin', name);

export const MQTT_BIN = bin('mqtt-server', 'bastion-mqtt.js');
export const SSH_BIN = bin('ssh-server', 'bastion-ssh.js');

export interface ServerProcess {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Ends the process as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `node BIN ...args --port P` and waits (at most 30 s) for its `listening` log line, which it
 * logs at level info.
 */
export async function startHttpServerProcess(script: string, args: string[]): Promise<ServerProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn(
      process.execPath,
      [script, ...args, '--log-level', 'info', '--host', '127.0.0.1', '--port', String(port)],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = started;
    const lines = createInterface({ input: started.stderr! });
    const listening = new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line.includes('"listening"')) resolve();
      });
      started.once('exit', (code) => reject(new Error(`${script} exited (${code}) before listening`)));
    });
    const timer = setTimeout(() => started.kill('SIGKILL'), 30_000);
    try {
      await listening;
    } finally {
      clearTimeout(timer);
    }
  };
  const end = async (signal: NodeJS.Signals) => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    running.kill(signal);
    await once(running, 'exit');
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    kill: () => end('SIGKILL'),
    start,
    stop: () => end('SIGTERM'),
  };
}

/** PIDs of processes whose environment holds `name=value` (Linux /proc). */
export async function pidsWithEnv(name: string, value: string): Promise<number[]> {
  const needle = `${name}=${value}`;
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, 'utf8');
      if (environ.split('\0').includes(needle)) found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}
