/**
 * The gateway: configured servers with their policies, the call pipeline composed once, the counter
 * store, the audit log and the metrics; sessions opened over HTTP (every server at its own URL) or
 * over stdio (one server, for desktop clients).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type McpHttpHost, startMcpHttpHost } from '@bastion/mcp-http';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { type Logger, pino } from 'pino';
import { auditEntryFor } from './audit/log.js';
import { openAuditLog } from './audit/open.js';
import { type Clock, systemClock } from './clock.js';
import { ANONYMOUS_GRANT, type GatewayConfig, LOCAL_GRANT } from './config.js';
import { indexGrants } from './grants.js';
import { MemoryCounterStore } from './limits/memory-store.js';
import type { CounterStore } from './limits/store.js';
import { GatewayMetrics } from './metrics.js';
import type { CallContext, CallStep, Principal } from './pipeline/context.js';
import { type CallPipeline, createCallPipeline } from './pipeline/index.js';
import type { GrantResolution } from './pipeline/steps/resolve-grant.js';
import type { Problem } from './policy/problems.js';
import { openProxySession, type ProxySession } from './proxy/session.js';
import { type PolicyEvent, ServerRuntime, type ServerState } from './server-runtime.js';
import type { BackoffOptions } from './upstream/backoff.js';
import { UpstreamLink } from './upstream/link.js';

export interface GatewayOptions {
  config: GatewayConfig;
  logger?: Logger;
  /** Injected clock for window arithmetic and audit times (tests use a fake one). */
  clock?: Clock;
  /** Where rate-limit counters live; in memory by default (a shared store comes with several gateways). */
  counters?: CounterStore;
  /** Human approval step (a later issue), run after limits and before forwarding. */
  approval?: CallStep;
  /** Reconnect backoff towards upstreams. */
  backoff?: BackoffOptions;
  /** How long a request waits for an upstream reconnect in progress. */
  reconnectWaitMs?: number;
  /** Watch policy files and reload them on change (default true). */
  watchPolicies?: boolean;
}

export interface OpenSessionOptions {
  sessionId: string;
  principal: Principal | undefined;
  closeOnInitializeFailure: boolean;
}

export interface UpstreamCheck {
  server: string;
  state: ServerState;
  problems: ReadonlyArray<Problem>;
  /** Set when the upstream could not be reached. */
  error?: string;
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
  readonly metrics: GatewayMetrics;
  readonly servers: ReadonlyMap<string, ServerRuntime>;
  /** The principal a bearer token stands for on `path` (a server's URL), or undefined (401). */
  authenticate(token: string | undefined, path?: string): Principal | undefined;
  openSession(server: string, transport: Transport, options: OpenSessionOptions): Promise<ProxySession>;
  /** Reaches each upstream (all, or those named) once and checks the policies' `args.*` paths against its tools. */
  checkUpstreams(servers?: ReadonlyArray<string>): Promise<UpstreamCheck[]>;
  listen(options?: ListenOptions): Promise<McpHttpHost>;
  /** Serves one server to the local operator over `transport` (stdio). */
  serveLocal(server: string, transport: Transport): Promise<ProxySession>;
  /** Reads every policy file again now, as a change on disk would. */
  reloadPolicies(): Promise<PolicyEvent[]>;
  onPolicyEvent(listener: (event: PolicyEvent) => void): () => void;
  close(): Promise<void>;
}

const SERVER_PATH = /^\/servers\/([^/]+)\//;

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const clock = options.clock ?? systemClock;
  const counters = options.counters ?? new MemoryCounterStore();
  const metrics = new GatewayMetrics();
  const runtimes = new Map<string, ServerRuntime>();
  const sessions = new Set<ProxySession>();
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
  if (audit === undefined)
    logger.warn('no audit log configured ("audit" in the config): decisions are not recorded');

  function resolveGrant(principal: Principal, server: string): GrantResolution | undefined {
    const runtime = runtimes.get(server);
    if (runtime === undefined) return undefined;
    const refused = runtime.refusal();
    const withRefusal = (r: GrantResolution): GrantResolution =>
      refused === undefined ? r : { ...r, refused };
    if (principal.kind === 'local') {
      return withRefusal({ grant: LOCAL_GRANT, policy: runtime.policyFor(LOCAL_GRANT) });
    }
    const grant = principal.kind === 'anonymous' ? config.anonymous : config.grants.get(principal.id);
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
  const pipeline: CallPipeline = createCallPipeline({
    resolveGrant,
    counters,
    recorders: [recordAudit, metrics.record, logDecision],
    ...(options.approval === undefined ? {} : { approval: options.approval }),
  });

  const grantIndex = indexGrants(config.grants.values());
  function authenticate(token: string | undefined, path?: string): Principal | undefined {
    const server = path === undefined ? undefined : SERVER_PATH.exec(path)?.[1];
    const reaches = (servers: ReadonlySet<string>) => server === undefined || servers.has(server);
    if (token === undefined || token === '') {
      const anonymous = config.anonymous;
      return anonymous !== undefined && reaches(anonymous.servers)
        ? { id: ANONYMOUS_GRANT, kind: 'anonymous' }
        : undefined;
    }
    const grant = grantIndex.find(token);
    return grant !== undefined && reaches(grant.servers) ? { id: grant.label, kind: 'grant' } : undefined;
  }

  async function openSession(
    server: string,
    transport: Transport,
    o: OpenSessionOptions,
  ): Promise<ProxySession> {
    const runtime = runtimes.get(server);
    if (runtime === undefined) throw new Error(`no server named '${server}'`);
    const session = await openProxySession(transport, {
      runtime,
      sessionId: o.sessionId,
      principal: o.principal,
      resolveGrant,
      pipeline,
      clock,
      logger,
      metrics,
      closeOnInitializeFailure: o.closeOnInitializeFailure,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.reconnectWaitMs === undefined ? {} : { reconnectWaitMs: options.reconnectWaitMs }),
      onClosed: () => sessions.delete(session),
    });
    sessions.add(session);
    return session;
  }

  async function checkUpstreams(only?: ReadonlyArray<string>): Promise<UpstreamCheck[]> {
    const chosen = [...runtimes.values()].filter((r) => only === undefined || only.includes(r.name));
    return Promise.all(
      chosen.map(async (runtime): Promise<UpstreamCheck> => {
        const probe = new UpstreamLink({
          server: runtime.name,
          upstream: runtime.config.upstream,
          clientInfo: { name: 'bastion-gateway', version: '0.1.0' },
          clientCapabilities: {},
          timeoutMs: runtime.config.timeoutMs,
          logger,
          setup: () => undefined,
        });
        try {
          await probe.open();
          const problems = runtime.updateCatalog(probe.currentTools());
          return { server: runtime.name, state: runtime.state, problems };
        } catch (err) {
          return { server: runtime.name, state: runtime.state, problems: [], error: (err as Error).message };
        } finally {
          await probe.close();
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
      endpoints: [...runtimes.keys()].map((name) => ({
        name,
        streamablePath: `/servers/${name}/mcp`,
        sse: { streamPath: `/servers/${name}/sse`, messagePath: `/servers/${name}/messages` },
        openSession: (transport, info) =>
          openSession(name, transport, {
            sessionId: info.sessionId,
            principal: info.principal,
            closeOnInitializeFailure: true,
          }),
      })),
      authenticate: (token, req) => authenticate(token, new URL(req.url ?? '/', 'http://localhost').pathname),
      routes: { '/healthz': healthz, '/metrics': metricsRoute },
      publicRoutes: ['/healthz'],
    });
    hosts.add(host);
    return host;
  }

  let closing: Promise<void> | undefined;
  return {
    config,
    metrics,
    servers: runtimes,
    authenticate,
    openSession,
    checkUpstreams,
    listen,
    serveLocal: (server, transport) =>
      openSession(server, transport, {
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
    close() {
      closing ??= (async () => {
        // Sessions first (their calls finish and are recorded), then what they wrote to.
        await Promise.all([...hosts].map((h) => h.close()));
        await Promise.all([...sessions].map((s) => s.close()));
        for (const runtime of runtimes.values()) runtime.close();
        await counters.close();
        await audit?.close();
      })();
      return closing;
    },
  };
}
