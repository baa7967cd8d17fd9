/**
 * Everything the console can do, in one place: its JSON API (console/api.ts) and its pages
 * (console/pages.ts) both call these and nothing else, so the pages hold no logic the API lacks.
 * Each action names who took it (`by`), and each one a person takes is an audit row.
 */

import { type ApprovalView, viewOf } from '../approvals/records.js';
import type { Approvals } from '../approvals/service.js';
import type { AuditEntry } from '../audit/log.js';
import type { Clock } from '../clock.js';
import { type GrantBook, GrantBookError, type GrantListing } from '../grant-book.js';
import type { CounterStore } from '../limits/store.js';
import { definitionDiff, type PinnedDefinition } from '../pins/definition.js';
import type { ToolPins } from '../pins/pins.js';
import { counterKey } from '../pipeline/steps/limits.js';
import type { ServerRuntime } from '../server-runtime.js';
import type { DecisionFeed, FeedItem } from './feed.js';

export interface ConsoleServiceOptions {
  approvals: Approvals;
  pins: ToolPins;
  grants: GrantBook;
  runtimes: ReadonlyMap<string, ServerRuntime>;
  counters: CounterStore;
  feed: DecisionFeed;
  clock: Clock;
  /** Writes an audit row for an action taken in the console (grants made or revoked). */
  record(entry: AuditEntry): void;
}

export interface PinChange {
  server: string;
  tool: string;
  kind: 'new' | 'changed';
  firstSeen: string;
  renamedFrom?: string;
  acceptedBy?: string;
  diff: string;
}

export interface CounterView {
  grant: string;
  server: string;
  counter: string;
  window: string;
  scope: string;
  max: number;
  /** Units held in the current window; undefined when the counter store cannot say. */
  count: number | undefined;
}

/** An action's outcome: an HTTP status and what to say (the API writes it as JSON, a page as a notice). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; status: number; error: string };

const fail = (status: number, error: string): Outcome<never> => ({ ok: false, status, error });

export class ConsoleService {
  constructor(private readonly o: ConsoleServiceOptions) {}

  /** Nothing secret: what the landing page shows to anyone who can reach the gateway. */
  publicStatus(): { servers: Array<{ name: string; state: string }> } {
    return { servers: [...this.o.runtimes.values()].map((r) => ({ name: r.name, state: r.state })) };
  }

  async status() {
    const approvals = await this.o.approvals.list();
    return {
      ...this.publicStatus(),
      approvals: { pending: approvals.filter((a) => a.status === 'pending').length },
      pins: { pending: (await this.o.pins.pending()).length },
    };
  }

  approvals(): Promise<ApprovalView[]> {
    return this.o.approvals.list();
  }

  approval(id: string): Promise<ApprovalView | undefined> {
    return this.o.approvals.get(id);
  }

  async decide(id: string, decision: unknown, reason: unknown, by: string): Promise<Outcome<ApprovalView>> {
    if (decision !== 'approve' && decision !== 'deny')
      return fail(400, 'decision must be "approve" or "deny"');
    if (reason !== undefined && typeof reason !== 'string') return fail(400, 'reason must be a string');
    if (typeof reason === 'string' && reason.length > 2000)
      return fail(400, 'reason is longer than 2000 characters');
    const result = await this.o.approvals.decide(id, decision === 'approve', by, reason?.trim());
    if (result.ok) return { ok: true, value: viewOf(result.record) };
    if (result.why === 'unknown') return fail(404, `no approval ${id}`);
    return fail(
      409,
      result.why === 'expired' ? `approval ${id} has expired` : `approval ${id} was already decided`,
    );
  }

  async pinChanges(): Promise<PinChange[]> {
    return (await this.o.pins.pending()).map((p) => ({
      server: p.server,
      tool: p.tool,
      kind: p.kind,
      firstSeen: p.firstSeen,
      ...(p.renamedFrom === undefined ? {} : { renamedFrom: p.renamedFrom }),
      diff: definitionDiff(
        p.pinned?.definition as PinnedDefinition | undefined,
        p.definition as PinnedDefinition,
      ),
    }));
  }

  async acceptPin(
    server: unknown,
    tool: unknown,
    by: string,
  ): Promise<Outcome<{ server: string; tool: string; sha256: string }>> {
    if (typeof server !== 'string' || typeof tool !== 'string')
      return fail(400, 'server and tool must be strings');
    const pin = await this.o.pins.accept(server, tool, by);
    if (pin === undefined) return fail(404, `no change of '${tool}' on server '${server}' is waiting`);
    return { ok: true, value: { server, tool, sha256: pin.sha256 } };
  }

  grants(): GrantListing[] {
    return this.o.grants.list();
  }

  async createGrant(
    label: unknown,
    servers: unknown,
    by: string,
  ): Promise<Outcome<{ token: string; grant: GrantListing }>> {
    if (typeof label !== 'string') return fail(400, 'label must be a string');
    const list = typeof servers === 'string' ? [servers] : servers;
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string'))
      return fail(400, 'servers must be a list of server names');
    try {
      const created = await this.o.grants.create(label, list, by);
      this.audit('grant/create', label, `grant '${label}' created for ${list.join(', ')}`, by);
      return { ok: true, value: created };
    } catch (err) {
      if (err instanceof GrantBookError) return fail(400, err.message);
      throw err;
    }
  }

  async revokeGrant(label: string, by: string): Promise<Outcome<GrantListing>> {
    try {
      const revoked = await this.o.grants.revoke(label, by);
      this.audit('grant/revoke', label, `grant '${label}' revoked`, by);
      return { ok: true, value: revoked };
    } catch (err) {
      if (err instanceof GrantBookError) return fail(404, err.message);
      throw err;
    }
  }

  /** Every grant-scoped and global counter the policies name, with its count in the current window. */
  async counters(): Promise<CounterView[]> {
    const out: CounterView[] = [];
    const now = this.o.clock.now();
    for (const grant of this.o.grants.list()) {
      if (grant.revokedAt !== undefined) continue;
      for (const server of grant.servers) {
        const policy = this.o.runtimes.get(server)?.policyFor(grant.label);
        if (policy === undefined) continue;
        const limits = [...policy.allToolsLimits, ...[...policy.rules.values()].flatMap((r) => r.limits)];
        const seen = new Set<string>();
        for (const limit of limits) {
          if (limit.scope === 'session' || seen.has(limit.counter)) continue;
          seen.add(limit.counter);
          const key = counterKey(limit, { server, grant: grant.label, sessionId: '' });
          const count = await this.o.counters.peek?.({
            key,
            windowMs: limit.windowMs,
            now,
            sliding: limit.sliding,
          });
          out.push({
            grant: limit.scope === 'global' ? '(everyone)' : grant.label,
            server,
            counter: limit.counter,
            window: `${limit.windowMs / 1000} s${limit.sliding ? ' (sliding)' : ''}`,
            scope: limit.scope,
            max: limit.max,
            count,
          });
        }
      }
    }
    // A global counter is the same for every grant: shown once.
    return out.filter(
      (c, i) =>
        c.scope !== 'global' || out.findIndex((d) => d.server === c.server && d.counter === c.counter) === i,
    );
  }

  decisions(after?: number): FeedItem[] {
    return this.o.feed.after(after);
  }

  private audit(method: string, label: string, reason: string, by: string): void {
    this.o.record({
      time: new Date(this.o.clock.now()).toISOString(),
      requestId: label,
      grant: label,
      session: '(console)',
      server: '',
      method,
      tool: '',
      decision: method === 'grant/create' ? 'create' : 'revoke',
      rule: '(console)',
      reason,
      policyVersion: null,
      argKeys: [],
      args: {},
      upstream: null,
      decidedBy: by,
    });
  }
}
