/**
 * Where a 2026-era agent's requests go, by the upstream's era:
 *   - a 2026-era HTTP upstream: straight there (modern-upstream.ts), nothing held between requests;
 *   - a 2025-only upstream: the upstream session the gateway holds for the agent's grant, behind the
 *     era translation (modern-to-legacy.ts); one per grant, server and set of client capabilities the
 *     upstream may ask for, closed when it has been idle.
 */
import type { Logger } from 'pino';
import { canonicalJson } from '../audit/chain.js';
import type { RpcRequest } from '../core/jsonrpc.js';
import type { Upstream } from '../core/upstream.js';
import type { Principal } from '../pipeline/context.js';
import type { EraVerdict, UpstreamServer } from '../upstream/directory.js';
import { ModernHttpUpstream } from '../upstream/modern-upstream.js';
import { StateSeal } from './held-calls.js';
import { openModern } from './legacy-session.js';
import { askableCapabilities, ModernToLegacy } from './modern-to-legacy.js';

/** What a grant holds on a server between its requests. */
interface HeldUpstream extends Upstream {
  readonly identity: string;
  readonly idle: boolean;
  readonly lastUsed: number;
}

/** A 2026-era stdio process shared by a grant's requests: it counts as idle when nothing is in flight. */
class SharedModern implements HeldUpstream {
  lastUsed = Date.now();
  private running = 0;

  constructor(
    private readonly inner: Upstream,
    readonly identity: string,
  ) {}

  get init() {
    return this.inner.init;
  }

  get idle(): boolean {
    return this.running === 0;
  }

  request(...args: Parameters<Upstream['request']>): void {
    this.lastUsed = Date.now();
    this.running++;
    const [request, sink, signal, options] = args;
    const done = () => {
      this.running--;
      this.lastUsed = Date.now();
    };
    this.inner.request(
      request,
      {
        related: (wire) => sink.related(wire),
        final: (wire) => {
          done();
          sink.final(wire);
        },
        fail: (err) => {
          done();
          sink.fail(err);
        },
      },
      signal,
      options,
    );
  }

  call(...args: Parameters<Upstream['call']>) {
    return this.inner.call(...args);
  }

  notify(...args: Parameters<Upstream['notify']>): void {
    this.inner.notify(...args);
  }

  respond(...args: Parameters<Upstream['respond']>): void {
    this.inner.respond(...args);
  }

  listen(on: boolean): void {
    this.inner.listen(on);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export const DEFAULT_IDENTITY_IDLE_MS = 30 * 60_000;

export class ModernAgents {
  private readonly held = new Map<string, Promise<HeldUpstream>>();
  private readonly seal = new StateSeal();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    /** Counted in the metrics: a held upstream session replaced after the upstream went away. */
    private readonly onReconnected: (server: string) => void = () => undefined,
    private readonly idleMs = DEFAULT_IDENTITY_IDLE_MS,
  ) {
    this.sweep = setInterval(() => void this.closeIdle(), Math.max(10, Math.min(idleMs / 4, 60_000)));
    this.sweep.unref();
  }

  /** The upstream `request`, a 2026-era request of `principal`, goes to. */
  async upstreamFor(server: UpstreamServer, principal: Principal, request: RpcRequest): Promise<Upstream> {
    const verdict = await server.era();
    if (verdict.era === 'modern' && server.pool.transport === 'http')
      return new ModernHttpUpstream(server, verdict, principal.id);
    return this.heldFor(server, principal.id, verdict, request);
  }

  /** Upstream sessions held for grants now. */
  get size(): number {
    return this.held.size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    const all = [...this.held.values()];
    this.held.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
  }

  /**
   * What the gateway holds for one grant on a server: a 2026-era stdio process it shares among the
   * grant's requests, or the translation in front of a 2025-only upstream.
   */
  private heldFor(
    server: UpstreamServer,
    identity: string,
    verdict: EraVerdict,
    request: RpcRequest,
  ): Promise<HeldUpstream> {
    const capabilities = verdict.era === 'modern' ? {} : askableCapabilities(request);
    const key = `${server.name}\u0000${identity}\u0000${canonicalJson(capabilities)}`;
    let held = this.held.get(key);
    if (held === undefined) {
      held =
        verdict.era === 'modern'
          ? openModern(
              server,
              verdict,
              identity,
              { push: () => undefined, reconnected: () => this.onReconnected(server.name) },
              true,
            ).then((u) => new SharedModern(u, identity))
          : ModernToLegacy.open(server, identity, capabilities, this.seal, this.logger, () =>
              this.onReconnected(server.name),
            );
      // A failed opening is not kept: the next request tries again.
      held.catch(() => this.held.delete(key));
      this.held.set(key, held);
    }
    return held;
  }

  private async closeIdle(): Promise<void> {
    const now = Date.now();
    for (const [key, pending] of this.held) {
      const translation = await pending.catch(() => undefined);
      if (translation === undefined || !translation.idle || now - translation.lastUsed < this.idleMs)
        continue;
      if (this.held.get(key) !== pending) continue;
      this.held.delete(key);
      this.logger.info({ identity: translation.identity }, 'closing the idle upstream session of a grant');
      await translation.close();
    }
  }
}
