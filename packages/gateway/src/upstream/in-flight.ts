/**
 * The requests a link has in flight upstream: by upstream id, by progress token, with their
 * timeouts (one shared sweep) and the agents' cancellations. When several agents share the upstream
 * session, a request gets an upstream id (and progress token) of the link's own, and its answer goes
 * back under the agent's; otherwise it keeps the agent's, and answers pass through untouched.
 */
import type { Id, RpcRequest, Wire } from '../core/jsonrpc.js';
import { type Deadline, deadlines } from './deadlines.js';

/** Where a request's answer and related messages go. */
export interface LinkSink {
  /** A notification or server-to-client request that belongs to the request. */
  related(wire: Wire): void;
  /** The answer, under the id the request was sent with. */
  final(wire: Wire): void;
  /** No answer will come: lost, unavailable, timed out, cancelled, or refused at the HTTP level. */
  fail(err: Error): void;
}

export interface Pending extends Deadline {
  readonly sink: LinkSink;
  readonly method: string;
  readonly agentId: Id;
  readonly upstreamId: Id;
  readonly fromAgent: boolean;
  /** The agent's progress token, and the one sent upstream (different when ids are mapped). */
  readonly agentToken?: string | number;
  readonly upstreamToken?: string | number;
  /** The pipe generation it was sent on: a lost connection fails exactly these. */
  readonly generation: number;
  /** A listen stream: no timeout. */
  readonly longLived: boolean;
  detach?: () => void;
}

export class InFlight {
  private readonly byId = new Map<Id, Pending>();
  private readonly byToken = new Map<string | number, Pending>();
  private sequence = 0;

  constructor(
    private readonly timeoutMs: number,
    private readonly expired: (entry: Pending) => void,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** Registers a request; undefined when its upstream id is in flight already. */
  add(
    request: RpcRequest,
    sink: LinkSink,
    o: { fromAgent: boolean; map: boolean; generation: number; longLived?: boolean },
  ): Pending | undefined {
    const upstreamId = o.map ? ++this.sequence : request.id;
    if (this.byId.has(upstreamId)) return undefined;
    const token = (request.params?._meta as Record<string, unknown> | undefined)?.progressToken as
      | string
      | number
      | undefined;
    const entry: Pending = {
      sink,
      method: request.method,
      agentId: request.id,
      upstreamId,
      fromAgent: o.fromAgent,
      generation: o.generation,
      longLived: o.longLived === true,
      at: o.longLived ? Number.POSITIVE_INFINITY : Date.now() + this.timeoutMs,
      ...(token === undefined ? {} : { agentToken: token, upstreamToken: o.map ? `p${upstreamId}` : token }),
      expire: () => {
        if (this.remove(entry)) this.expired(entry);
      },
    };
    this.byId.set(upstreamId, entry);
    if (entry.upstreamToken !== undefined) this.byToken.set(entry.upstreamToken, entry);
    if (!entry.longLived) deadlines.add(entry);
    return entry;
  }

  /** Takes a request out of flight; false when it had left already. */
  remove(entry: Pending): boolean {
    if (this.byId.get(entry.upstreamId) !== entry) return false;
    this.byId.delete(entry.upstreamId);
    if (entry.upstreamToken !== undefined) this.byToken.delete(entry.upstreamToken);
    deadlines.delete(entry);
    entry.detach?.();
    return true;
  }

  get(upstreamId: Id): Pending | undefined {
    return this.byId.get(upstreamId);
  }

  /** The request a progress token belongs to; its timeout starts again (progress means work). */
  progressOf(token: string | number): Pending | undefined {
    const entry = this.byToken.get(token);
    if (entry !== undefined && !entry.longLived) entry.at = Date.now() + this.timeoutMs;
    return entry;
  }

  /** The agent request sent last and still in flight (one-channel pipes relate messages to it). */
  latest(): Pending | undefined {
    let last: Pending | undefined;
    for (const entry of this.byId.values()) if (entry.fromAgent) last = entry;
    return last;
  }

  /** Takes every request (of one generation, when given) out of flight. */
  drain(generation?: number): Pending[] {
    const entries = [...this.byId.values()].filter(
      (e) => generation === undefined || e.generation === generation,
    );
    for (const entry of entries) this.remove(entry);
    return entries;
  }

  /** The request as it goes upstream: the agent's, or a copy under the link's id and token. */
  upstreamMessage(request: RpcRequest, entry: Pending): RpcRequest {
    if (entry.upstreamId === request.id && entry.upstreamToken === entry.agentToken) return request;
    const params = request.params ?? {};
    const meta = params._meta as Record<string, unknown> | undefined;
    return {
      jsonrpc: '2.0',
      id: entry.upstreamId,
      method: request.method,
      params:
        meta === undefined || entry.upstreamToken === undefined
          ? params
          : { ...params, _meta: { ...meta, progressToken: entry.upstreamToken } },
    };
  }
}
