/**
 * The two requirement sets of the official MCP conformance suite this harness runs, each with the
 * CLI release that runs it:
 *
 *   2025-11-25  @modelcontextprotocol/conformance 0.1.16, its active server scenarios (the newest
 *               stable release; the 2025 wire: initialize and sessions)
 *   2026-07-28  @modelcontextprotocol/conformance 0.2.0-alpha.12 (installed as conformance-next),
 *               `--requirements 2026-07-28` (the stateless wire: server/discover, per-request _meta)
 *
 * Both run as child processes from their installed `dist/index.js`, so the harness needs nothing
 * but the lockfile's two versions. Which scenarios a set requires comes from the alpha's frozen
 * requirement files (`conformance list --server --requirements REV`): for 2025-11-25 that is the
 * same 30 scenarios 0.1.16 runs, which a test checks.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { z } from 'zod';
import { HARNESS_ROOT } from '../suites/paths.js';
import { trackChild } from '../targets/run-scope.js';

export const REQUIREMENT_SETS = ['2025-11-25', '2026-07-28'] as const;
export type RequirementSet = (typeof REQUIREMENT_SETS)[number];

export interface ConformanceCli {
  /** The npm package and version that runs the set, e.g. `@modelcontextprotocol/conformance@0.1.16`. */
  package: string;
  version: string;
  /** Its entry point, run with this process's node. */
  entry: string;
  /** Arguments that select the set for `conformance server` (besides --url and the output dir). */
  setArgs: ReadonlyArray<string>;
  /** Arguments that select one scenario at the set's wire version instead. */
  scenarioArgs(scenario: string): string[];
  /** Whether baseline entries may name one check (`scenario:check-id`), not only whole scenarios. */
  perCheckBaseline: boolean;
}

const packageDir = (name: string) => join(HARNESS_ROOT, 'node_modules', ...name.split('/'));

function installedVersion(dir: string): string {
  const parsed = z
    .object({ version: z.string() })
    .parse(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')));
  return parsed.version;
}

function cli(dir: string, set: RequirementSet): ConformanceCli {
  const version = installedVersion(dir);
  const modern = set === '2026-07-28';
  return {
    package: `@modelcontextprotocol/conformance@${version}`,
    version,
    entry: join(dir, 'dist', 'index.js'),
    // 0.1.16's default (active) suite is the 2025-11-25 set; the alpha selects a frozen set by name.
    setArgs: modern ? ['--requirements', set] : [],
    // --requirements cannot be combined with --scenario; --spec-version keeps the set's wire.
    scenarioArgs: (scenario) => ['--scenario', scenario, ...(modern ? ['--spec-version', set] : [])],
    perCheckBaseline: modern,
  };
}

const CLI_DIRS: Record<RequirementSet, string> = {
  '2025-11-25': packageDir('@modelcontextprotocol/conformance'),
  '2026-07-28': packageDir('conformance-next'),
};

/** The CLI release that runs `set`. */
export function conformanceCli(set: RequirementSet): ConformanceCli {
  return cli(CLI_DIRS[set], set);
}

/** Runs a CLI to completion and returns everything it printed (stdout and stderr interleaved). */
export async function runCli(
  entry: string,
  args: ReadonlyArray<string>,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ exitCode: number | null; output: string }> {
  const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child, 'conformance-cli');
  let output = '';
  const collect = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const kill = () => child.kill('SIGKILL');
  const timer = setTimeout(kill, options.timeoutMs);
  options.signal?.addEventListener('abort', kill, { once: true });
  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code));
    });
    return { exitCode, output };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', kill);
  }
}

const required = new Map<RequirementSet, Promise<string[]>>();

/**
 * The server scenarios `set` requires (scored), as the alpha's frozen requirement file lists them.
 * Anything else a run reports (extensions such as tasks-*, pending scenarios) is run but not scored.
 */
export function requiredScenarios(set: RequirementSet): Promise<string[]> {
  let list = required.get(set);
  if (list === undefined) {
    list = (async () => {
      const { exitCode, output } = await runCli(
        conformanceCli('2026-07-28').entry,
        ['list', '--server', '--requirements', set],
        { timeoutMs: 30_000 },
      );
      if (exitCode !== 0) throw new Error(`conformance list --requirements ${set} failed:\n${output}`);
      return parseScenarioList(output, 'Server scenarios');
    })();
    list.catch(() => required.delete(set));
    required.set(set, list);
  }
  return list;
}

/** The `  - name` lines under the heading that starts with `heading`, up to the next blank line. */
export function parseScenarioList(output: string, heading: string): string[] {
  const lines = stripVTControlCharacters(output).split('\n');
  const start = lines.findIndex((line) => line.startsWith(heading));
  if (start < 0) throw new Error(`no '${heading}' list in:\n${output}`);
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^\s+- (\S+)$/.exec(line);
    if (m === null) break;
    names.push(m[1] ?? '');
  }
  return names;
}
