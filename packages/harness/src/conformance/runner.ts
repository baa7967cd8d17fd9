/**
 * Runs the official MCP conformance CLI (@modelcontextprotocol/conformance, pinned to 0.1.13, the
 * last that runs on Node 20) against one server URL as a child process, with a baseline of expected
 * failures in the suite's own `--expected-failures` format, and reads every scenario's checks.json.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { HARNESS_ROOT } from '../suites/paths.js';
import { trackChild } from '../targets/run-scope.js';

export const CONFORMANCE_VERSION = '0.1.13';

export const CONFORMANCE_CLI = join(
  HARNESS_ROOT,
  'node_modules',
  '@modelcontextprotocol',
  'conformance',
  'dist',
  'index.js',
);

/** One check inside a scenario, as the suite writes it to checks.json. */
export interface ConformanceCheck {
  id: string;
  name?: string;
  description?: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | string;
  errorMessage?: string;
}

export interface ScenarioResult {
  scenario: string;
  passed: number;
  failed: number;
  warnings: number;
  /** As the suite judges a scenario against a baseline: any FAILURE or WARNING fails it. */
  ok: boolean;
  /** The first failure's message, for reports. */
  firstError?: string;
}

export interface ConformanceRun {
  url: string;
  exitCode: number | null;
  /** Scenarios in the order the suite ran them. */
  scenarios: ScenarioResult[];
  /** The CLI's own verdict against the baseline, parsed from its output. */
  unexpectedFailures: string[];
  staleEntries: string[];
  output: string;
}

const RESULT_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

function summarise(scenario: string, checks: ConformanceCheck[]): ScenarioResult {
  const failures = checks.filter((c) => c.status === 'FAILURE');
  const warnings = checks.filter((c) => c.status === 'WARNING').length;
  const first = failures[0] ?? checks.find((c) => c.status === 'WARNING');
  return {
    scenario,
    passed: checks.filter((c) => c.status === 'SUCCESS').length,
    failed: failures.length,
    warnings,
    ok: failures.length === 0 && warnings === 0,
    ...(first === undefined ? {} : { firstError: first.errorMessage ?? first.description ?? first.id }),
  };
}

/** The scenario names listed under a heading of the CLI's baseline verdict. */
function listUnder(output: string, heading: string): string[] {
  const plain = stripVTControlCharacters(output);
  const start = plain.indexOf(heading);
  if (start < 0) return [];
  const names: string[] = [];
  for (const line of plain
    .slice(start + heading.length)
    .split('\n')
    .slice(1)) {
    const m = /^\s+[✗✓~] (\S+)$/.exec(line);
    if (m === null) break;
    names.push(m[1] ?? '');
  }
  return names;
}

export interface RunConformanceOptions {
  url: string;
  baseline?: string;
  /** Only this scenario (default: the suite's active scenarios). */
  scenario?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export async function runConformance(options: RunConformanceOptions): Promise<ConformanceRun> {
  const outDir = await mkdtemp(join(tmpdir(), 'bastion-conformance-'));
  try {
    const args = [CONFORMANCE_CLI, 'server', '--url', options.url, '-o', outDir];
    if (options.baseline !== undefined) args.push('--expected-failures', options.baseline);
    if (options.scenario !== undefined) args.push('--scenario', options.scenario);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child, 'conformance-cli');
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const kill = () => child.kill('SIGKILL');
    const timer = setTimeout(kill, options.timeoutMs ?? 120_000);
    options.signal?.addEventListener('abort', kill, { once: true });
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code));
    });
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', kill);

    const scenarios: Array<ScenarioResult & { dir: string }> = [];
    for (const dir of await readdir(outDir)) {
      const scenario = RESULT_DIR.exec(dir)?.[1];
      if (scenario === undefined) continue;
      const checks = JSON.parse(
        await readFile(join(outDir, dir, 'checks.json'), 'utf8'),
      ) as ConformanceCheck[];
      scenarios.push({ ...summarise(scenario, checks), dir });
    }
    // Directory names end in the start time: sorting them gives the order the scenarios ran in.
    scenarios.sort((a, b) => a.dir.slice(-24).localeCompare(b.dir.slice(-24)));
    return {
      url: options.url,
      exitCode,
      scenarios: scenarios.map(({ dir: _, ...s }) => s),
      unexpectedFailures: listUnder(output, 'Unexpected failures (not in baseline):'),
      staleEntries: listUnder(output, 'Stale baseline entries (now passing - remove from baseline):'),
      output,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
