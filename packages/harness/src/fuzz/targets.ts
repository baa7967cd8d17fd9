/**
 * What the fuzz run is pointed at: our own HTTP hosts as the processes a user runs (bastion-mqtt,
 * bastion-ssh, and bastion-gateway in front of a bastion-mqtt of its own), each with a live
 * Streamable HTTP session and a live legacy SSE session for requests to land in, and every process
 * watched: alive, and its resident memory before and after.
 */
import { request } from 'node:http';
import { readProcess } from '../bench/process-stats.js';
import { openEndpoint } from '../suites/mcp-client.js';
import {
  type RunningService,
  startOwnGateway,
  startOwnMqttServer,
  startOwnSshServer,
} from '../suites/own-targets.js';
import type { ServiceProcess } from '../targets/process.js';

export interface WatchedProcess {
  name: string;
  service: ServiceProcess;
}

export interface FuzzTarget {
  name: string;
  port: number;
  token: string | undefined;
  streamablePath: string;
  sse: { streamPath: string; messagePath: string };
  /** The target's own process first, then what it depends on (the gateway's upstream). */
  processes: WatchedProcess[];
  stop(): Promise<void>;
}

export type FuzzTargetName = 'bastion-mqtt' | 'bastion-ssh' | 'bastion-gateway';

const serverTarget = (name: FuzzTargetName, running: RunningService, sse: FuzzTarget['sse']): FuzzTarget => ({
  name,
  port: running.port,
  token: undefined,
  streamablePath: '/mcp',
  sse,
  processes: [{ name, service: running.process }],
  stop: () => running.stop(),
});

export async function startFuzzTarget(name: FuzzTargetName): Promise<FuzzTarget> {
  if (name === 'bastion-mqtt') {
    return serverTarget(name, await startOwnMqttServer(), {
      streamPath: '/mqttx/sse',
      messagePath: '/mqttx/message',
    });
  }
  if (name === 'bastion-ssh') {
    return serverTarget(name, await startOwnSshServer(), { streamPath: '/sse', messagePath: '/messages' });
  }
  const upstream = await startOwnMqttServer();
  try {
    // Allow-all, so fuzzed calls go through to the upstream as well.
    const gateway = await startOwnGateway({
      mqtt: { url: `${upstream.baseUrl}/mcp`, policy: { version: '1', default: 'allow' } },
    });
    return {
      name,
      port: gateway.port,
      token: gateway.token,
      streamablePath: '/servers/mqtt/mcp',
      sse: { streamPath: '/servers/mqtt/sse', messagePath: '/servers/mqtt/messages' },
      processes: [
        { name, service: gateway.process },
        { name: 'its upstream bastion-mqtt', service: upstream.process },
      ],
      async stop() {
        await gateway.stop();
        await upstream.stop();
      },
    };
  } catch (err) {
    await upstream.stop();
    throw err;
  }
}

const authHeaders = (target: FuzzTarget): Record<string, string> =>
  target.token === undefined ? {} : { authorization: `Bearer ${target.token}` };

/** A Streamable HTTP session opened the way a client does (initialize, initialized); its id. */
export async function openStreamableSession(target: FuzzTarget): Promise<string | undefined> {
  const url = `http://127.0.0.1:${target.port}${target.streamablePath}`;
  const headers = {
    ...authHeaders(target),
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'bastion-fuzz', version: '1' },
      },
    }),
  });
  await init.text();
  const id = init.headers.get('mcp-session-id') ?? undefined;
  if (id === undefined) throw new Error(`${target.name}: initialize gave no session (HTTP ${init.status})`);
  await (
    await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    })
  ).text();
  return id;
}

export interface LegacySession {
  sessionId: string;
  close(): void;
}

/**
 * A legacy HTTP+SSE session: the GET stream stays open (and is read, so answers posted to the
 * session never back up) until close().
 */
export function openLegacySession(target: FuzzTarget): Promise<LegacySession> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: target.port,
      path: target.sse.streamPath,
      headers: { ...authHeaders(target), accept: 'text/event-stream' },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${target.name}: no endpoint event on ${target.sse.streamPath}`));
    }, 15_000);
    req.on('response', (res) => {
      let seen = '';
      let found = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (found) return;
        seen += chunk;
        const match = /sessionId=([\w-]+)/.exec(seen);
        if (match?.[1] === undefined) return;
        found = true;
        clearTimeout(timer);
        resolve({ sessionId: match[1], close: () => req.destroy() });
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}

export interface Health {
  name: string;
  alive: boolean;
  rssBytes: number | undefined;
}

export function healthOf(target: FuzzTarget): Health[] {
  return target.processes.map(({ name, service }) => {
    const pid = service.pid;
    const reading = pid === undefined ? undefined : readProcess(pid);
    return { name, alive: reading !== undefined, rssBytes: reading?.rssBytes };
  });
}

/** A valid client session end to end: initialize, tools/list, close; the tools it lists. */
export async function answersValidRequest(target: FuzzTarget): Promise<string[]> {
  const session = await openEndpoint(`http://127.0.0.1:${target.port}${target.streamablePath}`, {
    transport: 'streamable',
    clientName: 'bastion-fuzz-after',
    ...(target.token === undefined ? {} : { token: target.token }),
  });
  try {
    return (await session.listTools()).map((t) => t.name);
  } finally {
    await session.close();
  }
}

const MiB = 1024 * 1024;

export function describeMemory(before: Health[], after: Health[]): string[] {
  return before.map((b, i) => {
    const a = after[i];
    if (b.rssBytes === undefined || a?.rssBytes === undefined) return `${b.name}: RSS not readable here`;
    const growth = (a.rssBytes - b.rssBytes) / MiB;
    return `${b.name}: RSS ${(b.rssBytes / MiB).toFixed(1)} MiB -> ${(a.rssBytes / MiB).toFixed(1)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB)`;
  });
}
