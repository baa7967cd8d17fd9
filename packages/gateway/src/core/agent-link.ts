/**
 * The agent as a `tools/call` shows it to the approval step (`CallContext.agent`): the elicitation
 * modes it declared (at initialize in the 2025 era, in every request's `_meta` in the 2026 era), a
 * 2026-era retry's `requestState` and `inputResponses`, and for a 2025-era agent a way to ask it
 * something within the call. And the request as it is forwarded once the gateway has taken its own
 * state and answers out of it.
 */
import { CLIENT_CAPABILITIES_META_KEY } from '@modelcontextprotocol/server';
import type { AgentLink, CallContext } from '../pipeline/context.js';
import { AgentRequests } from './agent-requests.js';
import type { RpcMessage, RpcRequest, Wire } from './jsonrpc.js';
import type { Reply } from './reply.js';
import { withoutTasksExtension } from './tasks.js';
import type { Caller } from './tools.js';

/** The elicitation modes in declared capabilities (`elicitation: {}` is form only, by both eras' specs). */
export function elicitationOf(capabilities: unknown): AgentLink['elicitation'] {
  const declared = (capabilities as { elicitation?: unknown } | null | undefined)?.elicitation;
  if (declared === null || typeof declared !== 'object') return undefined;
  const modes = declared as { form?: unknown; url?: unknown };
  const url = modes.url !== undefined;
  return { form: modes.form !== undefined || !url, url };
}

/** The agent as the approval step sees it: what it declared, and how to ask it something. */
export function agentOf(caller: Caller, request: RpcRequest, reply: Reply): AgentLink {
  const params = request.params ?? {};
  if (caller.era === 'modern') {
    const meta = params._meta as Record<string, unknown> | undefined;
    const inputResponses = params.inputResponses;
    return {
      era: 'modern',
      elicitation: elicitationOf(meta?.[CLIENT_CAPABILITIES_META_KEY]),
      ...(typeof params.requestState === 'string' ? { requestState: params.requestState } : {}),
      ...(inputResponses !== null && typeof inputResponses === 'object'
        ? { inputResponses: inputResponses as Record<string, unknown> }
        : {}),
    };
  }
  const session = caller.session;
  return {
    era: 'legacy',
    // A session taken over from another replica has its capabilities only in its directory record.
    elicitation: elicitationOf(session?.clientCapabilities ?? session?.record?.capabilities),
    ...(session === undefined
      ? {}
      : {
          ask: (method: string, askParams: Record<string, unknown>, signal: AbortSignal) => {
            session.asked ??= new AgentRequests();
            return session.asked.ask(reply, method, askParams, signal);
          },
          notify: (method: string, notifyParams: Record<string, unknown>) =>
            reply.related({ msg: { jsonrpc: '2.0', method, params: notifyParams } }),
        }),
  };
}

/** The request as forwarded: without the gateway's own MRTR state and answers, when it took them. */
export function forwarded(request: RpcRequest, ctx: CallContext): RpcRequest {
  const consumed = ctx.consumedInput;
  if (consumed === undefined) return request;
  const { requestState: _state, inputResponses, ...params } = request.params ?? {};
  const left =
    inputResponses !== null && typeof inputResponses === 'object'
      ? Object.fromEntries(
          Object.entries(inputResponses as Record<string, unknown>).filter(
            ([k]) => !consumed.keys.includes(k),
          ),
        )
      : {};
  return {
    ...request,
    params: {
      ...params,
      ...(consumed.requestState || request.params?.requestState === undefined
        ? {}
        : { requestState: request.params.requestState }),
      ...(Object.keys(left).length > 0 ? { inputResponses: left } : {}),
    },
  };
}

/**
 * The call as the upstream sees it: never as a task (tasks.ts). The spec has a server that declares
 * no tasks ignore task metadata, and the gateway declares none: a 2025-era `params.task` and a
 * 2026-era tasks extension in the per-request client capabilities stay here.
 */
export function withoutTasks(request: RpcRequest): RpcRequest {
  const { task, ...params } = request.params ?? {};
  const meta = params._meta as Record<string, unknown> | undefined;
  const capabilities = withoutTasksExtension(meta?.[CLIENT_CAPABILITIES_META_KEY]);
  if (capabilities === undefined) return task === undefined ? request : { ...request, params };
  return {
    ...request,
    params: { ...params, _meta: { ...meta, [CLIENT_CAPABILITIES_META_KEY]: capabilities } },
  };
}

/** A `server/discover` answer as agents see it: without the tasks extension (tasks.ts). */
export function discoverWithoutTasks(wire: Wire): Wire {
  const result = (wire.msg as { result?: { capabilities?: unknown } }).result;
  const capabilities = withoutTasksExtension(result?.capabilities);
  if (result === undefined || capabilities === undefined) return wire;
  const { text: _text, ...kept } = wire;
  return { ...kept, msg: { ...wire.msg, result: { ...result, capabilities } } as RpcMessage };
}
