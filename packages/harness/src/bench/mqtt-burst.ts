/**
 * The MQTT burst: a plain mqtt.js publisher sends N messages at a fixed rate to topics that an
 * agent (an MCP client of bastion-mqtt reading with mqttReadMessages in a loop while the burst
 * runs) and a plain mqtt.js subscriber both subscribed to, in the same run. The plain subscriber
 * shows what the broker delivered; the agent's count shows what bastion-mqtt let through.
 *
 * Issue 13 measured 10,000 messages at 12,000 msg/s with a concurrent read loop: 3 reads during
 * the burst and 8,664 messages dropped. The test (mqtt-burst.test.ts) asserts that nothing is lost;
 * `bastion bench-mqtt` prints the figures.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** What the burst needs of an MCP client of bastion-mqtt. */
export interface BurstAgent {
  /** tools/call through the official client's callTool. */
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** Logging notifications (received messages) seen so far. */
  notificationCount(): number;
}

export interface BurstOptions {
  /** The broker's anonymous plain-MQTT listener. */
  host: string;
  port: number;
  messages: number;
  /** Messages per second the publisher aims at. */
  rate: number;
  qos: 0 | 1 | 2;
  payloadBytes: number;
  /** mqttReadMessages `limit` of each read of the loop; absent: the tool's default. */
  readLimit?: number | undefined;
  /** mqttReadMessages `waitMs` of each read of the loop. */
  readWaitMs: number;
  /**
   * 'start' (default): the read loop runs from the first publish. 'paused': it starts once mqttStatus
   * shows the buffer full and holding the broker back, so that the pause is certain to be exercised.
   */
  readFrom?: 'start' | 'paused';
  /** Extra mqttConnect arguments (protocol version, ...). */
  connect?: Record<string, unknown>;
  /** The run ends when both counts are complete, or nothing new arrived for this long after publishing. */
  settleMs: number;
  signal?: AbortSignal;
}

/** The burst of issue 13: 10,000 small messages at 12,000 msg/s. */
export const ISSUE_BURST = {
  messages: 10_000,
  rate: 12_000,
  qos: 0,
  payloadBytes: 64,
  readLimit: 1000,
  readWaitMs: 500,
  settleMs: 5_000,
} as const satisfies Omit<BurstOptions, 'host' | 'port'>;

export interface BurstResult {
  options: Omit<BurstOptions, 'signal'>;
  published: number;
  /** Time from the first to the last publish. */
  publishMs: number;
  /** Achieved publish rate. */
  publishRate: number;
  plain: { received: number; lastMs: number };
  agent: {
    /** Distinct messages read with mqttReadMessages. */
    read: number;
    /** Sum of the reads' `dropped`. */
    dropped: number;
    /** Reads answered while the publisher was still sending. */
    readsDuringBurst: number;
    reads: number;
    /** Largest `messages.length` of one read. */
    largestRead: number;
    /** Slowest read (ms), waits included. */
    slowestReadMs: number;
    notifications: number;
    /** Messages read out of order or twice (by seq); 0 unless something is wrong. */
    outOfOrder: number;
    /** Time from the first publish until the last message was read. */
    lastMs: number;
    /** mqttStatus of the connection after the run. */
    status: Record<string, unknown> | undefined;
  };
}

interface ReadResult {
  messages: Array<{ seq: number }>;
  dropped: number;
}

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'published'; startedAt: number; endedAt: number }
  | { type: 'count' | 'finished'; received: number; lastAt: number }
  | { type: 'error'; message: string };

const now = () => performance.timeOrigin + performance.now();

function structured<T>(result: CallToolResult, what: string): T {
  if (result.isError === true) {
    const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
    throw new Error(`${what} failed: ${text}`);
  }
  return result.structuredContent as T;
}

/** The publisher and plain subscriber thread (mqtt-burst-worker.mjs), as promises. */
function startPeer(data: Record<string, unknown>) {
  const worker = new Worker(new URL('./mqtt-burst-worker.mjs', import.meta.url), { workerData: data });
  const waiters = new Map<string, (m: WorkerMessage) => void>();
  const plain = { received: 0, lastAt: 0 };
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    for (const wake of waiters.values()) wake({ type: 'error', message: err.message });
  };
  worker.on('message', (m: WorkerMessage) => {
    if (m.type === 'count' || m.type === 'finished') Object.assign(plain, m);
    if (m.type === 'error') fail(new Error(`burst publisher: ${m.message}`));
    waiters.get(m.type)?.(m);
  });
  worker.on('error', (err) => fail(err));
  worker.on('exit', () => fail(new Error('burst publisher thread exited')));
  const next = <T extends WorkerMessage['type']>(type: T) =>
    new Promise<Extract<WorkerMessage, { type: T }>>((resolve, reject) => {
      if (failure) return reject(failure);
      waiters.set(type, (m) => {
        waiters.delete(type);
        if (m.type === 'error') reject(failure ?? new Error(m.message));
        else resolve(m as Extract<WorkerMessage, { type: T }>);
      });
    });
  return {
    plain,
    ready: next('ready'),
    publish() {
      const done = next('published');
      worker.postMessage({ cmd: 'publish' });
      return done;
    },
    async finish() {
      if (failure) {
        await worker.terminate();
        return;
      }
      const done = next('finished').catch(() => undefined);
      worker.postMessage({ cmd: 'finish' });
      await done;
      await worker.terminate();
    },
  };
}

/**
 * Runs one burst on a connection named 'burst' of the agent, which is connected and subscribed here
 * and disconnected at the end. Owns and ends its thread and that thread's two mqtt.js clients.
 */
export async function runMqttBurst(agent: BurstAgent, options: BurstOptions): Promise<BurstResult> {
  const run = randomBytes(4).toString('hex');
  const topic = `burst/${run}`;
  const connection = 'burst';
  const peer = startPeer({
    url: `mqtt://${options.host}:${options.port}`,
    topic,
    run,
    messages: options.messages,
    rate: options.rate,
    qos: options.qos,
    payloadBytes: options.payloadBytes,
  });
  const notificationsBefore = agent.notificationCount();
  try {
    await peer.ready;
    structured(
      await agent.call('mqttConnect', {
        host: options.host,
        port: options.port,
        clientId: `burst-agent-${run}`,
        ...options.connect,
        connection,
      }),
      'mqttConnect',
    );
    structured(
      await agent.call('mqttSubscribe', { topic: `${topic}/#`, qos: options.qos, connection }),
      'mqttSubscribe',
    );

    const seen = new Set<number>();
    let lastSeq = 0;
    let outOfOrder = 0;
    let dropped = 0;
    let reads = 0;
    let readsDuringBurst = 0;
    let largestRead = 0;
    let slowestReadMs = 0;
    let agentLastAt = 0;
    let publishing = true;
    let stop = false;
    const readArgs: Record<string, unknown> = { connection, waitMs: options.readWaitMs };
    if (options.readLimit !== undefined) readArgs.limit = options.readLimit;

    const readLoop = (async () => {
      while (options.readFrom === 'paused' && !stop) {
        const status = structured<{ connections: Array<{ buffer: { paused: boolean } }> }>(
          await agent.call('mqttStatus', { connection }),
          'mqttStatus',
        );
        if (status.connections[0]?.buffer.paused) break;
        await sleep(10);
      }
      while (!stop) {
        const startedAt = now();
        const read = structured<ReadResult>(
          await agent.call('mqttReadMessages', readArgs),
          'mqttReadMessages',
        );
        reads++;
        slowestReadMs = Math.max(slowestReadMs, now() - startedAt);
        if (publishing) readsDuringBurst++;
        dropped += read.dropped;
        largestRead = Math.max(largestRead, read.messages.length);
        for (const m of read.messages) {
          if (m.seq <= lastSeq || seen.has(m.seq)) outOfOrder++;
          lastSeq = Math.max(lastSeq, m.seq);
          seen.add(m.seq);
        }
        if (read.messages.length > 0) agentLastAt = now();
      }
    })();
    // A failed read ends the run at once instead of after the settle time.
    let readFailure: unknown;
    readLoop.catch((err: unknown) => {
      readFailure = err;
    });

    let timing: { startedAt: number; endedAt: number };
    try {
      timing = await peer.publish();
    } finally {
      publishing = false;
    }
    // Settle: until both have everything, or neither made progress for settleMs.
    let progressAt = now();
    let lastTotal = -1;
    while (seen.size + dropped < options.messages || peer.plain.received < options.messages) {
      options.signal?.throwIfAborted();
      if (readFailure !== undefined) break;
      const total = seen.size + dropped + peer.plain.received;
      if (total !== lastTotal) {
        lastTotal = total;
        progressAt = now();
      } else if (now() - progressAt > options.settleMs) break;
      await sleep(20);
    }
    stop = true;
    await readLoop;
    const status = structured<{ connections: Array<Record<string, unknown>> }>(
      await agent.call('mqttStatus', { connection }),
      'mqttStatus',
    ).connections[0];
    await agent.call('mqttDisconnect', { connection });
    const publishMs = timing.endedAt - timing.startedAt;
    const { signal: _signal, ...shown } = options;
    return {
      options: shown,
      published: options.messages,
      publishMs,
      publishRate: options.messages / (Math.max(publishMs, 1) / 1000),
      plain: { received: peer.plain.received, lastMs: peer.plain.lastAt - timing.startedAt },
      agent: {
        read: seen.size,
        dropped,
        readsDuringBurst,
        reads,
        largestRead,
        slowestReadMs,
        notifications: agent.notificationCount() - notificationsBefore,
        outOfOrder,
        lastMs: agentLastAt - timing.startedAt,
        status,
      },
    };
  } finally {
    await peer.finish();
  }
}

/** The result as the few lines a person reads. */
export function describeBurst(label: string, r: BurstResult): string {
  const o = r.options;
  return [
    `${label}: ${r.published} messages (QoS ${o.qos}, ${o.payloadBytes} B) at ${Math.round(r.publishRate)} msg/s ` +
      `(asked ${o.rate}) in ${Math.round(r.publishMs)} ms`,
    `  plain mqtt.js subscriber: ${r.plain.received} received, the last ${Math.round(r.plain.lastMs)} ms after the first publish`,
    `  bastion-mqtt agent:       ${r.agent.read} read, ${r.agent.dropped} dropped; ${r.agent.reads} reads ` +
      `(${r.agent.readsDuringBurst} during the burst, largest ${r.agent.largestRead}, slowest ${Math.round(r.agent.slowestReadMs)} ms), ` +
      `${r.agent.notifications} notifications; the last read ${Math.round(r.agent.lastMs)} ms after the first publish` +
      (r.agent.outOfOrder > 0 ? `; ${r.agent.outOfOrder} OUT OF ORDER` : ''),
  ].join('\n');
}
