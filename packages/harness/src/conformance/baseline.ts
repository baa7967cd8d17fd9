/**
 * Baselines of expected conformance failures, one file per target and requirement set
 * (`conformance/<target>.<set>.yml`), in the suite's own `--expected-failures` format with the reason
 * for each entry as a comment on its line, which the suite ignores and we require:
 *
 *   server:
 *     - tools-call-image # bastion-mqtt has no test_image_content fixture tool
 *     - server-stateless:sep-2575-server-no-log-without-loglevel # no test_logging_tool fixture tool
 *
 * An entry names a whole scenario, or (2026-07-28 set, CLI 0.2.0) one check of it as
 * `scenario:check-id`, so the scenario's other checks stay enforced. A run is judged as the CLI judges
 * it: a failure the baseline does not list fails, and so does an entry that passes (stale).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HARNESS_ROOT } from '../suites/paths.js';
import type { ConformanceRun } from './runner.js';
import type { RequirementSet } from './sets.js';

export const BASELINE_DIR = join(HARNESS_ROOT, 'conformance');

export interface BaselineEntry {
  scenario: string;
  /** When set, only this check of the scenario is expected to fail. */
  check?: string;
  reason: string;
}

export interface Baseline {
  path: string;
  entries: BaselineEntry[];
}

const ENTRY = /^\s+-\s+([A-Za-z0-9/_-]+)(?::([A-Za-z0-9/_.-]+))?\s*(?:#\s*(.*))?$/;

export const entryName = (e: { scenario: string; check?: string }) =>
  e.check === undefined ? e.scenario : `${e.scenario}:${e.check}`;

/**
 * A test title for one scenario under a baseline: it passes, fails as expected (a whole-scenario
 * entry, with the reason), or fails only the checks its entries name (each with its reason).
 */
export function expectationTitle(scenario: string, baseline: Baseline | undefined): string {
  const entries = baseline?.entries.filter((e) => e.scenario === scenario) ?? [];
  const because = (e: BaselineEntry) => (e.reason === '' ? '' : ` (${e.reason})`);
  if (entries.length === 0) return `${scenario} passes`;
  const whole = entries.find((e) => e.check === undefined);
  if (whole !== undefined)
    return `${scenario} fails as expected${whole.reason === '' ? '' : `: ${whole.reason}`}`;
  return `${scenario} fails only as expected: ${entries.map((e) => `${e.check}${because(e)}`).join('; ')}`;
}

export interface ParseOptions {
  /** Someone else's baseline, in the suite's plain format: reasons welcome, not required. */
  requireReasons?: boolean;
  /** Per-check entries are understood by the 2026-07-28 set's CLI (0.2.0) only. */
  perCheck?: boolean;
}

/** Reads a baseline; every problem is reported at once, each with its line. */
export function parseBaseline(text: string, path: string, options: ParseOptions = {}): Baseline {
  const { requireReasons = true, perCheck = true } = options;
  const entries: BaselineEntry[] = [];
  const problems: string[] = [];
  let inServer = false;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trimEnd();
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    if (/^server:\s*(\[\s*\])?\s*(#.*)?$/.test(line)) {
      inServer = true;
      continue;
    }
    if (/^\S/.test(line)) {
      inServer = false;
      problems.push(`line ${i + 1}: only a 'server:' list belongs in a server baseline`);
      continue;
    }
    const item = ENTRY.exec(line);
    if (!inServer || item === null) {
      problems.push(`line ${i + 1}: expected '  - <scenario>[:<check-id>] # <why it is expected to fail>'`);
      continue;
    }
    const entry: BaselineEntry = {
      scenario: item[1] ?? '',
      ...(item[2] === undefined ? {} : { check: item[2] }),
      reason: item[3]?.trim() ?? '',
    };
    if (entry.reason === '' && requireReasons)
      problems.push(`line ${i + 1}: '${entryName(entry)}' says not why it is expected to fail`);
    if (entry.check !== undefined && !perCheck)
      problems.push(`line ${i + 1}: '${entryName(entry)}': this set's CLI reads whole scenarios only`);
    entries.push(entry);
  }
  const whole = new Set(entries.filter((e) => e.check === undefined).map((e) => e.scenario));
  for (const e of entries)
    if (e.check !== undefined && whole.has(e.scenario))
      problems.push(`'${entryName(e)}': the whole scenario '${e.scenario}' is already expected to fail`);
  const names = entries.map(entryName);
  for (const [i, name] of names.entries())
    if (names.indexOf(name) !== i) problems.push(`'${name}' is listed twice`);
  if (problems.length > 0) throw new Error(`${path}:\n  ${problems.join('\n  ')}`);
  return { path, entries };
}

/** The checked-in baseline file of `target` for `set`. */
export function baselineFile(target: string, set: RequirementSet): string {
  return join(BASELINE_DIR, `${target}.${set}.yml`);
}

export function loadBaseline(target: string, set: RequirementSet): Baseline {
  const path = baselineFile(target, set);
  return parseBaseline(readFileSync(path, 'utf8'), path, { perCheck: set === '2026-07-28' });
}

export interface Judgement {
  /** Failed and not in the baseline (a scenario, or `scenario:check` under a per-check entry). */
  unexpectedFailures: string[];
  /** In the baseline but passed: the baseline must be updated. */
  staleEntries: string[];
  /** Failed as the baseline says. */
  expectedFailures: string[];
  /** Entries naming a scenario that did not run, or a check the scenario did not report. */
  unknownEntries: string[];
}

/**
 * The CLI's rule (0.1.16 and 0.2.0): a scenario or check fails on FAILURE or WARNING; only the
 * set's scored scenarios are judged. Stricter than the CLI in one way: an entry naming a scenario
 * or check that was never reported is `unknown` (a renamed check would otherwise sit unnoticed).
 */
export function judge(run: ConformanceRun, baseline: Baseline | undefined): Judgement {
  const entries = baseline?.entries ?? [];
  const whole = new Set(entries.filter((e) => e.check === undefined).map((e) => e.scenario));
  const perCheck = new Map<string, Set<string>>();
  for (const e of entries) {
    if (e.check === undefined) continue;
    perCheck.set(e.scenario, (perCheck.get(e.scenario) ?? new Set()).add(e.check));
  }
  const j: Judgement = { unexpectedFailures: [], staleEntries: [], expectedFailures: [], unknownEntries: [] };
  const scored = run.scenarios.filter((s) => s.scored);
  for (const s of scored) {
    if (whole.has(s.scenario)) {
      (s.ok ? j.staleEntries : j.expectedFailures).push(s.scenario);
      continue;
    }
    const expected = perCheck.get(s.scenario);
    if (expected === undefined) {
      if (!s.ok) j.unexpectedFailures.push(s.scenario);
      continue;
    }
    for (const f of s.failures)
      (expected.has(f.id) ? j.expectedFailures : j.unexpectedFailures).push(`${s.scenario}:${f.id}`);
    for (const check of expected) {
      const status = s.checks[check];
      if (status === undefined) j.unknownEntries.push(`${s.scenario}:${check}`);
      else if (status === 'SUCCESS') j.staleEntries.push(`${s.scenario}:${check}`);
    }
  }
  const ran = new Set(scored.map((s) => s.scenario));
  for (const e of entries) if (!ran.has(e.scenario)) j.unknownEntries.push(entryName(e));
  return j;
}
