/**
 * State of the stateless era, per identity. A 2026-07-28 request carries no session, so what a caller
 * built up (broker and SSH connections, message buffers, `subscriptions/listen` streams) hangs off
 * who the caller is: the principal from the bearer token (or the process, over stdio), never off a
 * connection. Each identity gets its own scope, opened on its first request and closed when it has
 * had no request and no open stream for `idleTimeoutMs`; one identity can never reach another's.
 */
import type { Logger } from 'pino';
import type { Principal } from './guards/bearer.js';

/** What an endpoint opens for one identity; closing it releases everything the identity holds. */
export interface IdentityHandle {
  close(): Promise<void>;
}

export interface IdentityScope<H extends IdentityHandle> {
  readonly principalId: string;
  readonly handle: H;
  /** Requests (listen streams included) open for this identity. */
  inFlight: number;
  lastActive: number;
}

export const DEFAULT_IDENTITY_IDLE_MS = 30 * 60_000;

export class IdentityScopes<P extends Principal, H extends IdentityHandle> {
  private readonly scopes = new Map<string, Promise<IdentityScope<H>>>();
  private readonly sweep: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly open: (principal: P) => Promise<H>,
    private readonly log: Logger,
    private readonly idleTimeoutMs: number = DEFAULT_IDENTITY_IDLE_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.sweep = setInterval(() => void this.closeIdle(), Math.max(10, Math.min(idleTimeoutMs / 4, 60_000)));
    this.sweep.unref();
  }

  get size(): number {
    return this.scopes.size;
  }

  /** The scope of `principal`, opened on first use (concurrent first requests share one opening). */
  get(principal: P): Promise<IdentityScope<H>> {
    if (this.closed) return Promise.reject(new Error('identity scopes are closed'));
    let scope = this.scopes.get(principal.id);
    if (scope === undefined) {
      scope = this.open(principal).then((handle) => ({
        principalId: principal.id,
        handle,
        inFlight: 0,
        lastActive: this.now(),
      }));
      // A failed opening is not kept: the next request tries again.
      scope.catch(() => this.scopes.delete(principal.id));
      this.scopes.set(principal.id, scope);
      this.log.debug({ identity: principal.id }, 'identity scope opened');
    }
    return scope;
  }

  /** Counts a request as activity of its identity until its response closes. */
  track(scope: IdentityScope<H>, res: { once(event: 'close', listener: () => void): unknown }): void {
    scope.inFlight++;
    scope.lastActive = this.now();
    res.once('close', () => {
      scope.inFlight--;
      scope.lastActive = this.now();
    });
  }

  async closeIdle(): Promise<void> {
    const now = this.now();
    for (const [id, pending] of this.scopes) {
      const scope = await pending.catch(() => undefined);
      if (scope === undefined || scope.inFlight > 0 || now - scope.lastActive < this.idleTimeoutMs) continue;
      if (this.scopes.get(id) !== pending) continue;
      this.scopes.delete(id);
      this.log.info({ identity: id }, 'closing idle identity scope (its connections end)');
      await scope.handle
        .close()
        .catch((err: unknown) => this.log.warn({ err, identity: id }, 'identity close failed'));
    }
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    const all = [...this.scopes.values()];
    this.scopes.clear();
    await Promise.all(
      all.map(async (pending) => {
        const scope = await pending.catch(() => undefined);
        await scope?.handle.close().catch((err: unknown) => this.log.warn({ err }, 'identity close failed'));
      }),
    );
  }
}
