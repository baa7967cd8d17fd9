/**
 * The gateway: configured servers with their policies, upstream pools and tool catalogs, the call
 * pipeline composed once, the shared-state store, the audit log and the metrics; and the forwarding
 * core (core/forward.ts) that agents reach over HTTP (every server at its own URL, both eras), over
 * legacy SSE, or over stdio (one server, for desktop clients).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type McpHttpHost, startMcpHttpHost } from '@bastion/mcp-http';
import { type Logger, pino } from 'pino';
import { auditEntryFor } from './audit/log.js';
import { openAuditLog } from './audit/open.js';
import { type Clock, systemClock } from './clock.js';
import { ANONYMOUS_GRANT, type GatewayConfig, LOCAL_GRANT } from './config.js';
import { ToolCatalogs, type ToolDefinitionGate, toolsOf } from './core/catalog.js';
import {
  type ChannelSession,
  type ChannelTransport,
  type CoreRoute,
  createForwardingCore,
  type ForwardingCore,
} from './core/forward.js';
import { openLegacyUpstream } from './era/legacy-session.js';
import { ModernAgents } from './era/modern-agents.js';
import type { CounterStore } from './limits/store.js';
import { GatewayMetrics } from './metrics.js';
import { createOversight, type Oversight } from './oversight.js';
import type { CallContext, CallStep, Principal } from './pipeline/context.js';
import { type CallPipeline, createCallPipeline } from './pipeline/index.js';
import type { GrantResolution } from './pipeline/steps/resolve-grant.js';
import type { Problem } from './policy/problems.js';
import { type PolicyEvent, ServerRuntime, type ServerState } from './server-runtime.js';
import { MemoryStateStore } from './store/memory-store.js';
import { openStateStore } from './store/open.js';
import type { StateStore } from './store/store.js';
import type { BackoffOptions } from './upstream/backoff.js';
import { UpstreamDirectory } from './upstream/directory.js';
import { UpstreamCommandError } from './upstream/stdio-pipe.js';

export interface GatewayOptions {
  config: GatewayConfig;
  logger?: Logger;
  /** Injected clock for window arithmetic and audit times (tests use a fake one). */
  clock?: Clock;
  /** Where shared state lives (counters, session routing, later approvals and pins); memory by default. */
  store?: StateStore;
  /** Counters only (the store's, unless given): kept for callers that bring their own counter store. */
  counters?: CounterStore;
  /** Replaces the human approval step (pipeline/steps/approval.ts, run after conditions). */
  approval?: CallStep;
  /** Replaces the review of every upstream tool list (tool pinning, pins/pins.ts); OPEN_GATE keeps every tool. */
  toolGate?: ToolDefinitionGate;
  /** How often approvals, pins and grants another replica may change are read again (default 1-2 s). */
  oversightPollMs?: number;
  /** How long a 2026-era agent's retry waits for an approval before it is asked to come back (default 20 s). */
  approvalLongPollMs?: number;
  /** Reconnect backoff towards upstreams. */
  backoff?: BackoffOptions;
  /** How long a request waits for an upstream reconnect in progress. */
  reconnectWaitMs?: number;
  /** Watch policy files and reload them on change (default true). */
  watchPolicies?: boolean;
  /** A 2025-era session with no stream and no request for this long is closed (default 10 min). */
  idleSessionMs?: number;
}

export interface OpenSessionOptions {
  sessionId?: string;
  principal: Principal;
  /** HTTP-like agents end when their initialize fails; a stdio agent stays for another try. */
  closeOnInitializeFailure?: boolean;
}

export interface UpstreamCheck {
  server: string;
  state: ServerState;
  problems: ReadonlyArray<Problem>;
  /** Set when the upstream could not be reached. */
  error?: string;
  /** Set when the upstream is a command that could not be started (not found, not executable). */
  cannotStart?: { command: string; reason: string };
}

/** The command error behind `err` (wrapped by the connection), if starting a process is what failed. */
function commandErrorOf(err: unknown): UpstreamCommandError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    if (e instanceof UpstreamCommandError) return e;
  return undefined;
}

export interface ListenOptions {
  host?: string;
  port?: number;
  allowedHosts?: ReadonlyArray<string>;
  /** Browser origins allowed besides the gateway's own (see @bastion/mcp-http). */
  allowedOrigins?: ReadonlyArray<string>;
  maxBodyBytes?: number;
}

export interface Gateway {
  readonly config: GatewayConfig;
  /** Approvals, tool pins, grants made at run time and the console (oversight.ts). */
  readonly oversight: Oversight;
  readonly metrics: GatewayMetrics;
  readonly servers: ReadonlyMap<string, ServerRuntime>;
  /** The principal a bearer token stands for on `path` (a server's URL), or undefined (401). */
  authenticate(token: string | undefined, path?: string): Principal | undefined;
  /** An agent on a message channel (in memory, legacy SSE): a 2025-era session. */
  openSession(
    server: string,
    transport: ChannelTransport,
    options: OpenSessionOptions,
  ): Promise<ChannelSession>;
  /** Reaches each upstream (all, or those named) once and checks the policies' `args.*` paths against its tools. */
  checkUpstreams(servers?: ReadonlyArray<string>): Promise<UpstreamCheck[]>;
  listen(options?: ListenOptions): Promise<McpHttpHost>;
  /** Serves one server to the local operator over `transport` (stdio). */
  serveLocal(server: string, transport: ChannelTransport): Promise<ChannelSession>;
  /** Reads every policy file again now, as a change on disk would. */
  reloadPolicies(): Promise<PolicyEvent[]>;
  onPolicyEvent(listener: (event: PolicyEvent) => void): () => void;
  /** 2025-era sessions open now. */
  sessionCount(): number;
  /**
   * Graceful stop (SIGTERM): new requests are refused (503), calls in flight finish (for at most
   * `graceMs`, default the config's `limits.shutdownGraceMs`), then everything closes.
   */
  shutdown(graceMs?: number): Promise<void>;
  close(): Promise<void>;
}

const SERVER_PATH = /^\/servers\/([^/]+)\//;

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const clock = options.clock ?? systemClock;
  const metrics = new GatewayMetrics(config.replicated ? config.replicaId : undefined);
  const runtimes = new Map<string, ServerRuntime>();
  const hosts = new Set<McpHttpHost>();

  const grantsWithAnonymous = [...config.grants.values(), ...(config.anonymous ? [config.anonymous] : [])];
  const loadErrors: Error[] = [];
  for (const server of config.servers.values()) {
    const runtime = new ServerRuntime(server, logger, metrics);
    runtimes.set(server.name, runtime);
    try {
      await runtime.load(grantsWithAnonymous);
    } catch (err) {
      loadErrors.push(err as Error);
    }
  }
  if (loadErrors.length > 0) {
    for (const runtime of runtimes.values()) runtime.close();
    throw loadErrors.length === 1
      ? loadErrors[0]
      : new AggregateError(loadErrors, loadErrors.map((e) => e.message).join('\n'));
  }
  if (options.watchPolicies !== false) for (const runtime of runtimes.values()) runtime.watch();

  let audit: Awaited<ReturnType<typeof openAuditLog>> | undefined;
  try {
    audit = config.audit === undefined ? undefined : await openAuditLog(config.audit, logger);
  } catch (err) {
    // A log cut or rewritten while the gateway was down stops the start (audit/log.ts).
    for (const runtime of runtimes.values()) runtime.close();
    throw err;
  }
  // Scale-out seam: the config's store (Redis when counters.redis is set) unless one is given.
  const store: StateStore =
    options.store ??
    (options.counters
      ? new MemoryStateStore({ counters: options.counters })
      : await openStateStore(config, { logger, metrics }));
  if (audit === undefined)
    logger.warn('no audit log configured ("audit" in the config): decisions are not recorded');
  const oversight = await createOversight({
    config,
    store,
    clock,
    logger,
    runtimes,
    audit,
    ...(options.oversightPollMs === undefined ? {} : { pollMs: options.oversightPollMs }),
    ...(options.approvalLongPollMs === undefined ? {} : { longPollMs: options.approvalLongPollMs }),
  });
  const grants = oversight.grants;

  function resolveGrant(principal: Principal, server: string): GrantResolution | undefined {
    const runtime = runtimes.get(server);
    if (runtime === undefined) return undefined;
    const refused = runtime.refusal();
    const withRefusal = (r: GrantResolution): GrantResolution =>
      refused === undefined ? r : { ...r, refused };
    if (principal.kind === 'local') {
      return withRefusal({ grant: LOCAL_GRANT, policy: runtime.policyFor(LOCAL_GRANT) });
    }
    const grant = principal.kind === 'anonymous' ? config.anonymous : grants.get(principal.id);
    if (grant === undefined || !grant.servers.has(server)) return undefined;
    return withRefusal({ grant: grant.label, policy: runtime.policyFor(grant.label) });
  }

  const recordAudit = (ctx: CallContext) => {
    if (audit === undefined) return;
    try {
      audit.append(auditEntryFor(ctx, new Date(ctx.now).toISOString()));
    } catch (err) {
      logger.error({ err }, 'could not write audit row');
    }
  };
  const logDecision = (ctx: CallContext) => {
    if (ctx.decision?.decision === 'deny') {
      logger.info(
        {
          server: ctx.server,
          tool: ctx.tool,
          grant: ctx.grant,
          rule: ctx.decision.rule,
          session: ctx.sessionId,
        },
        'call denied',
      );
    }
  };
  // Traces only when a collector is configured; the SDK is loaded only then.
  const otlp = config.tracing?.otlp;
  const tracing =
    config.tracing !== undefined && otlp !== undefined
      ? (await import('./tracing.js')).createCallTracing({ ...config.tracing, otlp }, config.replicaId)
      : undefined;
  const pipeline: CallPipeline = createCallPipeline({
    resolveGrant,
    counters: store.counters,
    recorders: [recordAudit, metrics.record, logDecision, oversight.recordCall],
    approval: options.approval ?? oversight.step,
    ...(tracing === undefined ? {} : { tracing: tracing.step }),
  });

  const upstreams = new UpstreamDirectory({
    servers: config.servers,
    logger,
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    ...(options.reconnectWaitMs === undefined ? {} : { reconnectWaitMs: options.reconnectWaitMs }),
  });
  const modernAgents = new ModernAgents(logger, (server) => metrics.upstreamReconnects.inc({ server }));
  const routes = new Map<string, CoreRoute>();
  for (const runtime of runtimes.values()) {
    const catalogs = new ToolCatalogs(runtime.name, options.toolGate ?? oversight.gate, (tools) => {
      runtime.updateCatalog(tools as never);
    });
    const upstream = upstreams.get(runtime.name);
    routes.set(runtime.name, {
      name: runtime.name,
      runtime,
      catalogs,
      openLegacy: (session, init, events, resume) =>
        openLegacyUpstream(upstream, session, init, events, logger, resume),
      openModern: (principal, request) => modernAgents.upstreamFor(upstream, principal, request),
    });
  }

  const coreOptions = {
    routes,
    pipeline,
    resolveGrant,
    clock,
    logger,
    metrics,
    store,
    caps: {
      perGrant: config.limits.sessionsPerGrant,
      total: config.limits.sessions,
      grantCap: (label: string) => config.grants.get(label)?.maxSessions,
    },
    idleSessionMs: options.idleSessionMs ?? config.limits.sessionIdleMs,
  };
  const core: ForwardingCore = createForwardingCore(coreOptions);
  oversight.bindCore(core);
  for (const runtime of runtimes.values()) runtime.onPolicyApplied(() => core.toolsChanged(runtime.name));

  function authenticate(token: string | undefined, path?: string): Principal | undefined {
    const server = path === undefined ? undefined : SERVER_PATH.exec(path)?.[1];
    const reaches = (servers: ReadonlySet<string>) => server === undefined || servers.has(server);
    if (token === undefined || token === '') {
      const anonymous = config.anonymous;
      return anonymous !== undefined && reaches(anonymous.servers)
        ? { id: ANONYMOUS_GRANT, kind: 'anonymous' }
        : undefined;
    }
    const grant = grants.find(token);
    return grant !== undefined && reaches(grant.servers) ? { id: grant.label, kind: 'grant' } : undefined;
  }

  async function checkUpstreams(only?: ReadonlyArray<string>): Promise<UpstreamCheck[]> {
    const chosen = [...routes.values()].filter((r) => only === undefined || only.includes(r.name));
    return Promise.all(
      chosen.map(async (route): Promise<UpstreamCheck> => {
        try {
          const result = await upstreams.get(route.name).listTools();
          await route.catalogs.accept(toolsOf(result) ?? []);
          const problems = route.runtime.refusalProblems();
          return { server: route.name, state: route.runtime.state, problems };
        } catch (err) {
          const command = commandErrorOf(err);
          return {
            server: route.name,
            state: route.runtime.state,
            problems: [],
            error: (err as Error).message,
            ...(command === undefined
              ? {}
              : { cannotStart: { command: command.command, reason: command.reason } }),
          };
        }
      }),
    );
  }

  function healthz(_req: IncomingMessage, res: ServerResponse) {
    const servers = Object.fromEntries([...runtimes.values()].map((r) => [r.name, { state: r.state }]));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', servers }));
  }

  async function metricsRoute(_req: IncomingMessage, res: ServerResponse) {
    const text = await metrics.text();
    res.writeHead(200, { 'content-type': metrics.registry.contentType });
    res.end(text);
  }

  async function listen(listenOptions: ListenOptions = {}): Promise<McpHttpHost> {
    const host = await startMcpHttpHost<Principal>({
      name: 'bastion-gateway',
      logger,
      ...(listenOptions.host === undefined ? {} : { host: listenOptions.host }),
      ...(listenOptions.port === undefined ? {} : { port: listenOptions.port }),
      ...(listenOptions.allowedHosts === undefined ? {} : { allowedHosts: listenOptions.allowedHosts }),
      ...(listenOptions.allowedOrigins === undefined ? {} : { allowedOrigins: listenOptions.allowedOrigins }),
      ...(listenOptions.maxBodyBytes === undefined ? {} : { maxBodyBytes: listenOptions.maxBodyBytes }),
      endpoints: [...routes.keys()].map((name) => ({
        name,
        streamablePath: `/servers/${name}/mcp`,
        sse: { streamPath: `/servers/${name}/sse`, messagePath: `/servers/${name}/messages` },
        serve: (req, res, context) => core.serveHttp(req, res, context),
        // Legacy SSE agents: a channel session, served by the same core.
        openSession: (transport, info) =>
          core.openChannel(name, transport, {
            sessionId: info.sessionId,
            principal: info.principal,
          }),
      })),
      authenticate: (token, req) => authenticate(token, new URL(req.url ?? '/', 'http://localhost').pathname),
      routes: { '/healthz': healthz, '/metrics': metricsRoute, ...oversight.routes },
      publicRoutes: ['/healthz', ...oversight.publicRoutes],
      apps: oversight.apps,
    });
    hosts.add(host);
    oversight.listening(host.url);
    return host;
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      // Agents first (their calls finish and are recorded), then what they wrote to.
      await Promise.all([...hosts].map((h) => h.close()));
      await core.close();
      await modernAgents.close();
      await upstreams.close();
      for (const runtime of runtimes.values()) runtime.close();
      await oversight.close();
      await store.close();
      await tracing?.close().catch((err: unknown) => logger.warn({ err }, 'traces not all exported'));
      await audit?.close();
    })();
    return closing;
  }

  return {
    config,
    oversight,
    metrics,
    servers: runtimes,
    authenticate,
    openSession: (server, transport, o) => core.openChannel(server, transport, o),
    checkUpstreams,
    listen,
    serveLocal: (server, transport) =>
      core.openChannel(server, transport, {
        sessionId: 'stdio',
        principal: { id: LOCAL_GRANT, kind: 'local' },
        closeOnInitializeFailure: false,
      }),
    reloadPolicies: async () => {
      const events: PolicyEvent[] = [];
      for (const runtime of runtimes.values()) {
        for (const event of await runtime.reload()) events.push({ server: runtime.name, event });
      }
      return events;
    },
    onPolicyEvent(listener) {
      const offs = [...runtimes.values()].map((r) => r.onPolicyEvent(listener));
      return () => {
        for (const off of offs) off();
      };
    },
    sessionCount: () => core.sessionCount(),
    async shutdown(graceMs = config.limits.shutdownGraceMs) {
      await core.drain(graceMs);
      await close();
    },
    close,
  };
}
