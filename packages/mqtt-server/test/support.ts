/** Shared fixtures of the package's own tests: an in-process Aedes broker and an SDK client session. */

import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { type CallToolResult, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Aedes, type AedesOptions } from 'aedes';
import { pino } from 'pino';
import { createMqttServer, type MqttServerOptions, type MqttServerSession } from '../src/index.js';

export const silent = pino({ level: 'silent' });

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export interface TestBroker {
  port: number;
  /** The current Aedes instance (a new one after restart). */
  aedes: Aedes;
  /** CONNECT packets received so far (across restarts). */
  readonly connects: number;
  /** Stops the broker (clients see the connection drop) and starts a fresh one on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Aedes on a random loopback port; with `users`, connections must authenticate. */
export async function startAedes(users?: Record<string, string>): Promise<TestBroker> {
  let port = 0;
  let running: { aedes: Aedes; server: Server } | undefined;
  let connects = 0;
  const start = async () => {
    const aedes = await Aedes.createBroker({
      preConnect(_client, _packet, done) {
        connects++;
        done(null, true);
      },
      ...(users === undefined
        ? {}
        : {
            authenticate(_client, username, password, done) {
              const ok = username !== undefined && users[username] === password?.toString();
              if (ok) done(null, true);
              else done(Object.assign(new Error('bad credentials'), { returnCode: 4 as const }), false);
            },
          }),
    } satisfies AedesOptions);
    const server = createServer(aedes.handle);
    port = await listen(server, port);
    running = { aedes, server };
  };
  const stop = async () => {
    const current = running;
    running = undefined;
    if (current === undefined) return;
    // Stop accepting before Aedes closes, so no reconnecting client is handed to a closed broker.
    const closed = new Promise<void>((resolve) => current.server.close(() => resolve()));
    await new Promise<void>((resolve) => current.aedes.close(() => resolve()));
    await closed;
  };
  await start();
  return {
    get port() {
      return port;
    },
    get connects() {
      return connects;
    },
    get aedes() {
      if (running === undefined) throw new Error('broker is stopped');
      return running.aedes;
    },
    start,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    close: stop,
  };
}

/** A TCP server that accepts connections and never answers: a broker that hangs. */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  const port = await listen(server);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A free loopback port with nothing listening on it. */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestSession {
  client: Client;
  session: MqttServerSession;
  /** Logging notifications received so far. */
  notifications: Array<{ level: string; logger?: string; data: unknown }>;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** A real SDK client talking to a fresh server session over an in-memory transport pair. */
export async function openSession(options: MqttServerOptions = {}): Promise<TestSession> {
  const session = createMqttServer({ logLevel: 'silent', ...options }, { logger: silent });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await session.server.connect(serverTransport);
  const client = new Client({ name: 'test', version: '1.0.0' });
  const notifications: TestSession['notifications'] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    notifications.push(n.params);
  });
  await client.connect(clientTransport);
  return {
    client,
    session,
    notifications,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    close: async () => {
      await client.close();
      await session.close();
    },
  };
}

export function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

/** Polls `check` until it returns a value other than undefined (behaviour, not timing). */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
