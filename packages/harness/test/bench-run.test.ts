import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATH_IDS } from '../src/bench/options.js';
import { BenchProcesses } from '../src/bench/processes.js';
import { renderMarkdown, renderSvg, writeReports } from '../src/bench/report.js';
import type { BenchResults } from '../src/bench/results.js';
import { runBench } from '../src/bench/run.js';
import { canConnect } from '../src/targets/process.js';
import { isAlive, TINY } from './bench-fixtures.js';

let results: BenchResults;
const processes = new BenchProcesses();
const progress: string[] = [];
let outDir: string;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'bench-test-'));
  results = await runBench(TINY, {
    signal: new AbortController().signal,
    progress: (line) => progress.push(line),
    processes,
  });
}, 120_000);

afterAll(async () => {
  await processes.stopAll();
  await rm(outDir, { recursive: true, force: true });
});

describe('a tiny benchmark run', () => {
  it('measures every path it was asked for, in the order a to e', () => {
    expect(results.paths.map((p) => [p.letter, p.id])).toEqual([
      ['a', 'direct'],
      ['b', 'gateway-allow'],
      ['c', 'gateway-policy'],
      ['d', 'peer'],
      ['e', 'bare'],
    ]);
    for (const path of results.paths) {
      expect({ id: path.id, status: path.status, reason: path.reason }).toEqual({
        id: path.id,
        status: 'ok',
        reason: undefined,
      });
      expect(path.sequential?.latency.count).toBe(20);
      expect(path.sequential?.errors).toBe(0);
      expect(path.levels.map((l) => l.concurrency)).toEqual([1, 2]);
      for (const level of path.levels) {
        expect(level.calls).toBeGreaterThan(0);
        expect(level.errors).toBe(0);
        expect(level.latency.count).toBe(level.calls);
        expect(level.hop?.rssPeakBytes).toBeGreaterThan(0);
      }
      expect(path.idle?.sessions).toBe(3);
      expect(decodeFromCompressedBase64(path.sequential?.hdrBase64 ?? '').totalCount).toBe(20);
    }
  });

  it('names the peer proxy with its version and mode', () => {
    const peer = results.paths.find((p) => p.id === 'peer');
    expect(results.peer.name).toBe('mcp-proxy');
    expect(results.peer.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(peer?.details?.version).toBe(results.peer.version);
    expect(peer?.details?.mode).toMatch(/Streamable HTTP -> Streamable HTTP/);
  });

  it('describes the machine it ran on', () => {
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.memoryBytes).toBeGreaterThan(0);
    expect(results.machine.cpuModel).not.toBe('');
    expect(results.machine.node).toBe(process.version);
    expect(results.machine.os).toMatch(/\S+ \S+/);
  });

  it('times the policy engine alone', () => {
    expect(results.engine).toMatchObject({ status: 'ok', tools: 20, grants: 50, decisions: 2000 });
    expect(results.engine?.decisionsPerSecond).toBeGreaterThan(0);
  });

  it('renders a Markdown report with one row per path in each table', () => {
    const md = renderMarkdown(results);
    expect(md).toMatch(/^## Bastion benchmark: custom run/);
    for (const heading of [
      '### Sequential latency',
      '### Throughput',
      '### Hop process at each level',
      '### Memory per idle session',
      '### Policy engine alone',
    ]) {
      expect(md).toContain(heading);
    }
    const sequential = md.split('### Sequential latency')[1]?.split('###')[0] ?? '';
    const rows = sequential.split('\n').filter((l) => l.startsWith('| ('));
    expect(rows.map((r) => r.slice(2, 5))).toEqual(['(a)', '(b)', '(c)', '(d)', '(e)']);
    // Every row of a table has as many cells as its header.
    for (const block of md.split('\n\n')) {
      const lines = block.split('\n').filter((l) => l.startsWith('|'));
      const widths = new Set(lines.map((l) => l.split(' | ').length));
      expect(widths.size).toBeLessThanOrEqual(1);
    }
    expect(md).toContain('The gateway adds');
  });

  it('draws an SVG with a latency curve and a throughput bar per path and level', () => {
    const svg = renderSvg(results);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    for (const id of PATH_IDS) {
      expect(svg.match(new RegExp(`<polyline data-path="${id}"`, 'g'))).toHaveLength(1);
      expect(svg.match(new RegExp(`<rect data-path="${id}"`, 'g'))).toHaveLength(2);
    }
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    // Tags are balanced: every opened element is closed (or self-closed) in order.
    const stack: string[] = [];
    for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
      const [, closing, name, selfClosing] = m;
      if (selfClosing) continue;
      if (closing) expect(stack.pop()).toBe(name);
      else stack.push(name as string);
    }
    expect(stack).toEqual([]);
  });

  it('writes the JSON, Markdown and SVG files, and the same again as latest.*', async () => {
    const written = await writeReports(results, outDir);
    const json = JSON.parse(await readFile(written.json, 'utf8')) as BenchResults;
    expect(json).toEqual(JSON.parse(JSON.stringify(results)));
    expect(await readFile(written.markdown, 'utf8')).toBe(renderMarkdown(results));
    expect(await readFile(join(outDir, 'latest.svg'), 'utf8')).toBe(await readFile(written.svg, 'utf8'));
  });

  it('leaves no child process running and no port listening when it ends', async () => {
    const started = processes.started();
    // a fresh upstream for each of (a) to (d), gateway (b), gateway (c), peer, bare echo
    expect(started.map((p) => p.name).sort()).toEqual([
      'bare-echo',
      'bastion-gateway (allow)',
      'bastion-gateway (policy)',
      'echo-upstream',
      'echo-upstream',
      'echo-upstream',
      'echo-upstream',
      'peer-mcp-proxy',
    ]);
    for (const child of started) {
      expect({ name: child.name, alive: isAlive(child.pid) }).toEqual({ name: child.name, alive: false });
      expect({ name: child.name, listening: await canConnect(child.port) }).toEqual({
        name: child.name,
        listening: false,
      });
    }
  });
});
