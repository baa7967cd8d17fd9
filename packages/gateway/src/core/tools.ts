/**
 * The two methods policy acts on. `tools/call` runs the call pipeline with this caller's upstream as
 * its target; `tools/list` is forwarded and its answer filtered to the tools the grant may call (and
 * pinning has not withheld). Both keep the tool catalog current: an agent's own complete listing
 * refreshes it, and a `list_changed` from the upstream makes the next decision list again.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { CallContext, Principal } from '../pipeline/context.js';
import { gatewayError } from '../pipeline/denial.js';
import type { CallPipeline } from '../pipeline/index.js';
import type { GrantResolver } from '../pipeline/steps/resolve-grant.js';
import { isCallable } from '../policy/compile.js';
import type { ServerRuntime } from '../server-runtime.js';
import { incomingTrace, type TraceCarrier } from '../trace-context.js';
import {
  CancelledError,
  UpstreamLostError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';
import { agentOf, forwarded, withoutTasks } from './agent-link.js';
import { type ToolCatalog, type ToolCatalogs, toolsOf } from './catalog.js';
import {
  errorMessage,
  type Id,
  RpcFault,
  type RpcRequest,
  type RpcResponse,
  resultMessage,
  type Wire,
} from './jsonrpc.js';
import { governed } from './pushed.js';
import type { Reply } from './reply.js';
import type { AgentSession } from './sessions.js';
import type { Upstream } from './upstream.js';

/** One configured server as the core sees it. */
export interface ServerRoute {
  readonly name: string;
  readonly runtime: ServerRuntime;
  readonly catalogs: ToolCatalogs;
}

/** Who sent a request, and where it goes. */
export interface Caller {
  readonly era: 'legacy' | 'modern';
  readonly route: ServerRoute;
  readonly principal: Principal;
  /** The 2025-era session id, or `grant:<label>` for a 2026-era request. */
  readonly sessionId: string;
  readonly upstream: Upstream;
  readonly session: AgentSession | undefined;
  /** Headers of the agent's request to pass on (2026 era: `Mcp-Param-*`). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ToolContext {
  pipeline: CallPipeline;
  resolveGrant: GrantResolver;
  clock: Clock;
  logger: Logger;
}

/** Pages read when the gateway lists an upstream's tools itself. */
const MAX_PAGES = 100;

/** The catalog decisions for this caller are made on, without waiting. */
export function peekCatalog(caller: Caller): ToolCatalog | undefined {
  return caller.session?.catalog ?? caller.route.catalogs.current;
}

/** The caller's catalog, listing the upstream's tools first when none is known or it changed. */
export async function catalogOf(caller: Caller, relist = false): Promise<ToolCatalog | undefined> {
  const session = caller.session;
  const known = peekCatalog(caller);
  if (known !== undefined && !relist && session?.catalogStale !== true) return known;
  const tools = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await caller.upstream.call('tools/list', cursor === undefined ? {} : { cursor });
    tools.push(...(toolsOf(result) ?? []));
    cursor = typeof result.nextCursor === 'string' ? result.nextCursor : undefined;
    if (cursor === undefined) break;
  }
  const catalog = await caller.route.catalogs.accept(tools);
  if (session !== undefined) {
    session.catalog = catalog;
    session.catalogStale = false;
  }
  return catalog;
}

/** Whether the caller's upstream offers `name`, listing once more before saying no. */
async function hasTool(caller: Caller, name: string): Promise<boolean> {
  const catalog = await catalogOf(caller);
  if (catalog?.has(name)) return true;
  // The server's shared list may not be this session's: a session lists its own before a denial.
  const own = caller.session?.catalog !== undefined && caller.session.catalogStale === false;
  if (own) return false;
  return (await catalogOf(caller, true))?.has(name) ?? false;
}

/** A result of the gateway's own, as the caller's era writes it (an `input_required` one stays so). */
function inEra(caller: Caller, result: object): object {
  return caller.era === 'modern' ? { resultType: 'complete', ...result } : result;
}

function answerFault(reply: Reply, id: Id, err: unknown, logger: Logger, caller?: Caller): void {
  if (err instanceof CancelledError) return; // a cancelled request is answered by nobody
  if (err instanceof RpcFault) {
    const msg = errorMessage(id, err.code, err.message, err.data);
    reply.answer(id, err.status === undefined ? { msg } : { msg, status: err.status });
    return;
  }
  // The upstream failed before the call was forwarded (while its tools were listed): a tool error.
  if (
    err instanceof UpstreamUnavailableError ||
    err instanceof UpstreamLostError ||
    err instanceof UpstreamTimeoutError
  ) {
    const result = gatewayError(err.code, `upstream unavailable, call not sent: ${err.message}`);
    reply.answer(id, { msg: resultMessage(id, caller === undefined ? result : inEra(caller, result)) });
    return;
  }
  logger.error({ err }, 'tools/call failed in the gateway');
  reply.answer(id, { msg: errorMessage(id, -32603, 'Internal error') });
}

/** `tools/call`: the pipeline decides; an allowed call goes to the caller's upstream. */
export async function callTool(
  tc: ToolContext,
  caller: Caller,
  request: RpcRequest,
  reply: Reply,
): Promise<void> {
  const params = request.params ?? {};
  const name = params.name;
  const args = params.arguments;
  if (
    typeof name !== 'string' ||
    (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args)))
  ) {
    reply.answer(request.id, {
      msg: errorMessage(
        request.id,
        -32602,
        'Invalid params: tools/call needs a string name and object arguments',
      ),
    });
    return;
  }
  // The policy's args.* paths are checked against the first list the gateway sees: have one.
  try {
    await catalogOf(caller);
  } catch (err) {
    tc.logger.debug({ err, server: caller.route.name }, 'could not list the upstream tools before a call');
  }
  let upstreamWire: Wire | undefined;
  let upstreamResult: unknown;
  const ctx: CallContext = {
    requestId: request.id,
    sessionId: caller.sessionId,
    server: caller.route.name,
    tool: name,
    args: (args ?? {}) as Record<string, unknown>,
    now: tc.clock.now(),
    principal: caller.principal,
    signal: reply.signal,
    ...withIncomingTrace(params._meta, caller.headers),
    agent: agentOf(caller, request, reply),
    target: {
      hasTool: (tool) => hasTool(caller, tool),
      knowsTool: (tool) => peekCatalog(caller)?.has(tool) ?? false,
      withheld: (tool) => peekCatalog(caller)?.withheld.get(tool),
      inputSchema: (tool) => peekCatalog(caller)?.byName.get(tool)?.inputSchema,
      callTool: (signal) =>
        new Promise<CallToolResult>((resolve, reject) => {
          // Never as a task, without the gateway's own approval state, then with the gateway's span as trace parent.
          const traced = tracedRequest(
            forwarded(withoutTasks(request), ctx),
            ctx.upstreamTrace,
            caller.headers,
          );
          caller.upstream.request(
            traced.request,
            {
              related: governed(tc, caller.principal, caller.route.name, (wire) => reply.related(wire)),
              final: (wire) => {
                const m = wire.msg as RpcResponse;
                if (m.error !== undefined) {
                  reject(new RpcFault(m.error.code, m.error.message, m.error.data, wire.status));
                  return;
                }
                upstreamWire = wire;
                upstreamResult = m.result;
                resolve((m.result ?? {}) as CallToolResult);
              },
              fail: reject,
            },
            signal,
            traced.headers === undefined ? undefined : { headers: traced.headers },
          );
        }),
    },
  };
  try {
    const result = await tc.pipeline(ctx);
    // The upstream's own answer goes back as the upstream wrote it; the gateway's own (a denial, a
    // failure) is written in the agent's era (2026-07-28 results carry their resultType).
    if (result === upstreamResult && upstreamWire !== undefined) reply.answer(request.id, upstreamWire);
    else reply.answer(request.id, { msg: resultMessage(request.id, inEra(caller, result)) });
  } catch (err) {
    answerFault(reply, request.id, err, tc.logger, caller);
  }
}

function withIncomingTrace(
  meta: unknown,
  headers: Readonly<Record<string, string>> | undefined,
): { incomingTrace?: TraceCarrier } {
  const found = incomingTrace(
    typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>) : undefined,
    headers,
  );
  return found === undefined ? {} : { incomingTrace: found };
}

/**
 * The call as the upstream gets it: with the gateway's span as the trace parent when tracing runs
 * (in `_meta`, and in the headers that already carried the agent's), else as the agent sent it.
 */
function tracedRequest(
  request: RpcRequest,
  upstreamTrace: Record<string, string> | undefined,
  headers: Readonly<Record<string, string>> | undefined,
): { request: RpcRequest; headers: Readonly<Record<string, string>> | undefined } {
  if (upstreamTrace === undefined) return { request, headers };
  const params = request.params ?? {};
  const meta = typeof params._meta === 'object' && params._meta !== null ? params._meta : {};
  return {
    request: { ...request, params: { ...params, _meta: { ...meta, ...upstreamTrace } } },
    headers: headers?.traceparent === undefined ? headers : { ...headers, ...upstreamTrace },
  };
}

/** The tools the caller's grant may see, of those the upstream listed. */
export function visibleTools<T extends { name: string }>(
  tc: ToolContext,
  caller: Caller,
  tools: ReadonlyArray<T>,
  catalog: ToolCatalog | undefined,
): T[] {
  const resolved = tc.resolveGrant(caller.principal, caller.route.name);
  const policy = resolved?.refused === undefined ? resolved?.policy : undefined;
  if (policy === undefined) return [];
  return tools.filter((tool) => isCallable(policy, tool.name) && catalog?.withheld.has(tool.name) !== true);
}

/** `tools/list`: forwarded, then filtered; a complete listing refreshes the caller's catalog. */
export function listTools(
  tc: ToolContext,
  caller: Caller,
  request: RpcRequest,
  reply: Reply,
  fail: (err: unknown) => void,
): void {
  const firstPage = typeof request.params?.cursor !== 'string';
  caller.upstream.request(
    request,
    {
      related: governed(tc, caller.principal, caller.route.name, (wire) => reply.related(wire)),
      final: (wire) => {
        void answerList(tc, caller, request.id, wire, firstPage, reply).catch((err: unknown) => fail(err));
      },
      fail,
    },
    reply.signal,
    caller.headers === undefined ? undefined : { headers: caller.headers },
  );
}

async function answerList(
  tc: ToolContext,
  caller: Caller,
  id: Id,
  wire: Wire,
  firstPage: boolean,
  reply: Reply,
) {
  const m = wire.msg as RpcResponse;
  const tools = m.error === undefined ? toolsOf(m.result) : undefined;
  if (tools === undefined) {
    reply.answer(id, wire);
    return;
  }
  let catalog = peekCatalog(caller);
  if (firstPage && m.result?.nextCursor === undefined) {
    catalog = await caller.route.catalogs.accept(tools);
    if (caller.session !== undefined) {
      caller.session.catalog = catalog;
      caller.session.catalogStale = false;
    }
  }
  const visible = visibleTools(tc, caller, tools, catalog);
  // A list through the gateway is its grant's: never one a shared cache may hand to others.
  const shared = m.result?.cacheScope === 'public';
  reply.answer(
    id,
    visible.length === tools.length && !shared && wire.text !== undefined
      ? wire
      : {
          msg: resultMessage(id, {
            ...m.result,
            tools: visible,
            ...(shared ? { cacheScope: 'private' } : {}),
          }),
        },
  );
}
