/**
 * The run as an SVG chart, drawn by hand (no browser, no chart library): latency by percentile per
 * path and era, throughput per concurrency level, and memory per idle session up the ladder.
 * Colour is the path; the 2026 era is dashed (lines) or lighter (bars); a bar where the load
 * generator was the limit carries ⚠.
 */
import { machineLine } from './machine.js';
import type { BenchResults, EraResult, PathResult } from './results.js';

const COLOURS: Record<string, string> = {
  direct: '#1f77b4',
  'gateway-allow': '#d62728',
  'gateway-policy': '#ff7f0e',
  peer: '#2ca02c',
  'proxy-hop': '#7f7f7f',
};

const WIDTH = 1060;
const PANEL_HEIGHT = 380;
const MARGIN = { left: 70, right: 340, top: 50, bottom: 55 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 2 : 1);
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

function niceCeil(v: number): number {
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

interface Route {
  path: PathResult;
  era: EraResult;
  key: string;
  label: string;
  colour: string;
  modern: boolean;
}

function routesOf(results: BenchResults): Route[] {
  return results.paths.flatMap((path) =>
    path.eras
      .filter((era) => era.status === 'ok')
      .map((era) => ({
        path,
        era,
        key: `${path.id}/${era.era}`,
        label: `(${path.letter}) ${path.label} · ${era.era}`,
        colour: COLOURS[path.id] ?? '#000',
        modern: era.era === '2026-07-28',
      })),
  );
}

/** A panel's frame, title, and axis labels; returns where its plot area starts. */
function frame(parts: string[], top: number, heading: string, xLabel: string, yLabel: string): number {
  const y0 = top + MARGIN.top;
  parts.push(
    `<text x="${WIDTH / 2}" y="${top + 24}" text-anchor="middle" font-size="16" font-weight="bold">${esc(heading)}</text>`,
    `<rect x="${MARGIN.left}" y="${y0}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#999"/>`,
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${y0 + PLOT_H + 38}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`,
    `<text transform="translate(18 ${y0 + PLOT_H / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`,
  );
  return y0;
}

function gridY(parts: string[], y: number, label: string) {
  parts.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/>`,
    `<text x="${MARGIN.left - 6}" y="${y.toFixed(1)}" text-anchor="end" dominant-baseline="middle" font-size="11">${label}</text>`,
  );
}

function gridX(parts: string[], x: number, y0: number, label: string) {
  parts.push(
    `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${y0}" y2="${y0 + PLOT_H}" stroke="#eee"/>`,
    `<text x="${x.toFixed(1)}" y="${y0 + PLOT_H + 16}" text-anchor="middle" font-size="11">${label}</text>`,
  );
}

function legend(
  parts: string[],
  y0: number,
  entries: Array<{ label: string; colour: string; modern: boolean }>,
  bars: boolean,
) {
  const lx = MARGIN.left + PLOT_W + 14;
  entries.forEach((entry, i) => {
    const ly = y0 + 8 + i * 17;
    if (bars) {
      parts.push(
        `<rect x="${lx}" y="${ly - 6}" width="18" height="12" fill="${entry.colour}" fill-opacity="${entry.modern ? 0.45 : 1}" stroke="${entry.colour}"/>`,
      );
    } else {
      parts.push(
        `<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${entry.colour}" stroke-width="3"${entry.modern ? ' stroke-dasharray="5 3"' : ''}/>`,
      );
    }
    parts.push(
      `<text x="${lx + 24}" y="${ly}" dominant-baseline="middle" font-size="11">${esc(entry.label)}</text>`,
    );
  });
}

function latencyPanel(parts: string[], results: BenchResults, routes: Route[], top: number) {
  const withSeq = routes.filter((r) => (r.era.sequential?.distribution.length ?? 0) > 0);
  const y0 = frame(
    parts,
    top,
    `Sequential call latency by percentile (${results.options.mode} run)`,
    'percentile',
    'latency, ms (log scale)',
  );
  const all = withSeq.flatMap((r) => r.era.sequential?.distribution ?? []);
  if (all.length === 0) return;
  const decadesMax = Math.max(
    1,
    ...withSeq.map((r) => Math.log10(Math.max(10, r.era.sequential?.latency.count ?? 10))),
  );
  const xMax = decadesMax + 0.3;
  const lo = Math.max(0.001, Math.min(...all.map((d) => d.ms)) * 0.8);
  const hi = Math.max(lo * 10, Math.max(...all.map((d) => d.ms)) * 1.2);
  const x = (decades: number) => MARGIN.left + (Math.min(decades, xMax) / xMax) * PLOT_W;
  const y = (v: number) =>
    y0 +
    PLOT_H -
    ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT_H;
  for (const t of logTicks(lo, hi)) gridY(parts, y(t), fmt(t));
  const ticks: Array<[number, string]> = [
    [0, '0%'],
    [1, '90%'],
    [2, '99%'],
    [3, '99.9%'],
    [4, '99.99%'],
    [5, '99.999%'],
  ];
  for (const [d, label] of [...ticks.filter(([d]) => d <= decadesMax), [xMax, 'max'] as [number, string]])
    gridX(parts, x(d), y0, label);
  for (const r of withSeq) {
    const points = (r.era.sequential?.distribution ?? [])
      .map(
        (d) =>
          `${x(d.percentile >= 100 ? xMax : Math.log10(1 / (1 - d.percentile / 100))).toFixed(1)},${y(d.ms).toFixed(1)}`,
      )
      .join(' ');
    parts.push(
      `<polyline data-route="${esc(r.key)}" fill="none" stroke="${r.colour}" stroke-width="2"${r.modern ? ' stroke-dasharray="6 3"' : ''} points="${points}"/>`,
    );
  }
  legend(
    parts,
    y0,
    withSeq.map((r) => ({ ...r, label: `${r.label}: p50 ${fmt(r.era.sequential?.latency.p50Ms ?? 0)} ms` })),
    false,
  );
}

function throughputPanel(parts: string[], results: BenchResults, routes: Route[], top: number) {
  const y0 = frame(
    parts,
    top,
    'Throughput by concurrent sessions (calls/s)',
    'concurrent sessions (2025) or agents (2026)',
    'calls/s',
  );
  const levels = [...results.options.concurrency].sort((a, b) => a - b);
  const withLevels = routes.filter((r) => r.era.levels.length > 0);
  const yMax = niceCeil(
    Math.max(1, ...withLevels.flatMap((r) => r.era.levels.map((l) => l.callsPerSecond))) * 1.1,
  );
  const y = (v: number) => y0 + PLOT_H - (v / yMax) * PLOT_H;
  for (let k = 0; k <= 5; k++) gridY(parts, y((yMax * k) / 5), fmt((yMax * k) / 5));
  const groupW = PLOT_W / Math.max(1, levels.length);
  const barW = (groupW * 0.84) / Math.max(1, withLevels.length);
  levels.forEach((c, g) => {
    const gx = MARGIN.left + g * groupW;
    parts.push(
      `<text x="${(gx + groupW / 2).toFixed(1)}" y="${y0 + PLOT_H + 16}" text-anchor="middle" font-size="11">${c}</text>`,
    );
    withLevels.forEach((r, i) => {
      const level = r.era.levels.find((l) => l.concurrency === c);
      if (!level) return;
      const bx = gx + groupW * 0.08 + i * barW;
      const by = y(level.callsPerSecond);
      const note = level.generatorLimited ? ' (load generator at its limit: invalid)' : '';
      parts.push(
        `<rect data-route="${esc(r.key)}" x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barW * 0.9).toFixed(1)}" height="${(y0 + PLOT_H - by).toFixed(1)}" fill="${r.colour}" fill-opacity="${r.modern ? 0.45 : 1}" stroke="${r.colour}"><title>${esc(`${r.label}, ${c} sessions: ${level.callsPerSecond} calls/s${note}`)}</title></rect>`,
      );
      if (level.generatorLimited) {
        parts.push(
          `<text x="${(bx + barW * 0.45).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle" font-size="10">⚠</text>`,
        );
      }
    });
  });
  legend(parts, y0, withLevels, true);
}

function idlePanel(parts: string[], results: BenchResults, top: number) {
  const lines = results.paths.flatMap((path) => {
    const idle = path.eras.find((e) => e.era === '2025-11-25')?.idle;
    return idle && idle.rungs.length > 0 ? [{ path, idle, colour: COLOURS[path.id] ?? '#000' }] : [];
  });
  const y0 = frame(
    parts,
    top,
    'Memory per idle 2025-era session (hop process RSS)',
    'sessions open (log scale)',
    'KiB per session',
  );
  if (lines.length === 0) return;
  const rungs = lines.flatMap((l) => l.idle.rungs);
  const xLo = Math.min(...rungs.map((r) => r.sessions)) / 1.5;
  const xHi = Math.max(...rungs.map((r) => r.sessions)) * 1.5;
  const yMax = niceCeil(Math.max(1, ...rungs.map((r) => r.hopBytesPerSession / 1024)) * 1.1);
  const x = (n: number) =>
    MARGIN.left + ((Math.log10(n) - Math.log10(xLo)) / (Math.log10(xHi) - Math.log10(xLo))) * PLOT_W;
  const y = (v: number) => y0 + PLOT_H - (Math.max(0, v) / yMax) * PLOT_H;
  for (let k = 0; k <= 5; k++) gridY(parts, y((yMax * k) / 5), fmt((yMax * k) / 5));
  for (const t of logTicks(xLo, xHi).filter((t) =>
    [1, 10].includes(Number(t.toPrecision(1)) / 10 ** Math.floor(Math.log10(t))),
  )) {
    gridX(parts, x(t), y0, t >= 1000 ? `${t / 1000}k` : String(t));
  }
  // The target of issue 10: 20 KiB per session.
  if (20 <= yMax) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${y(20).toFixed(1)}" y2="${y(20).toFixed(1)}" stroke="#000" stroke-dasharray="2 4"/>`,
      `<text x="${MARGIN.left + 4}" y="${(y(20) - 5).toFixed(1)}" font-size="10">target: 20 KiB</text>`,
    );
  }
  for (const l of lines) {
    const points = l.idle.rungs
      .map((r) => `${x(r.sessions).toFixed(1)},${y(r.hopBytesPerSession / 1024).toFixed(1)}`)
      .join(' ');
    parts.push(
      `<polyline data-route="${esc(l.path.id)}/idle" fill="none" stroke="${l.colour}" stroke-width="2" points="${points}"/>`,
    );
    for (const r of l.idle.rungs) {
      parts.push(
        `<circle cx="${x(r.sessions).toFixed(1)}" cy="${y(r.hopBytesPerSession / 1024).toFixed(1)}" r="3" fill="${l.colour}"/>`,
      );
    }
  }
  legend(
    parts,
    y0,
    lines.map((l) => ({
      label: `(${l.path.letter}) ${l.path.label}: ${l.idle.reached} sessions${l.idle.stoppedBy ? ' (stopped)' : ''}`,
      colour: l.colour,
      modern: false,
    })),
    false,
  );
}

export function renderSvg(results: BenchResults): string {
  const routes = routesOf(results);
  const parts: string[] = [];
  latencyPanel(parts, results, routes, 0);
  throughputPanel(parts, results, routes, PANEL_HEIGHT);
  idlePanel(parts, results, 2 * PANEL_HEIGHT);
  const height = 3 * PANEL_HEIGHT + 20;
  const started = `${results.startedAt.slice(0, 16).replace('T', ' ')} UTC`;
  const footer = `${machineLine(results.machine)}; load average ${results.machine.loadAverage[0] ?? '?'} at the start, ${started}`;
  parts.push(`<text x="${MARGIN.left}" y="${height - 8}" font-size="10" fill="#555">${esc(footer)}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" role="img">`,
    // The chart's text alternative (read by screen readers, shown as a tooltip).
    `<title>${esc(`Bastion benchmark, ${results.options.mode} run of ${started}: latency by percentile, throughput by concurrency and memory per idle session, for every path in each protocol era`)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
