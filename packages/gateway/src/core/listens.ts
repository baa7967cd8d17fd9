/**
 * The 2026-era `subscriptions/listen` streams open through the gateway, by server. They pass through
 * as the upstream (or the era translation) serves them; the gateway adds what only it knows: a
 * policy reload changes the tools a grant may call, which its streams that asked for tool-list
 * changes are told, and a gateway that shuts down ends each stream gracefully (its result, then the
 * end of the stream, as the spec's "Graceful Closure" asks).
 */
import { SUBSCRIPTION_ID_META_KEY } from '@modelcontextprotocol/server';
import { type Id, type RpcRequest, resultMessage, type Wire } from './jsonrpc.js';
import type { Reply } from './reply.js';
import type { Caller } from './tools.js';

interface Listener {
  reply: Reply;
  id: Id;
  /** It asked for tool-list changes. */
  tools: boolean;
}

export class ListenStreams {
  private readonly byServer = new Map<string, Set<Listener>>();

  /** Opens `request`'s stream upstream; `related` delivers (governed) notifications, `failed` answers a failure. */
  open(
    caller: Caller,
    request: RpcRequest,
    reply: Reply,
    related: (wire: Wire) => void,
    failed: (err: Error) => void,
  ): void {
    const filter = request.params?.notifications as { toolsListChanged?: unknown } | undefined;
    const entry: Listener = { reply, id: request.id, tools: filter?.toolsListChanged === true };
    let set = this.byServer.get(caller.route.name);
    if (set === undefined) {
      set = new Set();
      this.byServer.set(caller.route.name, set);
    }
    const open = set;
    open.add(entry);
    const done = () => open.delete(entry);
    reply.signal.addEventListener('abort', done, { once: true });
    caller.upstream.request(
      request,
      {
        related,
        final: (wire) => {
          done();
          reply.answer(request.id, wire);
        },
        fail: (err) => {
          done();
          failed(err);
        },
      },
      reply.signal,
      { ...(caller.headers === undefined ? {} : { headers: caller.headers }), longLived: true },
    );
  }

  /** The tools the agents of `server` may call changed (a policy reload). */
  toolsChanged(server: string): void {
    for (const entry of this.byServer.get(server) ?? []) {
      if (!entry.tools) continue;
      entry.reply.related({
        msg: {
          jsonrpc: '2.0',
          method: 'notifications/tools/list_changed',
          params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: entry.id } },
        },
      });
    }
  }

  /** Ends every stream gracefully: its result, then the end of the stream. */
  closeAll(): void {
    for (const set of this.byServer.values()) {
      for (const entry of set) {
        entry.reply.answer(entry.id, {
          msg: resultMessage(entry.id, {
            resultType: 'complete',
            _meta: { [SUBSCRIPTION_ID_META_KEY]: entry.id },
          }),
        });
      }
    }
    this.byServer.clear();
  }
}
