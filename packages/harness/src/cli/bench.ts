/**
 * `bastion bench`: the gateway benchmark, and `bastion bench-server` (hidden), which runs one of the
 * benchmark's own servers (the echo upstream, the plain proxy hop, the peer proxy) as the child
 * process the benchmark measures.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import {
  type BenchOptions,
  ERAS,
  type Era,
  FULL_OPTIONS,
  PATH_IDS,
  type PathId,
  QUICK_OPTIONS,
} from '../bench/options.js';
import { BenchProcesses } from '../bench/processes.js';
import type { RunningServer } from '../bench/servers/echo-upstream.js';
import { HARNESS_ROOT } from '../suites/paths.js';
import type { CliContext } from './context.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

function intList(value: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InvalidArgumentError('expected a comma-separated list of whole numbers >= 1');
  }
  return list;
}

function pathList(value: string): PathId[] {
  const list = value.split(',').map((v) => v.trim());
  for (const id of list) {
    if (!PATH_IDS.includes(id as PathId)) {
      throw new InvalidArgumentError(`unknown path '${id}' (known: ${PATH_IDS.join(', ')})`);
    }
  }
  return list as PathId[];
}

function eraList(value: string): Era[] {
  const list = value.split(',').map((v) => v.trim());
  for (const era of list) {
    if (!ERAS.includes(era as Era))
      throw new InvalidArgumentError(`unknown era '${era}' (known: ${ERAS.join(', ')})`);
  }
  return list as Era[];
}

/** The repository root (where pnpm-workspace.yaml is), so results land there from any cwd. */
export function findRepoRoot(from: string = HARNESS_ROOT): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(from);
    dir = parent;
  }
}

interface BenchFlags {
  quick?: boolean;
  out?: string;
  paths?: PathId[];
  eras?: Era[];
  warmup?: number;
  calls?: number;
  concurrency?: number[];
  duration?: number;
  maxCalls?: number;
  idleSessions?: number;
  agents?: number;
  engineDecisions?: number;
  profile?: boolean | string;
}

export function resolveBenchOptions(flags: BenchFlags, outDir: string, cwd: string): BenchOptions {
  const preset = flags.quick ? QUICK_OPTIONS : FULL_OPTIONS;
  const options: BenchOptions = {
    ...preset,
    paths: [...preset.paths],
    eras: [...preset.eras],
    concurrency: [...preset.concurrency],
  };
  const custom = (key: keyof BenchFlags) => flags[key] !== undefined;
  if (flags.paths) options.paths = flags.paths;
  if (flags.eras) options.eras = flags.eras;
  if (flags.warmup !== undefined) options.warmupCalls = flags.warmup;
  if (flags.calls !== undefined) options.sequentialCalls = flags.calls;
  if (flags.concurrency) options.concurrency = flags.concurrency;
  if (flags.duration !== undefined) options.levelDurationMs = flags.duration;
  if (flags.maxCalls !== undefined) options.levelMaxCalls = flags.maxCalls;
  if (flags.idleSessions !== undefined) options.idleSessions = flags.idleSessions;
  if (flags.agents !== undefined) options.statelessAgents = flags.agents;
  if (flags.engineDecisions !== undefined) options.engineDecisions = flags.engineDecisions;
  if (flags.profile) {
    options.profileDir =
      typeof flags.profile === 'string' ? resolve(cwd, flags.profile) : join(outDir, 'profiles');
  }
  const tuned: Array<keyof BenchFlags> = [
    'paths',
    'eras',
    'warmup',
    'calls',
    'concurrency',
    'duration',
    'maxCalls',
    'idleSessions',
    'agents',
    'engineDecisions',
  ];
  if (tuned.some(custom)) options.mode = 'custom';
  return options;
}

export function benchCommand(ctx: CliContext): Command {
  return new Command('bench')
    .description(
      'Measure what the gateway costs: an echo tool called directly, through the gateway (allow-all and a realistic policy), through a peer proxy and through a plain proxy hop, in both protocol eras, with a load generator in a process of its own; plus the policy engine alone.',
    )
    .option('--quick', 'a short run (under a minute)')
    .option('--out <dir>', 'where to write the results (default: <repo>/bench-results)')
    .option('--paths <list>', `paths to measure, comma-separated (${PATH_IDS.join(',')})`, pathList)
    .option('--eras <list>', `protocol eras to measure, comma-separated (${ERAS.join(',')})`, eraList)
    .option('--warmup <n>', 'warm-up calls per session before measuring', positiveInt)
    .option('--calls <n>', 'sequential calls measured per path', positiveInt)
    .option('--concurrency <list>', 'concurrent sessions per throughput level, e.g. 1,8,32,128', intList)
    .option('--duration <ms>', 'length of each throughput level', positiveInt)
    .option('--max-calls <n>', 'call cap of each throughput level', positiveInt)
    .option(
      '--idle-sessions <n>',
      'idle 2025-era sessions the memory ladder climbs to (0: skip)',
      positiveInt,
    )
    .option('--agents <n>', 'distinct 2026-era agents for memory per agent (0: skip)', positiveInt)
    .option('--engine-decisions <n>', 'decisions timed in the policy engine benchmark (0: skip)', positiveInt)
    .addOption(
      new Option(
        '--profile [dir]',
        'write a V8 CPU profile of each gateway process (default: <out>/profiles)',
      ),
    )
    .action(async (flags: BenchFlags) => {
      const { runBench } = await import('../bench/run.js');
      const { renderMarkdown, writeReports } = await import('../bench/report.js');
      const outDir = flags.out ? resolve(ctx.cwd, flags.out) : join(findRepoRoot(), 'bench-results');
      const options = resolveBenchOptions(flags, outDir, ctx.cwd);
      const processes = new BenchProcesses();
      ctx.onExit(() => processes.killAllSync());
      const t0 = performance.now();
      const progress = (line: string) =>
        ctx.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
      progress(`${options.mode} run: paths ${options.paths.join(', ')}; results in ${outDir}`);
      const results = await runBench(options, { signal: ctx.signal, progress, processes });
      const written = await writeReports(results, outDir);
      ctx.stdout.write(renderMarkdown(results));
      progress(
        `wrote ${written.json}, ${written.markdown}, ${written.svg} (${(results.durationMs / 1000).toFixed(1)} s)`,
      );
      const failed = results.paths.filter((p) => p.status === 'failed');
      if (failed.length > 0 || results.engine?.status === 'failed') {
        progress(
          `failed: ${[...failed.map((p) => p.id), ...(results.engine?.status === 'failed' ? ['engine'] : [])].join(', ')}`,
        );
        ctx.setExitCode(1);
      }
    });
}

const BENCH_SERVERS = ['echo-upstream', 'proxy-hop', 'peer-mcp-proxy'] as const;

export function benchServerCommand(ctx: CliContext): Command {
  return new Command('bench-server')
    .description("run one of the benchmark's servers (started by `bastion bench` as a child process)")
    .argument('<kind>', BENCH_SERVERS.join(' | '))
    .requiredOption('--port <n>', 'port on 127.0.0.1', positiveInt)
    .option('--upstream <url>', 'upstream MCP URL (proxy-hop, peer-mcp-proxy)')
    .action(async (kind: string, flags: { port: number; upstream?: string }) => {
      const logger = pino({ name: `bench-${kind}`, level: 'warn' }, pino.destination(2));
      let server: RunningServer;
      // Each server loads only its own modules, so that a process's memory is its server's.
      if (kind === 'echo-upstream') {
        const { startEchoUpstream } = await import('../bench/servers/echo-upstream.js');
        server = await startEchoUpstream({ port: flags.port, logger });
      } else if (kind === 'proxy-hop') {
        if (!flags.upstream) throw new InvalidArgumentError('proxy-hop needs --upstream <url>');
        const { startProxyHop } = await import('../bench/servers/proxy-hop.js');
        server = await startProxyHop({ port: flags.port, upstreamUrl: flags.upstream });
      } else if (kind === 'peer-mcp-proxy') {
        if (!flags.upstream) throw new InvalidArgumentError('peer-mcp-proxy needs --upstream <url>');
        const { startPeerMcpProxy } = await import('../bench/servers/peer-mcp-proxy.js');
        server = await startPeerMcpProxy({ port: flags.port, upstreamUrl: flags.upstream });
      } else
        throw new InvalidArgumentError(`unknown bench server '${kind}' (known: ${BENCH_SERVERS.join(', ')})`);
      // A child whose benchmark died without stopping it must not outlive it: watch the parent.
      const parent = process.ppid;
      await new Promise<void>((resolveWait) => {
        const timer = setInterval(() => {
          if (process.ppid !== parent) done();
        }, 1000);
        const done = () => {
          clearInterval(timer);
          resolveWait();
        };
        if (ctx.signal.aborted) done();
        ctx.signal.addEventListener('abort', done, { once: true });
      });
      await server.close();
    });
}
