/**
 * `pnpm bench:replicas`: the two figures issue 11 asks of several gateways, on the process tier
 * (bastion-mqtt over HTTP as the upstream, `mqttStatus` as the call, real redis-server):
 *   1. throughput of 2 replicas against 1: 2026-era calls kept `concurrency` in flight for
 *      `seconds`, sent to one replica, then round robin over two (both sharing Redis);
 *   2. a limited call's p50 with the counters in Redis against the in-memory store: sequential
 *      calls to one gateway with each store, on a global limit too high to deny.
 * Run apart from `pnpm bench` (whose paths another module owns); prints a Markdown table.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RawMcpAgent } from '../replicas/raw-agent.js';
import {
  type McpServerProcess,
  startGatewayProcess,
  startMqttServerProcess,
} from '../targets/mcp-process.js';
import { redisProcessProvider } from '../targets/redis/index.js';
import {
  OPEN_SERVER,
  OUTAGE_SERVER,
  replicasGatewayConfig,
  SCENARIO_TOOL,
  scenarioGrant,
} from '../targets/replicas/index.js';
import { makeTempDirSync } from '../targets/run-scope.js';
import { LatencyRecorder } from './histogram.js';
import { describeMachine, machineLine } from './machine.js';

export interface ReplicasBenchOptions {
  seconds: number;
  concurrency: number;
  sequentialCalls: number;
}

export interface ReplicasBenchResult {
  throughput: { one: number; two: number; ratio: number };
  /** A 2025-era session's first call on a replica that did not open it (taken over) and its next. */
  takeOverP50Ms: { first: number; next: number; sessions: number };
  limitedP50Ms: { memory: number; redis: number; addedMs: number };
  unlimitedP50Ms: { memory: number; redis: number };
}

/** Calls per second with `concurrency` calls kept in flight for `seconds`. */
async function throughput(agent: RawMcpAgent, server: string, seconds: number, concurrency: number) {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < end) {
      const outcome = await agent.modernCall(SCENARIO_TOOL);
      if (outcome.kind !== 'admitted')
        throw new Error(`${server}: a call was not admitted (${outcome.code})`);
      done++;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((Date.now() - started) / 1000);
}

/** Sessions opened on replica 0, each then called twice on replica 1: the take-over, then local. */
async function takeOver(agent: RawMcpAgent, sessions: number) {
  const first = new LatencyRecorder();
  const next = new LatencyRecorder();
  for (let i = 0; i < sessions; i++) {
    const session = await agent.openSession(0);
    for (const recorder of [first, next]) {
      const t0 = performance.now();
      const outcome = await session.call(SCENARIO_TOOL, {}, 1);
      recorder.record(performance.now() - t0);
      if (outcome.kind !== 'admitted') throw new Error(`a session call was not admitted (${outcome.code})`);
    }
    await session.end(1);
  }
  return { first: first.summary().p50Ms, next: next.summary().p50Ms, sessions };
}

async function p50(agent: RawMcpAgent, calls: number): Promise<number> {
  const recorder = new LatencyRecorder();
  for (let i = 0; i < 50; i++) await agent.modernCall(SCENARIO_TOOL); // warm-up
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const outcome = await agent.modernCall(SCENARIO_TOOL);
    recorder.record(performance.now() - t0);
    if (outcome.kind !== 'admitted') throw new Error(`a measured call was not admitted (${outcome.code})`);
  }
  return recorder.summary().p50Ms;
}

export async function runReplicasBench(options: ReplicasBenchOptions): Promise<ReplicasBenchResult> {
  const dir = makeTempDirSync('bench-replicas-');
  const redis = await redisProcessProvider.start();
  const owned: Array<{ stop(): Promise<void> }> = [redis];
  const agents: RawMcpAgent[] = [];
  const agent = (bases: string[], server: string, token: string) => {
    const a = new RawMcpAgent({ bases, server, token });
    agents.push(a);
    return a;
  };
  try {
    const mqtt = await startMqttServerProcess();
    owned.push(mqtt);
    const { token, tokenSha256 } = scenarioGrant();
    const configFile = join(dir, 'gateway.json');
    // No audit log: the figures are of the counters and the replicas, not of disk writes.
    const config = replicasGatewayConfig(`${mqtt.url}/mcp`, tokenSha256, './audit/gateway.jsonl');
    await writeFile(configFile, JSON.stringify({ ...config, audit: undefined }));
    const start = async (env: NodeJS.ProcessEnv): Promise<McpServerProcess> => {
      const g = await startGatewayProcess(configFile, ['--host', '127.0.0.1'], {
        ...process.env,
        ...env,
      });
      owned.push(g);
      return g;
    };
    const shared = { BASTION_REDIS_URL: redis.url };
    const [a, b] = [
      await start({ ...shared, BASTION_REPLICA_ID: 'gw-1' }),
      await start({ ...shared, BASTION_REPLICA_ID: 'gw-2' }),
    ];
    const memory = await start({});
    const one = await throughput(
      agent([a.url], OPEN_SERVER, token),
      OPEN_SERVER,
      options.seconds,
      options.concurrency,
    );
    const two = await throughput(
      agent([a.url, b.url], OPEN_SERVER, token),
      OPEN_SERVER,
      options.seconds,
      options.concurrency,
    );
    const takeOverP50Ms = await takeOver(
      agent([a.url, b.url], OPEN_SERVER, token),
      Math.max(20, Math.round(options.sequentialCalls / 10)),
    );
    const redisLimited = await p50(agent([a.url], OUTAGE_SERVER, token), options.sequentialCalls);
    const memoryLimited = await p50(agent([memory.url], OUTAGE_SERVER, token), options.sequentialCalls);
    const redisOpen = await p50(agent([a.url], OPEN_SERVER, token), options.sequentialCalls);
    const memoryOpen = await p50(agent([memory.url], OPEN_SERVER, token), options.sequentialCalls);
    return {
      throughput: { one, two, ratio: two / one },
      takeOverP50Ms,
      limitedP50Ms: { memory: memoryLimited, redis: redisLimited, addedMs: redisLimited - memoryLimited },
      unlimitedP50Ms: { memory: memoryOpen, redis: redisOpen },
    };
  } finally {
    for (const a of agents) a.close();
    for (const o of owned.reverse()) await o.stop().catch(() => undefined);
  }
}

export function replicasBenchTable(r: ReplicasBenchResult, options: ReplicasBenchOptions): string {
  const f = (n: number, d = 2) => n.toFixed(d);
  return [
    `Replicas bench (${machineLine(describeMachine())}; ${options.concurrency} calls in flight for ${options.seconds} s; ${options.sequentialCalls} sequential calls per p50)`,
    '',
    '| figure | value | target |',
    '|---|---:|---:|',
    `| calls/s, 1 replica | ${f(r.throughput.one, 0)} | |`,
    `| calls/s, 2 replicas (round robin, shared Redis) | ${f(r.throughput.two, 0)} | |`,
    `| 2 replicas / 1 | ${f(r.throughput.ratio)}x | >= 1.8x |`,
    `| limited call p50, in-memory store | ${f(r.limitedP50Ms.memory, 3)} ms | |`,
    `| limited call p50, Redis store | ${f(r.limitedP50Ms.redis, 3)} ms | |`,
    `| added by Redis | ${f(r.limitedP50Ms.addedMs, 3)} ms | <= 0.2 ms |`,
    `| 2025-era session, first call on another replica (taken over), p50 of ${r.takeOverP50Ms.sessions} | ${f(r.takeOverP50Ms.first, 3)} ms | |`,
    `| the same session's next call there, p50 | ${f(r.takeOverP50Ms.next, 3)} ms | |`,
    `| unlimited call p50, memory / Redis gateway | ${f(r.unlimitedP50Ms.memory, 3)} / ${f(r.unlimitedP50Ms.redis, 3)} ms | |`,
  ].join('\n');
}
