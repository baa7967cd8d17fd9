/**
 * The load generator, in a process of its own (load-main.ts) so that its CPU is never charged to
 * the process under test and can be read apart from it. It takes jobs over the IPC channel (open
 * sessions, run calls one after another or in a closed loop, one call per agent, close), runs them
 * with the raw wire client (wire.ts) and answers with counts and encoded latency histograms.
 */
import { Client, type Dispatcher, Pool } from 'undici';
import type { z } from 'zod';
import type { LatencyRecorder } from './histogram.js';
import { closeSessions, mapLimited, openUpTo, runConcurrent, runSequential } from './load.js';
import {
  type agentsJobSchema,
  cancelSchema,
  type concurrentJobSchema,
  type LoadJob,
  type LoadReply,
  type LoadResults,
  type openJobSchema,
  READY,
  requestSchema,
  type sequentialJobSchema,
} from './load-protocol.js';
import type { Era } from './options.js';
import { type BenchSession, isEraRefusal, openWireSession, statelessAgent, type WireTarget } from './wire.js';

interface Group {
  era: Era;
  sessions: BenchSession[];
  /** Everything the group's connections live on, closed with the group. */
  dispatchers: Dispatcher[];
  /** The shared connections of each origin, when the group's sessions share connections. */
  pools: Map<string, Pool>;
}

/**
 * One request at a time per connection (as MCP clients do), and a stalled answer fails after 30 s
 * instead of undici's 5 minutes, so that no job outlasts its own time cap by much.
 */
const CONNECTION_OPTIONS = { pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 } as const;

function connection(origin: string): Client {
  return new Client(origin, CONNECTION_OPTIONS);
}

export class LoadWorker {
  private readonly groups = new Map<string, Group>();
  /** JSON-RPC ids keep growing for the life of the generator, so no session ever sees one twice. */
  private sequence = 1;

  /** The running job's signal: the generator's lifetime, or the job's own cancellation. */
  private signal: AbortSignal;

  constructor(private readonly lifetime: AbortSignal) {
    this.signal = lifetime;
  }

  async run(job: LoadJob, cancel?: AbortSignal): Promise<LoadResults[LoadJob['kind']]> {
    this.signal = cancel ? AbortSignal.any([this.lifetime, cancel]) : this.lifetime;
    try {
      return await this.dispatch(job);
    } finally {
      this.signal = this.lifetime;
    }
  }

  private async dispatch(job: LoadJob): Promise<LoadResults[LoadJob['kind']]> {
    switch (job.kind) {
      case 'open':
        return this.open(job);
      case 'sequential':
        return this.sequential(job);
      case 'concurrent':
        return this.concurrent(job);
      case 'agents':
        return this.agents(job);
      case 'probe':
        return this.probe(job.group);
      case 'close':
        return { closed: await this.close(job.group, job.forget === true) };
    }
  }

  private group(name: string): Group {
    const group = this.groups.get(name);
    if (group === undefined) throw new Error(`no session group '${name}'`);
    return group;
  }

  private async open(job: z.infer<typeof openJobSchema>): Promise<LoadResults['open']> {
    const origin = new URL(job.target.url).origin;
    let group = this.groups.get(job.group);
    if (group === undefined) {
      group = { era: job.era, sessions: [], dispatchers: [], pools: new Map() };
      this.groups.set(job.group, group);
    }
    if (group.era !== job.era) throw new Error(`group '${job.group}' holds ${group.era} sessions`);
    let pool = group.pools.get(origin);
    if (job.connections > 0 && pool === undefined) {
      pool = new Pool(origin, { ...CONNECTION_OPTIONS, connections: job.connections });
      group.pools.set(origin, pool);
      group.dispatchers.push(pool);
    }
    const owner = group;
    const shared = job.connections > 0 ? pool : undefined;
    const target: WireTarget = job.target;
    const opened = await openUpTo(
      async () => {
        if (shared) return openWireSession(shared, target, job.era);
        const client = connection(origin);
        owner.dispatchers.push(client);
        return openWireSession(client, target, job.era);
      },
      job.count,
      { parallelism: job.parallelism, signal: this.signal, maxMs: job.maxMs },
    );
    group.sessions.push(...opened.sessions);
    return {
      opened: opened.sessions.length,
      groupSize: group.sessions.length,
      calls: opened.sessions.length + (opened.firstError === undefined ? 0 : 1),
      errors: opened.firstError === undefined ? 0 : 1,
      ...(opened.firstError === undefined ? {} : { firstError: opened.firstError }),
      elapsedMs: opened.elapsedMs,
    };
  }

  private async sequential(job: z.infer<typeof sequentialJobSchema>): Promise<LoadResults['sequential']> {
    const session = this.group(job.group).sessions[0];
    if (session === undefined) throw new Error(`group '${job.group}' has no session`);
    const outcome = await runSequential(session, {
      warmup: job.warmup,
      calls: job.calls,
      maxMs: job.maxMs,
      signal: this.signal,
      firstSequence: this.sequence,
    });
    this.sequence = outcome.nextSequence;
    return callsResult(outcome);
  }

  private async concurrent(job: z.infer<typeof concurrentJobSchema>): Promise<LoadResults['concurrent']> {
    const sessions = this.group(job.group).sessions.slice(0, job.sessions);
    if (sessions.length < job.sessions) {
      throw new Error(`group '${job.group}' has ${sessions.length} sessions, ${job.sessions} wanted`);
    }
    const outcome = await runConcurrent(sessions, {
      durationMs: job.durationMs,
      maxCalls: job.maxCalls,
      signal: this.signal,
      firstSequence: this.sequence,
    });
    this.sequence = outcome.nextSequence;
    return callsResult(outcome);
  }

  /** One call for each agent, over a few shared connections: distinct identities, not distinct sockets. */
  private async agents(job: z.infer<typeof agentsJobSchema>): Promise<LoadResults['agents']> {
    const pools = new Map<string, Pool>();
    const poolFor = (url: string) => {
      const origin = new URL(url).origin;
      let pool = pools.get(origin);
      if (pool === undefined) {
        pool = new Pool(origin, { ...CONNECTION_OPTIONS, connections: job.connections });
        pools.set(origin, pool);
      }
      return pool;
    };
    const t0 = performance.now();
    let errors = 0;
    let firstError: string | undefined;
    try {
      await mapLimited(job.targets, job.parallelism, async (target) => {
        this.signal.throwIfAborted();
        try {
          await statelessAgent(poolFor(target.url), target).call(this.sequence++);
        } catch (err) {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      });
    } finally {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    }
    const elapsedMs = performance.now() - t0;
    return {
      calls: job.targets.length,
      errors,
      elapsedMs,
      ...(firstError === undefined ? {} : { firstError }),
    };
  }

  private async probe(name: string): Promise<LoadResults['probe']> {
    const session = this.group(name).sessions[0];
    if (session === undefined) throw new Error(`group '${name}' has no session`);
    try {
      await session.call(this.sequence++);
      return { ok: true, refused: false };
    } catch (err) {
      return {
        ok: false,
        refused: isEraRefusal(err),
        error: err instanceof Error ? err.message : String(err),
      };
    }
  }

  async close(name: string, forget = false): Promise<number> {
    const group = this.groups.get(name);
    if (group === undefined) return 0;
    this.groups.delete(name);
    if (!forget) await closeSessions(group.sessions, 32);
    await Promise.all(group.dispatchers.map((d) => d.destroy().catch(() => undefined)));
    return group.sessions.length;
  }

  async closeAll(): Promise<void> {
    for (const name of [...this.groups.keys()]) await this.close(name);
  }
}

function callsResult(outcome: {
  recorder: LatencyRecorder;
  calls: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
}): LoadResults['sequential'] {
  return {
    calls: outcome.calls,
    errors: outcome.errors,
    elapsedMs: outcome.elapsedMs,
    recorded: outcome.recorder.count,
    hdrBase64: outcome.recorder.encode(),
    ...(outcome.firstError === undefined ? {} : { firstError: outcome.firstError }),
  };
}

/**
 * The generator process's main loop: one job at a time, in the order received. It ends when the
 * benchmark disconnects (or dies), closing every connection it holds.
 */
export function serveLoadJobs(channel: NodeJS.Process = process): void {
  const send = channel.send?.bind(channel);
  if (send === undefined) throw new Error('the load generator must be started with an IPC channel');
  const controller = new AbortController();
  const worker = new LoadWorker(controller.signal);
  let queue = Promise.resolve();
  // The job running now, so that a cancel (sent when the benchmark stops waiting for it) ends it at
  // once instead of after its time cap: jobs run one at a time, and the next one waits for it.
  let current: { id: number; controller: AbortController } | undefined;
  channel.on('message', (raw: unknown) => {
    const cancel = cancelSchema.safeParse(raw);
    if (cancel.success) {
      if (current?.id === cancel.data.cancel) current.controller.abort(new Error('cancelled'));
      return;
    }
    const parsed = requestSchema.safeParse(raw);
    if (!parsed.success) {
      const id = typeof raw === 'object' && raw !== null ? Number((raw as { id?: unknown }).id) : -1;
      send({ id: Number.isInteger(id) ? id : -1, ok: false, error: `bad job: ${parsed.error.message}` });
      return;
    }
    const { id, job } = parsed.data;
    queue = queue.then(async () => {
      const controller = new AbortController();
      current = { id, controller };
      let reply: LoadReply;
      try {
        reply = { id, ok: true, result: await worker.run(job, controller.signal) };
      } catch (err) {
        reply = { id, ok: false, error: err instanceof Error ? err.message : String(err) };
      } finally {
        current = undefined;
      }
      if (channel.connected) send(reply);
    });
  });
  channel.once('disconnect', () => {
    controller.abort(new Error('the benchmark disconnected'));
    void queue.then(() => worker.closeAll()).finally(() => process.exit(0));
  });
  send(READY);
}
