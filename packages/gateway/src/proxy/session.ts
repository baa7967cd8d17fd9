/**
 * One agent session through the gateway: a low-level SDK Server facing the agent and, behind it, an
 * upstream session of its own (UpstreamLink). Everything passes through in both directions except
 * what the policy decides: `tools/list` is filtered to the tools the grant may call, and every
 * `tools/call` runs the call pipeline. The Server is built when the agent initializes, with the
 * upstream's capabilities, serverInfo and instructions, and handlers only for the methods those
 * capabilities cover: any other method is "Method not found", never forwarded.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  type ClientCapabilities,
  CompleteRequestSchema,
  CreateMessageRequestSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  InitializeRequestSchema,
  type JSONRPCRequest,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListRootsRequestSchema,
  ListToolsRequestSchema,
  type LoggingLevel,
  LoggingMessageNotificationSchema,
  McpError,
  type Notification,
  type Progress,
  PromptListChangedNotificationSchema,
  ReadResourceRequestSchema,
  type Request,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ResultSchema,
  RootsListChangedNotificationSchema,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  type Tool,
  ToolListChangedNotificationSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { GatewayMetrics } from '../metrics.js';
import type { CallContext, Principal } from '../pipeline/context.js';
import { isGatewayResult } from '../pipeline/denial.js';
import type { CallPipeline } from '../pipeline/index.js';
import type { GrantResolver } from '../pipeline/steps/resolve-grant.js';
import { isCallable, mayDenyAfterListing } from '../policy/compile.js';
import { decideNotification } from '../policy/notifications.js';
import type { ServerRuntime } from '../server-runtime.js';
import type { BackoffOptions } from '../upstream/backoff.js';
import { UpstreamLostError, UpstreamUnavailableError } from '../upstream/errors.js';
import { UpstreamLink } from '../upstream/link.js';
import { DeferredTransport } from './deferred-transport.js';
import { presentTool } from './tools.js';

export interface ProxySessionOptions {
  runtime: ServerRuntime;
  sessionId: string;
  principal: Principal | undefined;
  resolveGrant: GrantResolver;
  pipeline: CallPipeline;
  clock: Clock;
  logger: Logger;
  metrics: GatewayMetrics;
  backoff?: BackoffOptions;
  reconnectWaitMs?: number;
  /** HTTP sessions end when their initialize fails; a stdio session stays open for another try. */
  closeOnInitializeFailure: boolean;
  onClosed?(): void;
}

export interface ProxySession {
  readonly id: string;
  close(): Promise<void>;
}

/** Server-to-agent requests may wait on a person (elicitation); the upstream's own timeout governs. */
const AGENT_REQUEST_TIMEOUT_MS = 30 * 60_000;

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

function withoutTasks<T extends { tasks?: unknown }>(capabilities: T): Omit<T, 'tasks'> {
  const { tasks: _tasks, ...rest } = capabilities;
  return rest;
}

/** Params for the upstream: the agent's progress token is replaced by the upstream client's own. */
function paramsForUpstream(params: Record<string, unknown> | undefined): {
  params: Record<string, unknown> | undefined;
  progressToken: string | number | undefined;
} {
  const meta = params?._meta as Record<string, unknown> | undefined;
  if (params === undefined || meta === undefined || !('progressToken' in meta)) {
    return { params, progressToken: undefined };
  }
  const { progressToken, ...restMeta } = meta;
  const { _meta: _drop, ...rest } = params;
  return {
    params: Object.keys(restMeta).length > 0 ? { ...rest, _meta: restMeta } : rest,
    progressToken: progressToken as string | number,
  };
}

export async function openProxySession(
  transport: Transport,
  options: ProxySessionOptions,
): Promise<ProxySession> {
  const { runtime, sessionId, principal, clock, metrics } = options;
  const log = options.logger.child({ server: runtime.name, session: sessionId });
  let link: UpstreamLink | undefined;
  let server: Server | undefined;
  let capabilities: ServerCapabilities = {};
  let clientCapabilities: ClientCapabilities = {};
  let closed = false;
  let announceReady: () => void = () => undefined;
  const serverReady = new Promise<void>((resolve) => {
    announceReady = resolve;
  });
  /** Agent requests being served now, oldest first: upstream messages that arrive meanwhile go with them. */
  const inflight: Array<string | number> = [];
  const calls = new Set<Promise<unknown>>();
  let logLevel: LoggingLevel | undefined;
  const subscriptions = new Set<string>();
  /** Tools the agent was shown with an outputSchema that does not admit the gateway's own results. */
  const shownUnwrapped = new Set<string>();
  /** The upstream's current tools by name, rebuilt when the link's list changes (a new array). */
  let toolIndex: { source: ReadonlyArray<Tool>; byName: Map<string, Tool> } | undefined;

  const deferred = new DeferredTransport(transport, (request) => void initialize(request));
  metrics.activeSessions.inc({ server: runtime.name });
  const stopListening = runtime.onPolicyApplied(() => {
    if (server !== undefined && capabilities.tools?.listChanged) {
      server
        .sendToolListChanged()
        .catch((err: unknown) => log.debug({ err }, 'could not notify tool list change'));
    }
  });

  function requireLink(): UpstreamLink {
    if (link === undefined) throw new McpError(ErrorCode.InvalidRequest, 'Session not initialized');
    return link;
  }

  function tools(): NonNullable<typeof toolIndex> {
    const source = link?.currentTools() ?? [];
    if (toolIndex?.source !== source) toolIndex = { source, byName: new Map(source.map((t) => [t.name, t])) };
    return toolIndex;
  }

  const related = () => inflight.at(-1);

  async function toAgentRequest(request: Request, extra: { signal: AbortSignal }) {
    await serverReady;
    const agent = server;
    if (agent === undefined) throw new McpError(ErrorCode.InternalError, 'agent session closed');
    const send = (relatedRequestId: string | number | undefined) =>
      agent.request({ method: request.method, params: request.params } as ServerRequest, ResultSchema, {
        signal: extra.signal,
        timeout: AGENT_REQUEST_TIMEOUT_MS,
        ...(relatedRequestId === undefined ? {} : { relatedRequestId }),
      });
    const relatedId = related();
    try {
      return await send(relatedId);
    } catch (err) {
      // The request it was sent with finished in between (its stream is gone): send it on its own.
      if (relatedId !== undefined && !(err instanceof McpError)) return send(undefined);
      throw err;
    }
  }

  function toAgentNotification(notification: Notification): void {
    // Pushed data goes to the agent only if the policy lets it read that data (policy/notifications.ts).
    const verdict = decideNotification(policyNow()?.policy, notification);
    if (verdict.action === 'drop') {
      log.debug({ method: notification.method, rule: verdict.rule }, 'notification withheld by the policy');
      return;
    }
    void serverReady.then(async () => {
      const agent = server;
      if (agent === undefined || closed) return;
      const relatedId = related();
      try {
        await agent.notification(
          notification as ServerNotification,
          relatedId === undefined ? {} : { relatedRequestId: relatedId },
        );
      } catch (err) {
        if (relatedId === undefined) {
          log.debug({ err, method: notification.method }, 'notification not passed to the agent');
          return;
        }
        await agent
          .notification(notification as ServerNotification)
          .catch((e: unknown) =>
            log.debug({ err: e, method: notification.method }, 'notification not passed to the agent'),
          );
      }
    });
  }

  /** Handlers for what the upstream sends to the agent, installed on every new upstream Client. */
  function setupClient(client: Client): void {
    if (clientCapabilities.sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, (r, extra) => toAgentRequest(r, extra) as never);
    }
    if (clientCapabilities.elicitation) {
      client.setRequestHandler(ElicitRequestSchema, (r, extra) => toAgentRequest(r, extra) as never);
    }
    if (clientCapabilities.roots) {
      client.setRequestHandler(ListRootsRequestSchema, (r, extra) => toAgentRequest(r, extra) as never);
    }
    client.setNotificationHandler(LoggingMessageNotificationSchema, toAgentNotification);
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, toAgentNotification);
    client.setNotificationHandler(ResourceListChangedNotificationSchema, toAgentNotification);
    client.setNotificationHandler(PromptListChangedNotificationSchema, toAgentNotification);
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, toAgentNotification);
    client.setNotificationHandler(ToolListChangedNotificationSchema, (n) => {
      link?.toolsChanged();
      toAgentNotification(n);
    });
  }

  /**
   * Passes the upstream's progress for one request back to the agent under the agent's own token.
   * `settled()` lets the answer follow only after the progress sent for it has been written.
   */
  function progressRelay(progressToken: string | number | undefined, extra: Extra) {
    const sent: Array<Promise<void>> = [];
    const options =
      progressToken === undefined
        ? {}
        : {
            onprogress: (progress: Progress) => {
              sent.push(
                extra
                  .sendNotification({
                    method: 'notifications/progress',
                    params: { ...progress, progressToken },
                  })
                  .catch((err: unknown) => log.debug({ err }, 'progress not passed to the agent')),
              );
            },
          };
    return {
      options,
      async settled(): Promise<void> {
        if (sent.length === 0) return;
        await Promise.all(sent);
      },
    };
  }

  /** Forwards one agent request upstream, with progress passed back under the agent's own token. */
  async function forward(
    request: Request,
    extra: Extra,
    retryIfLost = false,
  ): Promise<Record<string, unknown>> {
    const upstream = requireLink();
    const { params, progressToken } = paramsForUpstream(
      request.params as Record<string, unknown> | undefined,
    );
    const relay = progressRelay(progressToken, extra);
    inflight.push(extra.requestId);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await upstream.request(
            { method: request.method, ...(params === undefined ? {} : { params }) },
            ResultSchema,
            { signal: extra.signal, ...relay.options },
          );
          await relay.settled();
          return result;
        } catch (err) {
          if (err instanceof UpstreamLostError) {
            // Reads are safe to repeat on the new session; anything else is reported.
            if (retryIfLost && attempt === 0) continue;
            throw new McpError(
              ErrorCode.InternalError,
              `upstream restarted, request not completed: ${err.message}`,
            );
          }
          if (err instanceof UpstreamUnavailableError)
            throw new McpError(ErrorCode.InternalError, err.message);
          throw err;
        }
      }
    } finally {
      inflight.splice(inflight.indexOf(extra.requestId), 1);
    }
  }

  async function callTool(
    request: { params: { name: string; arguments?: Record<string, unknown> } } & Request,
    extra: Extra,
  ) {
    const upstream = requireLink();
    const name = request.params.name;
    const args = request.params.arguments ?? {};
    const { params, progressToken } = paramsForUpstream(request.params as Record<string, unknown>);
    const relay = progressRelay(progressToken, extra);
    const ctx: CallContext = {
      requestId: extra.requestId,
      sessionId,
      server: runtime.name,
      tool: name,
      args,
      now: clock.now(),
      principal,
      signal: extra.signal,
      target: {
        hasTool: async (tool) => {
          await upstream.freshTools(); // lists again if the tool list changed; tools() then sees it
          return tools().byName.has(tool);
        },
        knowsTool: (tool) => tools().byName.has(tool),
        inputSchema: (tool) => tools().byName.get(tool)?.inputSchema,
        callTool: (signal) =>
          upstream
            .request(
              // Only what the gateway understands goes upstream: name, arguments and _meta.
              {
                method: 'tools/call',
                params: {
                  name,
                  arguments: args,
                  ...(params?._meta === undefined ? {} : { _meta: params._meta as Record<string, unknown> }),
                },
              },
              CallToolResultSchema,
              { signal, ...relay.options },
            )
            .then(async (result) => {
              await relay.settled();
              return result;
            }),
      },
    };
    inflight.push(extra.requestId);
    const running = options.pipeline(ctx);
    calls.add(running);
    try {
      const result = await running;
      if (isGatewayResult(result) && shownUnwrapped.has(name)) {
        // The agent holds an outputSchema our structuredContent would fail; the text says it all.
        const { structuredContent: _omit, ...rest } = result;
        return rest;
      }
      return result;
    } finally {
      calls.delete(running);
      inflight.splice(inflight.indexOf(extra.requestId), 1);
    }
  }

  function policyNow() {
    return principal === undefined ? undefined : options.resolveGrant(principal, runtime.name);
  }

  function buildServer(): Server {
    const init = requireLink().init;
    if (init === undefined) throw new Error('upstream not initialized');
    capabilities = withoutTasks(init.capabilities);
    const agentServer = new Server(init.serverInfo, {
      capabilities,
      ...(init.instructions === undefined ? {} : { instructions: init.instructions }),
    });
    if (capabilities.tools) {
      agentServer.setRequestHandler(ListToolsRequestSchema, async (request, extra) => {
        const result = await forward(request, extra, true);
        const resolved = policyNow();
        const policy = resolved?.refused === undefined ? resolved?.policy : undefined;
        const listed = Array.isArray(result.tools) ? (result.tools as Tool[]) : [];
        const visible =
          policy === undefined
            ? []
            : listed
                .filter((tool) => typeof tool?.name === 'string' && isCallable(policy, tool.name))
                .map((tool) => {
                  const mayDeny = mayDenyAfterListing(policy, tool.name);
                  if (tool.outputSchema !== undefined && !mayDeny) shownUnwrapped.add(tool.name);
                  else shownUnwrapped.delete(tool.name);
                  return presentTool(tool, mayDeny);
                });
        return { ...result, tools: visible };
      });
      agentServer.setRequestHandler(CallToolRequestSchema, (request, extra) => callTool(request, extra));
    }
    if (capabilities.resources) {
      agentServer.setRequestHandler(
        ListResourcesRequestSchema,
        (r, extra) => forward(r, extra, true) as never,
      );
      agentServer.setRequestHandler(
        ListResourceTemplatesRequestSchema,
        (r, extra) => forward(r, extra, true) as never,
      );
      agentServer.setRequestHandler(
        ReadResourceRequestSchema,
        (r, extra) => forward(r, extra, true) as never,
      );
      if (capabilities.resources.subscribe) {
        agentServer.setRequestHandler(SubscribeRequestSchema, async (r, extra) => {
          const result = await forward(r, extra, true);
          subscriptions.add(r.params.uri);
          return result;
        });
        agentServer.setRequestHandler(UnsubscribeRequestSchema, async (r, extra) => {
          const result = await forward(r, extra, true);
          subscriptions.delete(r.params.uri);
          return result;
        });
      }
    }
    if (capabilities.prompts) {
      agentServer.setRequestHandler(ListPromptsRequestSchema, (r, extra) => forward(r, extra, true) as never);
      agentServer.setRequestHandler(GetPromptRequestSchema, (r, extra) => forward(r, extra, true) as never);
    }
    if (capabilities.completions) {
      agentServer.setRequestHandler(CompleteRequestSchema, (r, extra) => forward(r, extra, true) as never);
    }
    if (capabilities.logging) {
      // Replaces the SDK's local handler: the level is the upstream's business, and is replayed after a reconnect.
      agentServer.setRequestHandler(SetLevelRequestSchema, async (r, extra) => {
        const result = await forward(r, extra, true);
        logLevel = r.params.level;
        return result;
      });
    }
    agentServer.setNotificationHandler(RootsListChangedNotificationSchema, async (n) => {
      await link?.notify(n).catch((err: unknown) => log.debug({ err }, 'roots change not passed upstream'));
    });
    agentServer.onclose = () => void close();
    return agentServer;
  }

  async function onReconnected(client: Client): Promise<void> {
    metrics.upstreamReconnects.inc({ server: runtime.name });
    const current = link?.currentTools() ?? [];
    runtime.updateCatalog(current);
    if (logLevel !== undefined) await client.setLoggingLevel(logLevel);
    for (const uri of subscriptions) await client.subscribeResource({ uri });
    if (capabilities.tools?.listChanged && server !== undefined) {
      // The new upstream session may offer other tools; let the agent list again.
      await server.sendToolListChanged();
    }
  }

  async function failInitialize(request: JSONRPCRequest, message: string): Promise<void> {
    log.warn({ reason: message }, 'agent session not initialized');
    deferred.reset();
    await transport
      .send(
        { jsonrpc: '2.0', id: request.id, error: { code: ErrorCode.InternalError, message } },
        { relatedRequestId: request.id },
      )
      .catch((err: unknown) => log.debug({ err }, 'could not answer initialize'));
    if (options.closeOnInitializeFailure) await close();
  }

  async function initialize(request: JSONRPCRequest): Promise<void> {
    const parsed = InitializeRequestSchema.safeParse(request);
    if (!parsed.success) return failInitialize(request, 'invalid initialize request');
    const refusal = runtime.refusal();
    if (refusal !== undefined) return failInitialize(request, refusal);
    clientCapabilities = withoutTasks(parsed.data.params.capabilities);
    const candidate = new UpstreamLink({
      server: runtime.name,
      upstream: runtime.config.upstream,
      clientInfo: parsed.data.params.clientInfo,
      clientCapabilities,
      timeoutMs: runtime.config.timeoutMs,
      logger: log,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.reconnectWaitMs === undefined ? {} : { reconnectWaitMs: options.reconnectWaitMs }),
      setup: setupClient,
      onReconnected,
    });
    try {
      await candidate.open();
    } catch (err) {
      return failInitialize(request, (err as Error).message);
    }
    if (closed) {
      await candidate.close();
      return;
    }
    runtime.updateCatalog(candidate.currentTools());
    const refused = runtime.refusal();
    if (refused !== undefined) {
      await candidate.close();
      return failInitialize(request, refused);
    }
    link = candidate;
    server = buildServer();
    await server.connect(deferred);
    deferred.attach();
    announceReady();
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    stopListening();
    metrics.activeSessions.dec({ server: runtime.name });
    await link?.close();
    await Promise.allSettled([...calls]);
    if (server !== undefined) await server.close().catch(() => undefined);
    else await transport.close().catch(() => undefined);
    announceReady();
    options.onClosed?.();
  }

  await transport.start();
  return { id: sessionId, close };
}
