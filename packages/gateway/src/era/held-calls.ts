/**
 * A 2025-era upstream asks for input in the middle of a call (an `elicitation/create`, a
 * `sampling/createMessage`, a `roots/list` request); a 2026-era agent cannot be sent a request, it
 * gets an `input_required` result and retries the call with the answers (MRTR). So the gateway holds
 * the upstream call open, answers the agent's request with `input_required` and a `requestState` of
 * its own, and, when the retry comes, passes the answers upstream and relays the rest of the call to
 * the retry. The agent sees the multi-round-trip pattern; the upstream sees one call that asked.
 *
 * The `requestState` is sealed (HMAC) and bound to the caller's identity, the method and a digest of
 * the name and arguments, and it expires: a retry by someone else, of another call, or too late is
 * refused (-32602), as the spec's MRTR security requirements ask.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY } from '@modelcontextprotocol/server';
import { canonicalJson } from '../audit/chain.js';
import {
  ErrorCodes,
  errorMessage,
  type Id,
  RpcFault,
  type RpcMessage,
  type RpcNotification,
  type RpcRequest,
  type RpcResponse,
  resultMessage,
  type Wire,
} from '../core/jsonrpc.js';
import { type Deadline, deadlines } from '../upstream/deadlines.js';
import { CancelledError } from '../upstream/errors.js';
import type { LinkSink } from '../upstream/link.js';

/** Requests that may answer `input_required` (2026-07-28, "Supported Requests"). */
export const MRTR_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);
/** What a 2025-era server may ask a client in the middle of a call, and the capability it needs. */
export const SERVER_REQUESTS: Readonly<Record<string, string>> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};
/** How long a held call waits for the agent's retry (the input may come from a person). */
export const HELD_TTL_MS = 10 * 60_000;
/**
 * How long the first input request waits for its siblings: an upstream asking for several inputs in
 * one round (the SDK's legacy shim sends them concurrently) is answered with all of them in one
 * `input_required`. The input is for a person or a model; a few milliseconds do not show.
 */
const GATHER_MS = 10;
const LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** The agent request a held call's messages go to now. */
export interface Attachment {
  id: Id;
  sink: LinkSink;
  /** The request's own `io.modelcontextprotocol/logLevel`: absent means no log messages. */
  level: string | undefined;
  capabilities: Record<string, unknown>;
  progressToken: string | number | undefined;
}

export function attachmentOf(request: RpcRequest, sink: LinkSink): Attachment {
  const meta = (request.params?._meta ?? {}) as Record<string, unknown>;
  const capabilities = meta[CLIENT_CAPABILITIES_META_KEY];
  const level = meta[LOG_LEVEL_META_KEY];
  return {
    id: request.id,
    sink,
    level: typeof level === 'string' ? level : undefined,
    capabilities:
      capabilities !== null && typeof capabilities === 'object'
        ? (capabilities as Record<string, unknown>)
        : {},
    progressToken: meta.progressToken as string | number | undefined,
  };
}

/** Digest of what a retry must repeat: the name (or uri) and the arguments. */
export function callDigest(request: RpcRequest): string {
  const p = request.params ?? {};
  return createHash('sha256')
    .update(canonicalJson([request.method, p.name ?? p.uri ?? null, p.arguments ?? null]))
    .digest('base64url');
}

interface Sealed {
  h: string;
  i: string;
  m: string;
  d: string;
  e: number;
}

/** Seals and opens the gateway's `requestState` (HMAC-SHA256, a key per process). */
export class StateSeal {
  private readonly key = randomBytes(32);

  seal(state: Sealed): string {
    const body = Buffer.from(JSON.stringify(state)).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  open(token: string, now: number): Sealed | undefined {
    const [body, mac] = token.split('.');
    if (body === undefined || mac === undefined) return undefined;
    const want = Buffer.from(this.mac(body));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    try {
      const state = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Sealed;
      return state.e > now ? state : undefined;
    } catch {
      return undefined;
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

/** What a held call needs from the upstream session it runs on. */
export interface HeldHost {
  respond(response: RpcResponse): void;
  /** Turns the upstream's final answer into the 2026-era one. */
  finish(method: string, wire: Wire, agentId: Id): Wire;
  release(held: HeldCall): void;
}

/** One upstream call of a 2026-era agent, possibly spanning several of its requests. */
export class HeldCall implements Deadline {
  readonly id = randomUUID();
  readonly controller = new AbortController();
  at = Number.POSITIVE_INFINITY;
  private attached: Attachment | undefined;
  /** Server-to-client requests waiting for the agent's answers, by the key the agent sees. */
  private readonly asked = new Map<string, { id: Id; method: string; params: unknown }>();
  private keys = 0;
  private ended: Wire | Error | undefined;
  private gathering: NodeJS.Timeout | undefined;

  constructor(
    readonly request: RpcRequest,
    private readonly identity: string,
    private readonly host: HeldHost,
    private readonly seal: StateSeal,
  ) {}

  /** The sink the upstream call reports to. */
  readonly sink: LinkSink = {
    related: (wire) => this.related(wire),
    final: (wire) => this.end(wire),
    fail: (err) => this.end(err),
  };

  attach(attachment: Attachment, signal: AbortSignal | undefined): void {
    this.attached = attachment;
    deadlines.delete(this);
    signal?.addEventListener(
      'abort',
      () => {
        if (this.attached === attachment) this.cancel('cancelled by the agent');
      },
      { once: true },
    );
    if (this.ended !== undefined) {
      this.deliver();
      return;
    }
    if (this.asked.size > 0) this.askAgent();
  }

  /** The agent's retry: its answers go upstream, and the call goes on for the retry. */
  resume(attachment: Attachment, responses: Record<string, unknown>, signal: AbortSignal | undefined): void {
    for (const [key, question] of this.asked) {
      const answer = responses[key];
      if (answer === undefined || answer === null || typeof answer !== 'object') continue;
      this.asked.delete(key);
      this.host.respond({ jsonrpc: '2.0', id: question.id, result: answer as Record<string, unknown> });
    }
    this.attach(attachment, signal);
  }

  cancel(reason: string): void {
    clearTimeout(this.gathering);
    this.controller.abort(new CancelledError(reason));
    this.host.release(this);
  }

  /** Expired: nobody retried in time. */
  expire(): void {
    this.cancel('the agent did not retry in time');
  }

  /** Whether `token` seals this call for this identity and request. */
  static matches(state: { i: string; m: string; d: string }, identity: string, request: RpcRequest): boolean {
    return state.i === identity && state.m === request.method && state.d === callDigest(request);
  }

  private related(wire: Wire): void {
    const m = wire.msg as RpcRequest | RpcNotification;
    const need = SERVER_REQUESTS[m.method];
    if (need !== undefined && 'id' in m) {
      this.ask(m as RpcRequest, need);
      return;
    }
    const a = this.attached;
    if (a === undefined) return; // between rounds nobody listens for progress or logs
    if (m.method === 'notifications/message') {
      const level = (m.params as { level?: string } | undefined)?.level ?? 'info';
      if (a.level === undefined || LEVELS.indexOf(level) < LEVELS.indexOf(a.level)) return;
    }
    if (m.method === 'notifications/progress' && a.progressToken !== undefined) {
      a.sink.related({
        msg: { ...m, params: { ...m.params, progressToken: a.progressToken } } as RpcMessage,
      });
      return;
    }
    if (m.method === 'notifications/progress') return;
    a.sink.related(wire);
  }

  private ask(request: RpcRequest, capability: string): void {
    const a = this.attached;
    if (
      !MRTR_METHODS.has(this.request.method) ||
      (a !== undefined && a.capabilities[capability] === undefined)
    ) {
      // The agent cannot answer this: as a client would, refuse it upstream.
      this.host.respond(errorMessage(request.id, -32601, `the client does not support ${request.method}`));
      // Towards the agent the gateway is the 2026-era server, which must not rely on a capability
      // the request did not declare: the call ends with MissingRequiredClientCapability (HTTP 400).
      if (a !== undefined && MRTR_METHODS.has(this.request.method)) {
        this.attached = undefined;
        a.sink.final({
          msg: errorMessage(
            a.id,
            ErrorCodes.MissingRequiredClientCapability,
            `Missing required client capability: ${capability}`,
            { requiredCapabilities: { [capability]: {} } },
          ),
          status: 400,
        });
        this.cancel(`the client did not declare ${capability}`);
      }
      return;
    }
    this.asked.set(`input-${++this.keys}`, {
      id: request.id,
      method: request.method,
      params: request.params ?? {},
    });
    if (a !== undefined && this.gathering === undefined)
      this.gathering = setTimeout(() => {
        this.gathering = undefined;
        this.askAgent();
      }, GATHER_MS);
  }

  /** Answers the attached request with `input_required` for everything asked so far. */
  private askAgent(): void {
    const a = this.attached;
    if (a === undefined) return;
    this.attached = undefined;
    const inputRequests = Object.fromEntries(
      [...this.asked].map(([key, q]) => [key, { method: q.method, params: q.params }]),
    );
    const now = Date.now();
    const requestState = this.seal.seal({
      h: this.id,
      i: this.identity,
      m: this.request.method,
      d: callDigest(this.request),
      e: now + HELD_TTL_MS,
    });
    this.at = now + HELD_TTL_MS;
    deadlines.add(this);
    a.sink.final({ msg: resultMessage(a.id, { resultType: 'input_required', inputRequests, requestState }) });
  }

  private end(outcome: Wire | Error): void {
    clearTimeout(this.gathering);
    this.gathering = undefined;
    this.ended = outcome;
    if (this.attached !== undefined) this.deliver();
  }

  private deliver(): void {
    const a = this.attached;
    const outcome = this.ended;
    if (a === undefined || outcome === undefined) return;
    this.attached = undefined;
    deadlines.delete(this);
    this.host.release(this);
    if (outcome instanceof Error) a.sink.fail(outcome);
    else a.sink.final(this.host.finish(this.request.method, outcome, a.id));
  }
}

/** The `requestState` of a retry, opened and checked; a fault when it is not this caller's. */
export function openState(
  seal: StateSeal,
  token: unknown,
  identity: string,
  request: RpcRequest,
): string | RpcFault {
  if (typeof token !== 'string') return new RpcFault(-32602, 'Invalid params: requestState must be a string');
  const state = seal.open(token, Date.now());
  if (state === undefined || !HeldCall.matches(state, identity, request))
    return new RpcFault(
      -32602,
      'Invalid params: requestState is not valid for this request (tampered, expired or not yours)',
    );
  return state.h;
}
