/**
 * Runs the official MCP conformance suite against one MCP server URL, for one requirement set
 * (sets.ts), as the suite's own CLI in a child process, and reads back every scenario's
 * checks.json. This is the API the harness's tests (and a gateway-vs-direct comparison) build on:
 *
 *   const run = await runConformance({ url, set: '2026-07-28', baseline: 'conformance/x-2026-07-28.yml' });
 *   run.scenarios   // per scenario: ok, scored, check counts, the failing checks with their messages
 *   judge(run, loadBaseline(...))   // unexpected failures and stale entries, as the CLI judges them
 *   tally(run)      // { passed, total } over the set's required scenarios
 *
 * With a baseline the CLI judges the run too (`--expected-failures`); its verdict (exit code, the
 * entries it calls unexpected or stale) comes back beside ours, so a test can check both agree.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { z } from 'zod';
import {
  type ConformanceCli,
  conformanceCli,
  type RequirementSet,
  requiredScenarios,
  runCli,
} from './sets.js';

export { REQUIREMENT_SETS, type RequirementSet } from './sets.js';

const CheckSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  description: z.string().optional(),
  status: z.string(),
  errorMessage: z.string().optional(),
});
/** One check inside a scenario, as the suite writes it to checks.json. */
export type ConformanceCheck = z.infer<typeof CheckSchema>;

/** A check that failed: FAILURE, or WARNING (a SHOULD), which the suite's baseline rule counts too. */
export interface FailedCheck {
  id: string;
  status: 'FAILURE' | 'WARNING';
  message: string;
}

export interface ScenarioResult {
  scenario: string;
  /** Required by the set; an unscored scenario (an extension, a pending one) is run and reported only. */
  scored: boolean;
  /** As the suite judges a scenario: any FAILURE or WARNING check fails it. */
  ok: boolean;
  passed: number;
  failed: number;
  warnings: number;
  /** The failing checks, one per check id (a repeated id keeps its most severe outcome). */
  failures: FailedCheck[];
  /** Every check id the scenario reported, with that outcome (SUCCESS, FAILURE, WARNING, SKIPPED, ...). */
  checks: Record<string, string>;
  /** The first failure's message, for reports. */
  firstError?: string;
}

export interface RunConformanceOptions {
  /** The MCP endpoint (Streamable HTTP), e.g. `http://127.0.0.1:4000/mcp`. */
  url: string;
  set: RequirementSet;
  /** A baseline file in the suite's `--expected-failures` format (baseline.ts), handed to the CLI. */
  baseline?: string;
  /** Only this scenario, at the set's wire version (default: every scenario of the set). */
  scenario?: string;
  /** Kills the CLI after this long. Default 180 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ConformanceRun {
  url: string;
  set: RequirementSet;
  /** The CLI release that ran the set, e.g. `@modelcontextprotocol/conformance@0.1.16`. */
  cli: string;
  exitCode: number | null;
  durationMs: number;
  /** Scenarios in the order the suite ran them. */
  scenarios: ScenarioResult[];
  /** The CLI's own verdict against the baseline, parsed from its output. */
  unexpectedFailures: string[];
  staleEntries: string[];
  output: string;
}

const RESULT_DIR = /^server-(.+)-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)$/;
const severity = (status: string) =>
  status === 'FAILURE' ? 3 : status === 'WARNING' ? 2 : status === 'SUCCESS' ? 1 : 0;

/** One verdict per check id, the most severe (FAILURE > WARNING > SUCCESS > the rest), as the suite does. */
export function collapseChecks(checks: ReadonlyArray<ConformanceCheck>): Map<string, ConformanceCheck> {
  const byId = new Map<string, ConformanceCheck>();
  for (const check of checks) {
    if (check.status === 'INFO') continue;
    const seen = byId.get(check.id);
    if (seen === undefined || severity(check.status) >= severity(seen.status)) byId.set(check.id, check);
  }
  return byId;
}

export function summarise(
  scenario: string,
  checks: ReadonlyArray<ConformanceCheck>,
  scored: boolean,
): ScenarioResult {
  const failures: FailedCheck[] = [];
  const collapsed = collapseChecks(checks);
  for (const check of collapsed.values()) {
    if (check.status !== 'FAILURE' && check.status !== 'WARNING') continue;
    failures.push({
      id: check.id,
      status: check.status,
      message: check.errorMessage ?? check.description ?? check.id,
    });
  }
  const failed = checks.filter((c) => c.status === 'FAILURE').length;
  const warnings = checks.filter((c) => c.status === 'WARNING').length;
  const first = failures.find((f) => f.status === 'FAILURE') ?? failures[0];
  return {
    scenario,
    scored,
    ok: failed === 0 && warnings === 0,
    passed: checks.filter((c) => c.status === 'SUCCESS').length,
    failed,
    warnings,
    failures,
    checks: Object.fromEntries([...collapsed].map(([id, check]) => [id, check.status])),
    ...(first === undefined ? {} : { firstError: first.message }),
  };
}

/** The entries listed under a heading of the CLI's baseline verdict. */
function listUnder(output: string, heading: string): string[] {
  const lines = stripVTControlCharacters(output).split('\n');
  const start = lines.findIndex((line) => line.startsWith(heading));
  if (start < 0) return [];
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^\s+[✗✓~] (\S+)$/.exec(line);
    if (m === null) break;
    names.push(m[1] ?? '');
  }
  return names;
}

async function readResults(outDir: string, required: ReadonlySet<string>): Promise<ScenarioResult[]> {
  const found: Array<{ result: ScenarioResult; startedAt: string }> = [];
  for (const dir of await readdir(outDir)) {
    const match = RESULT_DIR.exec(dir);
    if (match === null) continue;
    const scenario = match[1] ?? '';
    const checks = z
      .array(CheckSchema)
      .parse(JSON.parse(await readFile(join(outDir, dir, 'checks.json'), 'utf8')));
    found.push({ result: summarise(scenario, checks, required.has(scenario)), startedAt: match[2] ?? '' });
  }
  // Directory names end in the start time: sorting by it gives the order the scenarios ran in.
  found.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return found.map((f) => f.result);
}

function cliArgs(cli: ConformanceCli, options: RunConformanceOptions, outDir: string): string[] {
  const args = ['server', '--url', options.url, '-o', outDir];
  args.push(...(options.scenario === undefined ? cli.setArgs : cli.scenarioArgs(options.scenario)));
  if (options.baseline !== undefined) args.push('--expected-failures', options.baseline);
  return args;
}

export async function runConformance(options: RunConformanceOptions): Promise<ConformanceRun> {
  const cli = conformanceCli(options.set);
  const required = new Set(await requiredScenarios(options.set));
  const outDir = await mkdtemp(join(tmpdir(), 'bastion-conformance-'));
  const started = performance.now();
  try {
    const { exitCode, output } = await runCli(cli.entry, cliArgs(cli, options, outDir), {
      timeoutMs: options.timeoutMs ?? 180_000,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return {
      url: options.url,
      set: options.set,
      cli: cli.package,
      exitCode,
      durationMs: Math.round(performance.now() - started),
      scenarios: await readResults(outDir, required),
      unexpectedFailures: listUnder(output, 'Unexpected failures (not in baseline):'),
      staleEntries: listUnder(output, 'Stale baseline entries (now passing - remove from baseline):'),
      output,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** Passed and total over the set's required scenarios (what the suite scores). */
export function tally(run: ConformanceRun): { passed: number; total: number } {
  const scored = run.scenarios.filter((s) => s.scored);
  return { passed: scored.filter((s) => s.ok).length, total: scored.length };
}

/**
 * Scored scenarios whose verdict differs between two runs of the same set, e.g. a server on its
 * own and a proxy in front of it (a transparent proxy passes exactly what its upstream passes).
 */
export function verdictDifferences(
  direct: ConformanceRun,
  other: ConformanceRun,
): Array<{ scenario: string; direct: boolean | undefined; other: boolean | undefined }> {
  const verdicts = (run: ConformanceRun) =>
    new Map(run.scenarios.filter((s) => s.scored).map((s) => [s.scenario, s.ok]));
  const a = verdicts(direct);
  const b = verdicts(other);
  return [...new Set([...a.keys(), ...b.keys()])]
    .filter((scenario) => a.get(scenario) !== b.get(scenario))
    .map((scenario) => ({ scenario, direct: a.get(scenario), other: b.get(scenario) }));
}
