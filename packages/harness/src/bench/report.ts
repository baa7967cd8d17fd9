/**
 * The three outputs of a run: a Markdown table for people (stdout, README), the JSON file with
 * every figure, and an SVG chart of the latency distribution per path and throughput per level.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { machineLine } from './machine.js';
import { renderProfileMarkdown } from './profile.js';
import type { BenchResults, PathResult } from './results.js';

const MIB = 1024 * 1024;

function ms(value: number | undefined): string {
  if (value === undefined) return '–';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function signed(value: number): string {
  return `${value < 0 ? '−' : '+'}${ms(Math.abs(value))}`;
}

function title(path: PathResult): string {
  return `(${path.letter}) ${path.label}`;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[], alignRightFrom = 1): string {
  const rule = header.map((_, i) => (i >= alignRightFrom ? '---:' : '---'));
  return [row(header), row(rule), ...rows.map(row)].join('\n');
}

export function renderMarkdown(results: BenchResults): string {
  const out: string[] = [];
  const okPaths = results.paths.filter((p) => p.status === 'ok');
  const direct = results.paths.find((p) => p.id === 'direct' && p.status === 'ok');
  const bare = results.paths.find((p) => p.id === 'bare' && p.status === 'ok');
  const o = results.options;

  out.push(
    `## Bastion benchmark: ${results.options.mode} run, ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
  );
  out.push('');
  out.push(
    `Machine: ${machineLine(results.machine)}; load average at start ${results.machine.loadAverage.join(' / ')}.`,
  );
  out.push(`Peer proxy: ${results.peer.name} ${results.peer.version} (${results.peer.mode}).`);
  out.push('');

  out.push(
    `### Sequential latency (${o.sequentialCalls} calls on one session after ${o.warmupCalls} warm-up calls)`,
  );
  out.push('');
  out.push(
    table(
      ['path', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'p50 added over (a)', 'hop CPU ms/call¹', 'errors'],
      okPaths
        .filter((p) => p.sequential)
        .map((p) => {
          const s = p.sequential;
          const added =
            direct?.sequential && s && p.id !== 'direct' && p.id !== 'bare'
              ? signed(s.latency.p50Ms - direct.sequential.latency.p50Ms)
              : '–';
          return [
            title(p),
            ms(s?.latency.p50Ms),
            ms(s?.latency.p90Ms),
            ms(s?.latency.p99Ms),
            ms(s?.latency.maxMs),
            added,
            s?.hopCpuMsPerCall === undefined ? '–' : s.hopCpuMsPerCall.toFixed(3),
            String(s?.errors ?? 0),
          ];
        }),
    ),
  );
  out.push('');
  out.push(
    "¹ CPU time of the path's hop process per call: the gateway, the peer proxy or the bare echo server; for (a), the echo upstream itself.",
  );
  out.push('');
  const gatewayAllow = results.paths.find((p) => p.id === 'gateway-allow' && p.status === 'ok');
  if (direct?.sequential && gatewayAllow?.sequential && bare?.sequential) {
    const added = gatewayAllow.sequential.latency.p50Ms - direct.sequential.latency.p50Ms;
    out.push(
      `The gateway adds ${signed(added)} ms at p50 over direct ((b) − (a)); one bare HTTP hop (e) costs ${ms(bare.sequential.latency.p50Ms)} ms.`,
    );
    out.push('');
  }

  const levels = [...o.concurrency].sort((x, y) => x - y);
  if (levels.length > 0) {
    out.push(
      `### Throughput (closed loop, each level ${o.levelDurationMs / 1000} s or ${o.levelMaxCalls} calls; calls/s, then p50 / p99 ms)`,
    );
    out.push('');
    const cell = (p: PathResult, c: number, f: (l: PathResult['levels'][number]) => string) => {
      const level = p.levels.find((l) => l.concurrency === c);
      return level ? f(level) : '–';
    };
    out.push(
      table(
        ['path', ...levels.map((c) => `${c} sessions`)],
        okPaths.map((p) => [
          title(p),
          ...levels.map((c) =>
            cell(
              p,
              c,
              (l) =>
                `${l.callsPerSecond} (${ms(l.latency.p50Ms)} / ${ms(l.latency.p99Ms)})${l.errors > 0 ? ` ${l.errors} err` : ''}`,
            ),
          ),
        ]),
      ),
    );
    out.push('');
    out.push('### Hop process at each level (CPU % of one core, peak RSS MiB)');
    out.push('');
    out.push(
      table(
        ['path', 'hop process', ...levels.map((c) => `${c} sessions`)],
        okPaths.map((p) => [
          title(p),
          p.hopProcess ?? 'echo upstream',
          ...levels.map((c) =>
            cell(p, c, (l) =>
              l.hop ? `${l.hop.cpuPercent} % / ${(l.hop.rssPeakBytes / MIB).toFixed(0)}` : '–',
            ),
          ),
        ]),
        2,
      ),
    );
    out.push('');
  }

  const idle = okPaths.filter((p) => p.idle);
  if (idle.length > 0) {
    out.push(`### Memory per idle session (${o.idleSessions} sessions opened and held)`);
    out.push('');
    out.push(
      table(
        ['path', 'hop RSS before MiB', 'after MiB', 'hop KiB/session', 'upstream KiB/session'],
        idle.map((p) => {
          const i = p.idle;
          return [
            title(p),
            i ? (i.hopRssBeforeBytes / MIB).toFixed(1) : '–',
            i ? (i.hopRssAfterBytes / MIB).toFixed(1) : '–',
            i ? (i.hopBytesPerSession / 1024).toFixed(1) : '–',
            i?.upstreamBytesPerSession === undefined ? '–' : (i.upstreamBytesPerSession / 1024).toFixed(1),
          ];
        }),
      ),
    );
    out.push('');
  }

  const engine = results.engine;
  if (engine) {
    out.push('### Policy engine alone (in-process)');
    out.push('');
    if (engine.status === 'ok') {
      out.push(
        table(
          ['what is timed', 'tools', 'grants', 'decisions', 'decisions/s', 'µs/decision'],
          [
            [
              'pipeline (grant known)',
              String(engine.tools),
              String(engine.grants),
              String(engine.decisions),
              String(engine.decisionsPerSecond ?? '–'),
              engine.nsPerDecision === undefined ? '–' : (engine.nsPerDecision / 1000).toFixed(2),
            ],
            ...(engine.withAuthentication
              ? [
                  [
                    'token lookup + pipeline',
                    String(engine.tools),
                    String(engine.grants),
                    String(engine.withAuthentication.decisions),
                    String(engine.withAuthentication.decisionsPerSecond),
                    (engine.withAuthentication.nsPerDecision / 1000).toFixed(2),
                  ],
                ]
              : []),
          ],
          1,
        ),
      );
      if (engine.workload) out.push('', engine.workload);
    } else out.push(`${engine.status}: ${engine.reason ?? ''}`);
    out.push('');
  }

  for (const summary of results.profileSummaries ?? []) out.push(renderProfileMarkdown(summary));

  const notOk = results.paths.filter((p) => p.status !== 'ok');
  const notes = [
    ...results.paths.map((p) => `(${p.letter}) ${p.label}: ${p.description}`),
    ...notOk.map((p) => `(${p.letter}) ${p.label} ${p.status}: ${p.reason ?? ''}`),
    ...results.notes,
  ];
  out.push('Notes:');
  for (const note of notes) out.push(`- ${note}`);
  out.push('');
  return out.join('\n');
}

// --- SVG -------------------------------------------------------------------------------------

const COLOURS: Record<string, string> = {
  direct: '#1f77b4',
  'gateway-allow': '#d62728',
  'gateway-policy': '#ff7f0e',
  peer: '#2ca02c',
  bare: '#7f7f7f',
};

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** 1-2-5 ticks covering [lo, hi] on a log scale. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(Number(t.toPrecision(3)));
    }
  }
  return ticks;
}

export function renderSvg(results: BenchResults): string {
  const width = 1010;
  const panelHeight = 380;
  const margin = { left: 70, right: 290, top: 50, bottom: 55 };
  const plotW = width - margin.left - margin.right;
  const plotH = panelHeight - margin.top - margin.bottom;
  const height = 2 * panelHeight + 20;
  const parts: string[] = [];
  const withSeq = results.paths.filter(
    (p) => p.status === 'ok' && p.sequential && p.sequential.distribution.length > 0,
  );

  // Panel 1: latency by percentile, x = log10(1 / (1 - p)), y = log latency.
  const all = withSeq.flatMap((p) => p.sequential?.distribution ?? []);
  const maxDecades = Math.max(1, ...withSeq.map((p) => Math.log10(p.sequential?.latency.count ?? 10)));
  const xMaxPoint = maxDecades + 0.3;
  const yLo = Math.max(0.001, Math.min(...all.map((d) => d.ms)) * 0.8);
  const yHi = Math.max(yLo * 10, Math.max(...all.map((d) => d.ms)) * 1.2);
  const x1 = (decades: number) => margin.left + (decades / xMaxPoint) * plotW;
  const y1 = (v: number) =>
    margin.top +
    plotH -
    ((Math.log10(Math.max(v, yLo)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * plotH;
  parts.push(
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Sequential call latency by percentile (${esc(results.options.mode)} run)</text>`,
  );
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  );
  for (const t of logTicks(yLo, yHi)) {
    const y = y1(t).toFixed(1);
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${fmt(t)}</text>`,
    );
  }
  const xTicks: Array<[number, string]> = [
    [0, '0%'],
    [1, '90%'],
    [2, '99%'],
    [3, '99.9%'],
    [4, '99.99%'],
    [5, '99.999%'],
  ];
  for (const [d, label] of [
    ...xTicks.filter(([d]) => d <= maxDecades),
    [xMaxPoint, 'max'] as [number, string],
  ]) {
    const x = x1(d).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#eee"/>`);
    parts.push(
      `<text x="${x}" y="${margin.top + plotH + 16}" text-anchor="middle" font-size="11">${label}</text>`,
    );
  }
  parts.push(
    `<text x="${margin.left + plotW / 2}" y="${margin.top + plotH + 38}" text-anchor="middle" font-size="12">percentile</text>`,
  );
  parts.push(
    `<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">latency, ms (log scale)</text>`,
  );
  withSeq.forEach((p, i) => {
    const colour = COLOURS[p.id] ?? '#000';
    const points = (p.sequential?.distribution ?? [])
      .map((d) => {
        const decades = d.percentile >= 100 ? xMaxPoint : Math.log10(1 / (1 - d.percentile / 100));
        return `${x1(Math.min(decades, xMaxPoint)).toFixed(1)},${y1(d.ms).toFixed(1)}`;
      })
      .join(' ');
    parts.push(
      `<polyline data-path="${esc(p.id)}" fill="none" stroke="${colour}" stroke-width="2" points="${points}"/>`,
    );
    const ly = margin.top + 10 + i * 20;
    const lx = margin.left + plotW + 14;
    parts.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`,
    );
    parts.push(
      `<text x="${lx + 24}" y="${ly}" dominant-baseline="middle" font-size="11">${esc(`(${p.letter}) ${p.label}: p50 ${ms(p.sequential?.latency.p50Ms)} ms`)}</text>`,
    );
  });

  // Panel 2: throughput per concurrency level, grouped bars.
  const top = panelHeight;
  const levels = [...results.options.concurrency].sort((a, b) => a - b);
  const withLevels = results.paths.filter((p) => p.status === 'ok' && p.levels.length > 0);
  // The scale is set by the MCP paths; the bare hop, many times faster, is cut at the top and labelled.
  const scaled = withLevels.filter((p) => p.id !== 'bare');
  const maxRate = Math.max(
    1,
    ...(scaled.length > 0 ? scaled : withLevels).flatMap((p) => p.levels.map((l) => l.callsPerSecond)),
  );
  const yMax = niceCeil(maxRate * 1.1);
  const y2 = (v: number) => top + margin.top + plotH - (v / yMax) * plotH;
  parts.push(
    `<text x="${width / 2}" y="${top + 24}" text-anchor="middle" font-size="16" font-weight="bold">Throughput by concurrent sessions (calls/s)</text>`,
  );
  parts.push(
    `<rect x="${margin.left}" y="${top + margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  );
  for (let k = 0; k <= 5; k++) {
    const v = (yMax * k) / 5;
    const y = y2(v).toFixed(1);
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${fmt(v)}</text>`,
    );
  }
  const groupW = plotW / Math.max(1, levels.length);
  const barW = (groupW * 0.8) / Math.max(1, withLevels.length);
  levels.forEach((c, g) => {
    const gx = margin.left + g * groupW;
    parts.push(
      `<text x="${(gx + groupW / 2).toFixed(1)}" y="${top + margin.top + plotH + 16}" text-anchor="middle" font-size="11">${c}</text>`,
    );
    withLevels.forEach((p, i) => {
      const level = p.levels.find((l) => l.concurrency === c);
      if (!level) return;
      const x = gx + groupW * 0.1 + i * barW;
      const clipped = level.callsPerSecond > yMax;
      const y = y2(Math.min(level.callsPerSecond, yMax));
      parts.push(
        `<rect data-path="${esc(p.id)}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW * 0.9).toFixed(1)}" height="${(top + margin.top + plotH - y).toFixed(1)}" fill="${COLOURS[p.id] ?? '#000'}"><title>${esc(`(${p.letter}) ${p.label}, ${c} sessions: ${level.callsPerSecond} calls/s`)}</title></rect>`,
      );
      if (clipped) {
        // Cut at the top of the scale: the figure is written along the bar.
        const tx = (x + barW * 0.45).toFixed(1);
        const ty = (y + 6).toFixed(1);
        parts.push(
          `<text x="${tx}" y="${ty}" text-anchor="end" dominant-baseline="middle" font-size="10" fill="#fff" transform="rotate(-90 ${tx} ${ty})">${level.callsPerSecond} ↑</text>`,
        );
      }
    });
  });
  parts.push(
    `<text x="${margin.left + plotW / 2}" y="${top + margin.top + plotH + 38}" text-anchor="middle" font-size="12">concurrent sessions</text>`,
  );
  withLevels.forEach((p, i) => {
    const ly = top + margin.top + 10 + i * 20;
    const lx = margin.left + plotW + 14;
    parts.push(`<rect x="${lx}" y="${ly - 6}" width="18" height="12" fill="${COLOURS[p.id] ?? '#000'}"/>`);
    parts.push(
      `<text x="${lx + 24}" y="${ly}" dominant-baseline="middle" font-size="11">${esc(`(${p.letter}) ${p.label}`)}</text>`,
    );
  });
  parts.push(
    `<text x="${margin.left}" y="${height - 8}" font-size="10" fill="#555">${esc(machineLine(results.machine))}</text>`,
  );

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function niceCeil(v: number): number {
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
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
