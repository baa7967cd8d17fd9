/**
 * Baselines of expected conformance failures: the suite's own `--expected-failures` YAML
 * (`server:` then a list of scenario names), with the reason for each entry as a comment on its line,
 * which the suite ignores and we require:
 *
 *   server:
 *     - tools-call-image # bastion-mqtt has no test_image_content fixture tool
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HARNESS_ROOT } from '../suites/paths.js';
import type { ConformanceRun } from './runner.js';

export const BASELINE_DIR = join(HARNESS_ROOT, 'conformance');

/** The scenarios `conformance server` runs by default (its "active" suite) in 0.1.13. */
export const ACTIVE_SCENARIOS = [
  'server-initialize',
  'logging-set-level',
  'ping',
  'completion-complete',
  'tools-list',
  'tools-call-simple-text',
  'tools-call-image',
  'tools-call-audio',
  'tools-call-embedded-resource',
  'tools-call-mixed-content',
  'tools-call-with-logging',
  'tools-call-error',
  'tools-call-with-progress',
  'tools-call-sampling',
  'tools-call-elicitation',
  'elicitation-sep1034-defaults',
  'server-sse-multiple-streams',
  'elicitation-sep1330-enums',
  'resources-list',
  'resources-read-text',
  'resources-read-binary',
  'resources-templates-read',
  'resources-subscribe',
  'resources-unsubscribe',
  'prompts-list',
  'prompts-get-simple',
  'prompts-get-with-args',
  'prompts-get-embedded-resource',
  'prompts-get-with-image',
  'dns-rebinding-protection',
] as const;

export interface BaselineEntry {
  scenario: string;
  reason: string;
}

export interface Baseline {
  path: string;
  entries: BaselineEntry[];
}

/**
 * Reads a baseline; anything but `server:` entries is an error, and so is an entry without a reason
 * unless `requireReasons` is false (someone else's baseline, in the suite's plain format).
 */
export function parseBaseline(text: string, path: string, requireReasons = true): Baseline {
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
    const item = /^\s+-\s+([A-Za-z0-9/_-]+)\s*(?:#\s*(.*))?$/.exec(line);
    if (!inServer || item === null) {
      problems.push(`line ${i + 1}: expected '  - <scenario> # <why it is expected to fail>'`);
      continue;
    }
    const reason = item[2]?.trim() ?? '';
    if (reason === '' && requireReasons)
      problems.push(`line ${i + 1}: '${item[1]}' says not why it is expected to fail`);
    entries.push({ scenario: item[1] ?? '', reason });
  }
  if (problems.length > 0) throw new Error(`${path}:\n  ${problems.join('\n  ')}`);
  return { path, entries };
}

export function loadBaseline(name: string): Baseline {
  const path = join(BASELINE_DIR, name);
  return parseBaseline(readFileSync(path, 'utf8'), path);
}

export interface Judgement {
  /** Failed and not in the baseline. */
  unexpectedFailures: string[];
  /** In the baseline but passed: the baseline must be updated. */
  staleEntries: string[];
  /** Failed as the baseline says. */
  expectedFailures: string[];
  /** Baseline entries naming no scenario that ran. */
  unknownEntries: string[];
}

/** The suite's own rule (0.1.13): a scenario fails on any FAILURE or WARNING check. */
export function judge(run: ConformanceRun, baseline: Baseline | undefined): Judgement {
  const expected = new Set(baseline?.entries.map((e) => e.scenario) ?? []);
  const ran = new Set(run.scenarios.map((s) => s.scenario));
  const failed = run.scenarios.filter((s) => !s.ok).map((s) => s.scenario);
  return {
    unexpectedFailures: failed.filter((s) => !expected.has(s)),
    staleEntries: run.scenarios.filter((s) => s.ok && expected.has(s.scenario)).map((s) => s.scenario),
    expectedFailures: failed.filter((s) => expected.has(s)),
    unknownEntries: [...expected].filter((s) => !ran.has(s)),
  };
}
