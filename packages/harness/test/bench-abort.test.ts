import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BenchProcesses, HARNESS_BIN } from '../src/bench/processes.js';
import { runBench } from '../src/bench/run.js';
import { canConnect } from '../src/targets/process.js';
import { isAlive, TINY } from './bench-fixtures.js';

describe('an interrupted benchmark', () => {
  it('stops every child process when its run is aborted midway', async () => {
    const controller = new AbortController();
    const processes = new BenchProcesses();
    const run = runBench(
      { ...TINY, paths: ['peer'], sequentialCalls: 1_000_000, phaseMaxMs: 60_000 },
      {
        signal: controller.signal,
        processes,
        progress: (line) => {
          if (line.startsWith('sequential:')) controller.abort(new Error('stop'));
        },
      },
    );
    await expect(run).rejects.toThrow('stop');
    const started = processes.started();
    expect(started.map((p) => p.name)).toEqual(['load-generator', 'echo-upstream', 'peer-mcp-proxy']);
    for (const child of started) {
      expect(isAlive(child.pid)).toBe(false);
      if (child.port !== 0) expect(await canConnect(child.port)).toBe(false);
    }
  }, 60_000);

  it('stops at once when aborted on the idle-session ladder, whose jobs run for minutes', async () => {
    const controller = new AbortController();
    const processes = new BenchProcesses();
    const run = runBench(
      {
        ...TINY,
        paths: ['proxy-hop'],
        eras: ['2025-11-25'],
        idleSessions: 1_000_000,
        idleMaxMs: 600_000,
      },
      {
        signal: controller.signal,
        processes,
        progress: (line) => {
          // Shortly after a rung, while the generator opens the next one.
          if (/idle: \d+ sessions/.test(line)) setTimeout(() => controller.abort(new Error('stop')), 300);
        },
      },
    );
    // The generator's job for the next rung is cancelled, not waited for (bench-wire.test.ts shows it alone).
    await expect(run).rejects.toThrow('stop');
    for (const child of processes.started()) {
      expect({ name: child.name, alive: isAlive(child.pid) }).toEqual({ name: child.name, alive: false });
    }
  }, 60_000);

  it('stops every child process and exits 130 when the CLI gets Ctrl-C', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'bench-cli-'));
    const child = spawn(
      process.execPath,
      [
        HARNESS_BIN,
        'bench',
        '--quick',
        '--paths',
        'direct,proxy-hop',
        '--eras',
        '2025-11-25',
        '--warmup',
        '10',
        '--idle-sessions',
        '0',
        '--concurrency',
        '1',
        '--duration',
        '100',
        '--calls',
        '1000000',
        '--out',
        outDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const pids: number[] = [];
    const ports: number[] = [];
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no sequential phase in: ${stderr}`)), 45_000);
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        for (const m of chunk.toString().matchAll(/pid (\d+) on 127\.0\.0\.1:(\d+)/g)) {
          pids.push(Number(m[1]));
          ports.push(Number(m[2]));
        }
        if (/sequential: 1000000 calls per path/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    // Two upstreams and the proxy hop (the load generator's pid is checked below too).
    expect(pids).toHaveLength(3);
    const generator = /load generator pid (\d+)/.exec(stderr);
    expect(generator).not.toBeNull();
    pids.push(Number(generator?.[1]));
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    for (const port of ports) expect(await canConnect(port)).toBe(false);
    expect(stderr).toContain('interrupted');
    await rm(outDir, { recursive: true, force: true });
  }, 60_000);
});
