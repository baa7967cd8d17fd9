/**
 * What the approval, pinning and console tests share: a gateway with an admin (the console), the
 * console's JSON API as the admin calls it, the official clients as agents that declare the
 * elicitation modes a test asks for (or none), and an upstream whose tools can change under the
 * gateway (a "rug pull": a new description, a rename).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createAdminToken,
  createGateway,
  createGrantToken,
  type Gateway,
  type GatewayOptions,
  hashToken,
  resolveConfig,
} from '@bastion/gateway';
import { type McpHttpHost, sdkModernIdentity, startMcpHttpHost } from '@bastion/mcp-http';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { silent } from './gateway-fixtures/harness.js';

export interface OversightGateway {
  gateway: Gateway;
  url: string;
  dir: string;
  /** Plain grant tokens by label. */
  tokens: Record<string, string>;
  adminToken: string;
  api: ConsoleApi;
  close(): Promise<void>;
}

export interface OversightConfig {
  servers: Record<string, unknown>;
  grants?: string[];
  /** A console (the default), or none. */
  admin?: boolean;
  /** Several admins, each with a token of their own (`"admin": { "accounts" }`), instead of 'ops'. */
  admins?: ReadonlyArray<{ name: string; token: string }>;
  webhook?: { url: string; secret: string };
  /** The pins lock file, relative to the gateway's directory. */
  pinsFile?: string;
  audit?: boolean;
  /** An existing directory (a restart keeps its files); a new one by default. */
  dir?: string;
  /** Tokens to keep across a restart. */
  tokens?: Record<string, string>;
  adminToken?: string;
}

export async function startOversightGateway(
  config: OversightConfig,
  options: Omit<GatewayOptions, 'config'> = {},
): Promise<OversightGateway> {
  const dir = config.dir ?? (await mkdtemp(join(tmpdir(), 'gw-oversight-')));
  const tokens: Record<string, string> = { ...config.tokens };
  const grants: Record<string, unknown> = {};
  for (const label of config.grants ?? ['alice']) {
    tokens[label] ??= createGrantToken().token;
    grants[label] = {
      tokenSha256: hashToken(tokens[label] as string),
      servers: Object.keys(config.servers),
    };
  }
  const admin = config.adminToken === undefined ? createAdminToken() : undefined;
  const adminToken = config.adminToken ?? admin?.token ?? '';
  const document = {
    servers: config.servers,
    grants,
    ...(config.admin === false
      ? {}
      : config.admins === undefined
        ? { admin: { tokenSha256: hashToken(adminToken), name: 'ops' } }
        : {
            admin: {
              accounts: config.admins.map((a) => ({ name: a.name, tokenSha256: hashToken(a.token) })),
            },
          }),
    ...(config.webhook === undefined ? {} : { approvals: { webhook: config.webhook } }),
    ...(config.pinsFile === undefined ? {} : { pins: { file: config.pinsFile } }),
    ...(config.audit ? { audit: 'audit.jsonl' } : {}),
  };
  await writeFile(join(dir, 'gateway.json'), JSON.stringify(document, null, 2));
  const gateway = await createGateway({
    config: resolveConfig(document, { baseDir: dir }),
    logger: silent,
    backoff: { initialMs: 20, maxMs: 200 },
    oversightPollMs: 100,
    approvalLongPollMs: 2_000,
    ...options,
  });
  const http = await gateway.listen();
  return {
    gateway,
    url: http.url,
    dir,
    tokens,
    adminToken,
    api: consoleApi(http.url, adminToken),
    async close() {
      await gateway.close();
      if (config.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface ConsoleApi {
  get(path: string): Promise<ApiAnswer>;
  post(path: string, body?: unknown): Promise<ApiAnswer>;
  /** Approvals as the API lists them. */
  approvals(): Promise<Array<Record<string, unknown>>>;
  decide(id: string, decision: 'approve' | 'deny', reason?: string): Promise<ApiAnswer>;
}

export function consoleApi(base: string, token: string): ConsoleApi {
  const send = async (method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
    const res = await fetch(`${base}/console/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const api: ConsoleApi = {
    get: (path) => send('GET', path),
    post: (path, body) => send('POST', path, body ?? {}),
    approvals: async () => (await api.get('/approvals')).body.approvals as Array<Record<string, unknown>>,
    decide: (id, decision, reason) =>
      api.post(`/approvals/${id}`, { decision, ...(reason ? { reason } : {}) }),
  };
  return api;
}

/** Waits until `check` returns something (the tests assert behaviour, not how long it took). */
export async function until<T>(check: () => Promise<T | undefined>, what: string, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const found = await check();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The one pending approval of a tool, once the gateway has it. */
export function pendingApproval(api: ConsoleApi, tool: string): Promise<Record<string, unknown>> {
  return until(
    async () => (await api.approvals()).find((a) => a.tool === tool && a.status === 'pending'),
    `a pending approval of ${tool}`,
  );
}

export type AgentKind = 'v1' | 'v2-2025' | 'v2-2026';

export interface OversightAgent {
  kind: AgentKind;
  callTool(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  listTools(): Promise<string[]>;
  /** The v2 client itself (for the 2026-era manual rounds). */
  raw: V1Client | V2Client;
  close(): Promise<void>;
}

export interface AgentOptions {
  /** Elicitation modes to declare (none: the agent cannot be asked). */
  modes?: ReadonlyArray<'form' | 'url'>;
  /** How the agent's user answers an elicitation. */
  elicit?: (params: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** 2026 era: hand input_required results back instead of fulfilling them (the manual path). */
  manual?: boolean;
}

export async function connectOversightAgent(
  url: string,
  token: string,
  kind: AgentKind,
  options: AgentOptions = {},
): Promise<OversightAgent> {
  const headers = { authorization: `Bearer ${token}` };
  const modes = options.modes ?? [];
  const capabilities =
    modes.length === 0 ? {} : { elicitation: Object.fromEntries(modes.map((m) => [m, {}])) };
  const elicit = async (params: unknown) =>
    (await options.elicit?.(params as Record<string, unknown>)) ?? { action: 'cancel' };
  if (kind === 'v1') {
    const client = new V1Client({ name: 'agent-v1', version: '1.0.0' }, { capabilities });
    if (modes.length > 0)
      client.setRequestHandler(ElicitRequestSchema, async (r) => (await elicit(r.params)) as never);
    await client.connect(new V1Transport(new URL(url), { requestInit: { headers } }));
    return {
      kind,
      callTool: async (name, args = {}) =>
        (await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 })) as CallToolResult,
      listTools: async () => (await client.listTools()).tools.map((t) => t.name),
      raw: client,
      close: () => client.close().catch(() => undefined),
    };
  }
  const client = new V2Client(
    { name: `agent-${kind}`, version: '1.0.0' },
    {
      capabilities,
      ...(kind === 'v2-2026' ? { versionNegotiation: { mode: { pin: '2026-07-28' as const } } } : {}),
      ...(options.manual ? { inputRequired: { autoFulfill: false } } : {}),
    },
  );
  if (modes.length > 0)
    client.setRequestHandler('elicitation/create', async (r) => (await elicit(r.params)) as never);
  await client.connect(new V2Transport(new URL(url), { requestInit: { headers } }));
  return {
    kind,
    callTool: async (name, args = {}) =>
      (await client.callTool({ name, arguments: args }, { timeout: 60_000 })) as CallToolResult,
    listTools: async () => (await client.listTools()).tools.map((t) => t.name),
    raw: client,
    close: () => client.close().catch(() => undefined),
  };
}

/**
 * An upstream whose tools change while the gateway runs: SDK v2 servers behind `createMcpHandler`
 * (2026 era, and its stateless 2025 fallback), each built from `state` at the time of the request.
 */
export interface ChangingUpstream {
  url: string;
  state: { description: string; echoName: string };
  close(): Promise<void>;
}

export async function startChangingUpstream(): Promise<ChangingUpstream> {
  const state = { description: 'Says the text back.', echoName: 'echo' };
  const build = () => {
    const server = new McpServer(
      { name: 'changing-upstream', version: '1.0.0' },
      { capabilities: { tools: {} } },
    );
    server.registerTool(
      state.echoName,
      { description: state.description, inputSchema: z.object({ text: z.string() }) },
      async ({ text }) => ({ content: [{ type: 'text', text }] }),
    );
    server.registerTool(
      'status',
      { description: 'Says it is fine.', inputSchema: z.object({}) },
      async () => ({
        content: [{ type: 'text', text: 'fine' }],
      }),
    );
    return server;
  };
  const handler = createMcpHandler(() => build(), { legacy: 'stateless' });
  const host: McpHttpHost = await startMcpHttpHost({
    name: 'changing-upstream',
    logger: silent,
    endpoints: [
      {
        streamablePath: '/mcp',
        openSession: async () => {
          throw new Error('no 2025-era sessions here');
        },
        serve: (req, res, context) =>
          sdkModernIdentity(handler, context.principal, async () => undefined).serve(req, res, context.body),
      },
    ],
  });
  return {
    url: `${host.url}/mcp`,
    state,
    async close() {
      await host.close();
      await handler.close();
    },
  };
}

export function textOf(result: CallToolResult): string {
  return result.content
    .filter((c): c is { type: 'text'; text: string } => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}

export function errorCode(result: CallToolResult): unknown {
  return (result._meta?.['dev.bastion/error'] as { code?: unknown } | undefined)?.code;
}
