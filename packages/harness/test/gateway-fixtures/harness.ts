/**
 * What the gateway tests share: the fixture upstream hosted over HTTP (Streamable HTTP and legacy
 * SSE, via @bastion/mcp-http) or spawned over stdio, a gateway built from a config document, and real
 * SDK clients connected to it in memory, over Streamable HTTP or over legacy SSE.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Clock,
  createGateway,
  createGrantToken,
  errorDetails,
  type Gateway,
  type GatewayOptions,
  OPEN_GATE,
  type Principal,
  resolveConfig,
} from '@bastion/gateway';
import { type McpHttpHost, startMcpHttpHost } from '@bastion/mcp-http';
import { Client, type ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type Logger, pino } from 'pino';
import { type AgentKind, connectAgent } from './agents.js';
import { createFixtureServer } from './server.js';

export const silent = pino({ level: 'silent' });

export const FIXTURE_STDIO = join(import.meta.dirname, 'stdio-server.ts');

/** The fixture upstream as a gateway config entry that spawns it over stdio. */
export function stdioFixture(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    transport: 'stdio',
    command: process.execPath,
    args: ['--import', 'tsx', FIXTURE_STDIO],
    ...extra,
  };
}

export class FakeClock implements Clock {
  constructor(public time: number) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/**
 * A clock that runs at the wall clock's pace from 1 s into a minute window: calls a test expects in
 * one window (a limit reached, a counter read back) then never straddle a window boundary, as they
 * did now and then on the wall clock. For tests that need time to pass, where FakeClock stands still.
 */
export function midMinuteClock(): Clock {
  const base = Date.now();
  const start = Math.floor(base / 60_000) * 60_000 + 1_000;
  return { now: () => start + (Date.now() - base) };
}

/** The fixture upstream over HTTP: `/mcp` (Streamable HTTP), `/sse` + `/messages` (legacy SSE). */
export interface FixtureHttp {
  host: McpHttpHost;
  url: string;
  sessionsOpened: number;
  /** Closes the host (every upstream session with it). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with no memory of earlier sessions. */
  restart(): Promise<void>;
}

export async function startFixtureHttp(port = 0): Promise<FixtureHttp> {
  const start = (p: number) =>
    startMcpHttpHost({
      name: 'fixture',
      logger: silent,
      port: p,
      endpoints: [
        {
          streamablePath: '/mcp',
          sse: { streamPath: '/sse', messagePath: '/messages' },
          async openSession(transport) {
            fixture.sessionsOpened++;
            const server = createFixtureServer();
            await server.connect(transport);
            return { close: () => server.close() };
          },
        },
      ],
    });
  const fixture: FixtureHttp = {
    host: undefined as unknown as McpHttpHost,
    url: '',
    sessionsOpened: 0,
    stop: () => fixture.host.close(),
    async restart() {
      fixture.host = await start(fixture.host.port);
    },
  };
  fixture.host = await start(port);
  fixture.url = fixture.host.url;
  return fixture;
}

export interface GatewayHarness {
  gateway: Gateway;
  /** Set once `listen()` ran. */
  http: McpHttpHost | undefined;
  /** Plain tokens by grant label. */
  tokens: Record<string, string>;
  dir: string;
  /** Starts the HTTP front. */
  listen(): Promise<McpHttpHost>;
  /**
   * An agent of the harness's kind as `grant` (a grant label, or 'anonymous'): the v1 SDK client in
   * memory (the default), or the v2 client over HTTP in the 2025 era or pinned to 2026-07-28. The v2
   * clients are typed as the v1 one here: the suites use only what both offer (callTool, listTools,
   * readResource, ...).
   */
  connect(server: string, grant: string, options?: ClientOptions): Promise<Client>;
  /** The agent kind `connect` gives. */
  readonly agentKind: AgentKind;
  connectHttp(
    server: string,
    token: string | undefined,
    kind?: 'streamable' | 'sse',
    options?: ClientOptions,
  ): Promise<Client>;
  /** Closes the clients opened so far (their sessions, and upstream sessions, end). */
  closeClients(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessConfig {
  servers: Record<string, unknown>;
  /** Grant label -> servers (and an optional per-server policy); tokens are made up here. */
  grants?: Record<string, { servers: string[]; policy?: Record<string, unknown> }>;
  anonymous?: { servers: string[] };
  /** true: an unkeyed log at audit.jsonl; an object: the config's audit entry as given. */
  audit?: boolean | Record<string, unknown>;
  /** The config's `limits` (session caps, shutdown grace). */
  limits?: Record<string, number>;
  /** Files written into the gateway's directory first (policy files named relative to it). */
  files?: Record<string, string>;
}

let counter = 0;

export async function startGateway(
  config: HarnessConfig,
  options: Omit<GatewayOptions, 'config'> & { logger?: Logger; agentKind?: AgentKind } = {},
): Promise<GatewayHarness> {
  const { agentKind = 'v1', ...gatewayOptions } = options;
  const dir = await mkdtemp(join(tmpdir(), 'gw-test-'));
  for (const [name, text] of Object.entries(config.files ?? {})) await writeFile(join(dir, name), text);
  const tokens: Record<string, string> = {};
  const grants: Record<string, unknown> = {};
  for (const [label, grant] of Object.entries(config.grants ?? {})) {
    const { token, tokenSha256 } = createGrantToken();
    tokens[label] = token;
    grants[label] = { tokenSha256, ...grant };
  }
  const document = {
    servers: config.servers,
    grants,
    ...(config.anonymous ? { anonymous: config.anonymous } : {}),
    ...(config.audit === true ? { audit: 'audit.jsonl' } : config.audit ? { audit: config.audit } : {}),
    ...(config.limits ? { limits: config.limits } : {}),
  };
  const gateway = await createGateway({
    config: resolveConfig(document, { baseDir: dir }),
    logger: silent,
    backoff: { initialMs: 20, maxMs: 200 },
    // These suites test the proxy itself, whose fixtures add and change tools at run time; tool
    // pinning (on in every real gateway) would withhold those, and has suites of its own.
    toolGate: OPEN_GATE,
    ...gatewayOptions,
  });
  const clients: Client[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const harness: GatewayHarness = {
    gateway,
    http: undefined,
    tokens,
    dir,
    async listen() {
      harness.http = await gateway.listen();
      return harness.http;
    },
    agentKind,
    async connect(server, grant, clientOptions) {
      if (agentKind !== 'v1') {
        const http = harness.http ?? (await harness.listen());
        const agent = await connectAgent(
          `${http.url}/servers/${server}/mcp`,
          grant === 'anonymous' ? undefined : tokens[grant],
          agentKind,
        );
        closers.push(() => agent.close());
        return agent.raw as Client;
      }
      const [agentSide, gatewaySide] = InMemoryTransport.createLinkedPair();
      const principal: Principal =
        grant === 'anonymous' ? { id: 'anonymous', kind: 'anonymous' } : { id: grant, kind: 'grant' };
      await gateway.openSession(server, gatewaySide, {
        sessionId: `mem-${++counter}`,
        principal,
        closeOnInitializeFailure: true,
      });
      const client = new Client({ name: 'test-agent', version: '1.0.0' }, clientOptions);
      await client.connect(agentSide);
      clients.push(client);
      return client;
    },
    async connectHttp(server, token, kind = 'streamable', clientOptions) {
      const http = harness.http ?? (await harness.listen());
      const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
      const transport =
        kind === 'streamable'
          ? new StreamableHTTPClientTransport(new URL(`${http.url}/servers/${server}/mcp`), {
              requestInit: { headers },
            })
          : new SSEClientTransport(new URL(`${http.url}/servers/${server}/sse`), {
              requestInit: { headers },
            });
      const client = new Client({ name: 'test-agent', version: '1.0.0' }, clientOptions);
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    async closeClients() {
      await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
      await Promise.all(closers.splice(0).map((close) => close()));
    },
    async close() {
      await harness.closeClients();
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

export { textOf } from '../../src/suites/mcp-client.js';

/** How often the gateway reconnected to `server`'s upstream so far (its metric). */
export async function reconnects(h: GatewayHarness, server: string): Promise<number> {
  const text = await h.gateway.metrics.text();
  const metric = new RegExp(`bastion_gateway_upstream_reconnects_total\\{server="${server}"\\} (\\d+)`);
  return Number(metric.exec(text)?.[1] ?? 0);
}

/** A denial's decision (rule, reason, retryAfterMs): the error result's `_meta["dev.bastion/error"]`. */
export function policyOf(result: CallToolResult): Record<string, unknown> | undefined {
  const details = errorDetails(result);
  if (details === undefined || details.code !== 'POLICY_DENIED') return undefined;
  const { code: _code, ...decision } = details;
  return decision;
}

export { errorDetails };

/** POLICY.md's two policies, verbatim (as text, so that nothing is reformatted). */
export const MQTT_POLICY_TEXT = `{"version":"1","default":"deny","tools":{"mqttDisconnect":{"limits":[
  {"counter":"mqttdisconnect_rate","window":"minute","max":60,"scope":"grant"}]}}}`;
export const SSH_POLICY_TEXT = `{"version":"1","default":"deny","tools":{"disconnect":{"limits":[
  {"counter":"disconnect_rate","window":"minute","max":30,"scope":"grant"}]}}}`;
