/**
 * The three outputs of a run: a Markdown report for people (stdout, README), the JSON file with
 * every figure, and an SVG chart (chart.ts).
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderSvg } from './chart.js';
import { machineLine } from './machine.js';
import { type Era, idleLadder } from './options.js';
import { renderProfileMarkdown } from './profile.js';
import { type BenchResults, type EraResult, eraOf, type LevelResult, type PathResult } from './results.js';
import { evaluateTargets } from './targets.js';

const MIB = 1024 * 1024;

export function ms(value: number | undefined): string {
  if (value === undefined) return '–';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function signed(value: number): string {
  return `${value < 0 ? '−' : '+'}${ms(Math.abs(value))}`;
}

function cpu(value: number | undefined): string {
  return value === undefined ? '–' : value.toFixed(3);
}

function kib(bytes: number | undefined): string {
  return bytes === undefined ? '–' : (bytes / 1024).toFixed(1);
}

export function title(path: PathResult): string {
  return `(${path.letter}) ${path.label}`;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[], alignRightFrom = 1): string {
  const rule = header.map((_, i) => (i >= alignRightFrom ? '---:' : '---'));
  return [row(header), row(rule), ...rows.map(row)].join('\n');
}

/** Every (path, era) that was measured, in report order: paths a to e, each era in turn. */
function routes(results: BenchResults): Array<{ path: PathResult; era: EraResult }> {
  return results.paths.flatMap((path) =>
    path.eras.filter((era) => era.status === 'ok').map((era) => ({ path, era })),
  );
}

function baseline(results: BenchResults, era: Era): EraResult | undefined {
  const direct = eraOf(
    results.paths.find((p) => p.id === 'direct'),
    era,
  );
  return direct?.status === 'ok' ? direct : undefined;
}

export function renderMarkdown(results: BenchResults): string {
  const out: string[] = [];
  const o = results.options;
  const push = (...lines: string[]) => out.push(...lines);
  push(
    `## Bastion benchmark: ${o.mode} run, ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${machineLine(results.machine)}; load average at start ${results.machine.loadAverage.join(' / ')}.`,
    `Load generator: ${results.generator.description}. Its CPU is given next to every figure; a level where it used ≥ ${o.generatorLimitPercent} % of a core is marked ⚠ and does not count.`,
    `Open files per process under test: ${results.fdLimit.how}.`,
    `Peer proxy: ${results.peer.name} ${results.peer.version} (${results.peer.mode}).`,
    '',
  );

  renderTargets(results, push);
  renderLatency(results, push);
  renderThroughput(results, push);
  renderCapacity(results, push);
  renderEngine(results, push);
  for (const summary of results.profileSummaries ?? []) push(renderProfileMarkdown(summary));

  const skipped = results.paths.flatMap((p) => [
    ...(p.status !== 'ok' ? [`${title(p)} ${p.status}: ${p.reason ?? ''}`] : []),
    ...p.eras
      .filter((e) => e.status !== 'ok')
      .map((e) => `${title(p)} [${e.era}] ${e.status}: ${e.reason ?? ''}`),
  ]);
  push('Notes:');
  for (const note of [
    ...results.paths.map((p) => `${title(p)}: ${p.description}`),
    ...skipped,
    ...results.notes,
  ]) {
    push(`- ${note}`);
  }
  push('');
  return out.join('\n');
}

function renderTargets(results: BenchResults, push: (...lines: string[]) => void) {
  const checks = evaluateTargets(results);
  if (checks.length > 0) {
    push('### Targets (issue 10)', '');
    push(
      table(
        ['gateway', 'era', 'target', 'measured', 'met'],
        checks.map((c) => [
          c.path === 'gateway-allow' ? '(b) allow-all' : '(c) realistic',
          c.era,
          c.target,
          c.measured,
          c.met === undefined ? 'not measured' : c.met ? 'yes' : '**no**',
        ]),
        5,
      ),
      '',
    );
  }
}

function renderLatency(results: BenchResults, push: (...lines: string[]) => void) {
  const o = results.options;
  const measured = routes(results);
  push(
    `### Sequential latency (${o.sequentialCalls} calls per path and era on one session, after ${o.warmupCalls} warm-up calls)`,
    '',
  );
  push(
    table(
      [
        'path',
        'era',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'p50 added',
        'p99 added',
        'CPU ms/call: hop',
        'upstream',
        'generator',
        'errors',
      ],
      measured
        .filter(({ era }) => era.sequential)
        .map(({ path, era }) => {
          const s = era.sequential;
          const d = baseline(results, era.era)?.sequential;
          const over = path.id !== 'direct' && d && s;
          return [
            title(path),
            era.era,
            ms(s?.latency.p50Ms),
            ms(s?.latency.p90Ms),
            ms(s?.latency.p99Ms),
            ms(s?.latency.maxMs),
            over ? signed(s.latency.p50Ms - d.latency.p50Ms) : '–',
            over ? signed(s.latency.p99Ms - d.latency.p99Ms) : '–',
            cpu(s?.cpuMsPerCall.hop),
            cpu(s?.cpuMsPerCall.upstream),
            cpu(s?.cpuMsPerCall.generator),
            String(s?.errors ?? 0),
          ];
        }),
      2,
    ),
    '',
    '"Added" is over (a) direct in the same era. CPU is per call: the hop process (for (a), the echo upstream itself), the echo upstream behind a hop, and the load generator.',
    '',
  );
}

function renderThroughput(results: BenchResults, push: (...lines: string[]) => void) {
  const o = results.options;
  const measured = routes(results);
  const levels = [...o.concurrency].sort((x, y) => x - y);
  if (levels.length > 0) {
    const cell = (era: EraResult, c: number, f: (l: LevelResult) => string) => {
      const level = era.levels.find((l) => l.concurrency === c);
      return level ? `${f(level)}${level.generatorLimited ? ' ⚠' : ''}` : '–';
    };
    const most = levels.at(-1) ?? 0;
    const at = levels.includes(32) ? 32 : most;
    push(
      `### Throughput (closed loop, each level ${o.levelDurationMs / 1000} s or ${o.levelMaxCalls} calls; calls/s, then p50 / p99 ms)`,
      '',
    );
    push(
      table(
        ['path', 'era', ...levels.map((c) => `${c} sessions`), `vs direct at ${at}`],
        measured.map(({ path, era }) => {
          const mine = era.levels.find((l) => l.concurrency === at);
          const direct = baseline(results, era.era)?.levels.find((l) => l.concurrency === at);
          const share =
            mine && direct && direct.callsPerSecond > 0 && path.id !== 'direct'
              ? `${Math.round((mine.callsPerSecond / direct.callsPerSecond) * 100)} %`
              : '–';
          return [
            title(path),
            era.era,
            ...levels.map((c) =>
              cell(
                era,
                c,
                (l) =>
                  `${l.callsPerSecond} (${ms(l.latency.p50Ms)} / ${ms(l.latency.p99Ms)})${l.errors > 0 ? ` ${l.errors} err` : ''}`,
              ),
            ),
            share,
          ];
        }),
        2,
      ),
      '',
      '### CPU at each level (% of one core: hop / upstream / load generator; hop peak RSS MiB)',
      '',
    );
    const pct = (u: { cpuPercent: number } | undefined) => (u ? `${u.cpuPercent}` : '–');
    push(
      table(
        ['path', 'era', 'hop process', ...levels.map((c) => `${c} sessions`)],
        measured.map(({ path, era }) => [
          title(path),
          era.era,
          path.hopProcesses.join(' + '),
          ...levels.map((c) =>
            cell(
              era,
              c,
              (l) =>
                `${pct(l.hop)} / ${pct(l.upstream)} / ${pct(l.generator)} · ${l.hop ? (l.hop.rssPeakBytes / MIB).toFixed(0) : '–'}`,
            ),
          ),
        ]),
        3,
      ),
      '',
    );
  }
}

function renderCapacity(results: BenchResults, push: (...lines: string[]) => void) {
  const o = results.options;
  const legacy = results.paths.flatMap((p) => {
    const idle = eraOf(p, '2025-11-25')?.idle;
    return idle ? [{ path: p, idle }] : [];
  });
  if (legacy.length > 0) {
    const rungs = idleLadder(o.idleSessions);
    push(
      `### Idle 2025-era sessions (initialize + initialized, then nothing; a ladder up to ${o.idleSessions})`,
      '',
      'Hop KiB per session at each rung: (RSS then − RSS before the first session) / sessions open.',
      '',
    );
    push(
      table(
        ['path', ...rungs.map((r) => `${r}`), 'upstream KiB/session at the top'],
        legacy.map(({ path, idle }) => [
          title(path),
          ...rungs.map((r) => kib(idle.rungs.find((rung) => rung.sessions === r)?.hopBytesPerSession)),
          kib(idle.rungs.at(-1)?.upstreamBytesPerSession),
        ]),
      ),
      '',
    );
    push(
      table(
        ['path', 'sessions reached', 'CPU ms to open one: hop', 'upstream', 'generator', 'stopped by'],
        legacy.map(({ path, idle }) => [
          title(path),
          String(idle.reached),
          cpu(idle.openCpuMs.hop),
          cpu(idle.openCpuMs.upstream),
          cpu(idle.openCpuMs.generator),
          idle.stoppedBy ?? (idle.reached >= idle.target ? '– (reached the top)' : '–'),
        ]),
        1,
      ),
      '',
    );
  }
  const modern = results.paths.flatMap((p) => {
    const agents = eraOf(p, '2026-07-28')?.agents;
    return agents ? [{ path: p, agents }] : [];
  });
  if (modern.length > 0) {
    push(`### Stateless 2026-era agents (${o.statelessAgents} distinct tokens, one call each)`, '');
    push(
      table(
        ['path', 'agents', 'hop KiB/agent', 'upstream KiB/agent', 'errors'],
        modern.map(({ path, agents }) => [
          title(path),
          String(agents.agents),
          kib(agents.hopBytesPerAgent),
          kib(agents.upstreamBytesPerAgent),
          agents.errors > 0 ? `${agents.errors} (${agents.firstError ?? ''})` : '0',
        ]),
      ),
      '',
    );
  }
}

function renderEngine(results: BenchResults, push: (...lines: string[]) => void) {
  const engine = results.engine;
  if (!engine) return;
  push('### Policy engine alone (in-process)', '');
  if (engine.status !== 'ok') {
    push(`${engine.status}: ${engine.reason ?? ''}`, '');
    return;
  }
  const rows = [
    [
      'pipeline (grant known)',
      String(engine.tools),
      String(engine.grants),
      String(engine.decisions),
      String(engine.decisionsPerSecond ?? '–'),
      engine.nsPerDecision === undefined ? '–' : (engine.nsPerDecision / 1000).toFixed(2),
    ],
  ];
  const auth = engine.withAuthentication;
  if (auth) {
    rows.push([
      'token lookup + pipeline',
      String(engine.tools),
      String(engine.grants),
      String(auth.decisions),
      String(auth.decisionsPerSecond),
      (auth.nsPerDecision / 1000).toFixed(2),
    ]);
  }
  push(table(['what is timed', 'tools', 'grants', 'decisions', 'decisions/s', 'µs/decision'], rows));
  if (engine.workload) push('', engine.workload);
  push('');
}

export interface WrittenReports {
  json: string;
  markdown: string;
  svg: string;
}

/**
 * Writes `bench-<stamp>.{json,md,svg}` into `outDir`, and copies them to `latest.*` so that the
 * last run is always at the same place.
 */
export async function writeReports(results: BenchResults, outDir: string): Promise<WrittenReports> {
  await mkdir(outDir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const base = join(outDir, `bench-${stamp}-${results.options.mode}`);
  const written: WrittenReports = { json: `${base}.json`, markdown: `${base}.md`, svg: `${base}.svg` };
  await writeFile(written.json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(written.markdown, renderMarkdown(results));
  await writeFile(written.svg, renderSvg(results));
  await copyFile(written.json, join(outDir, 'latest.json'));
  await copyFile(written.markdown, join(outDir, 'latest.md'));
  await copyFile(written.svg, join(outDir, 'latest.svg'));
  return written;
}

export { renderSvg };
