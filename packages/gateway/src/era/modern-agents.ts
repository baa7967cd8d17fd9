/**
 * Where a 2026-era agent's requests go, by the upstream's era:
 *   - a 2026-era HTTP upstream: straight there (modern-upstream.ts), nothing held between requests;
 *   - a 2025-only upstream: the upstream session the gateway holds for the agent's grant, behind the
 *     era translation (modern-to-legacy.ts); one per grant and server, closed when it has been idle.
 */
import type { Logger } from 'pino';
import type { Upstream } from '../core/upstream.js';
import type { Principal } from '../pipeline/context.js';
import type { UpstreamServer } from '../upstream/directory.js';
import { ModernHttpUpstream } from '../upstream/modern-upstream.js';
import { StateSeal } from './held-calls.js';
import { ModernToLegacy } from './modern-to-legacy.js';

export const DEFAULT_IDENTITY_IDLE_MS = 30 * 60_000;

export class ModernAgents {
  private readonly held = new Map<string, Promise<ModernToLegacy>>();
  private readonly seal = new StateSeal();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    private readonly idleMs = DEFAULT_IDENTITY_IDLE_MS,
  ) {
    this.sweep = setInterval(() => void this.closeIdle(), Math.max(10, Math.min(idleMs / 4, 60_000)));
    this.sweep.unref();
  }

  /** The upstream a 2026-era request of `principal` goes to. */
  async upstreamFor(server: UpstreamServer, principal: Principal): Promise<Upstream> {
    const verdict = await server.era();
    if (verdict.era === 'modern' && server.pool.transport === 'http')
      return new ModernHttpUpstream(server, verdict, principal.id);
    return this.translation(server, principal.id);
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

  private translation(server: UpstreamServer, identity: string): Promise<ModernToLegacy> {
    const key = `${server.name}\u0000${identity}`;
    let held = this.held.get(key);
    if (held === undefined) {
      held = ModernToLegacy.open(server, identity, this.seal, this.logger);
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
