/**
 * The upstream of a 2025-era agent session. When the upstream keeps 2025-era sessions, it is an
 * upstream session of the agent's own (a Link): messages pass with the agent's ids, and the upstream
 * keeps the agent's state. When the upstream speaks only the 2026 era (or answers the 2025 era
 * statelessly), the gateway gives the agent its session and translates (legacy-to-modern.ts).
 */
import type { Logger } from 'pino';
import type { InitializeParams, SessionEvents } from '../core/forward.js';
import type { AgentSession } from '../core/sessions.js';
import type { Upstream } from '../core/upstream.js';
import type { EraVerdict, UpstreamServer } from '../upstream/directory.js';
import type { InitializeResult, Link } from '../upstream/link.js';
import { ModernHttpUpstream, presentedOf } from '../upstream/modern-upstream.js';
import { LegacyToModern } from './legacy-to-modern.js';

/** The identity an upstream keeps a 2025-era agent's state under: its grant and its session. */
export function sessionIdentity(session: AgentSession): string {
  return `${session.owner.id}/${session.id}`;
}

export async function openLegacyUpstream(
  server: UpstreamServer,
  session: AgentSession,
  init: InitializeParams,
  events: SessionEvents,
  logger: Logger,
  resume?: Resume,
): Promise<Upstream> {
  const verdict = await server.era();
  const identity = sessionIdentity(session);
  const translate = async (): Promise<Upstream> => {
    if (verdict.era !== 'modern') throw new Error('not a 2026-era upstream');
    return new LegacyToModern(
      await openModern(server, verdict, identity, { push: (wire) => events.push(wire) }),
      init,
      events,
      logger,
    );
  };
  if (server.legacySessions === false && verdict.era === 'modern') return translate();
  let link: Link | undefined;
  try {
    link = await openLink(server, identity, init, events, resume);
  } catch (err) {
    // A 2026-only server refuses initialize: remember it, and translate.
    if (verdict.era !== 'modern') throw err;
    server.legacySessions = false;
    return translate();
  }
  if (verdict.era === 'modern' && server.pool.transport === 'http' && link.sessionId === undefined) {
    // The 2025 era without sessions: no state would survive between the agent's requests.
    await link.close(true);
    server.legacySessions = false;
    return translate();
  }
  server.legacySessions = true;
  return link;
}

/** The 2026-era upstream of one identity: the server over HTTP, or a stdio process of its own. */
export async function openModern(
  server: UpstreamServer,
  verdict: Extract<EraVerdict, { era: 'modern' }>,
  identity: string,
  events: Pick<SessionEvents, 'push'> & { reconnected?(): void },
  shared = false,
): Promise<Upstream> {
  if (server.pool.transport === 'http') return new ModernHttpUpstream(server, verdict, identity);
  const link = server.pool.modernLink(
    presentedOf(verdict.discover, server.name),
    identity,
    {
      unsolicited: (wire) => events.push(wire),
      reconnected: async () => events.reconnected?.(),
    },
    shared,
  );
  try {
    await link.open();
  } catch (err) {
    await link.close(false);
    throw err;
  }
  return link;
}

/** An upstream session another gateway process opened for this agent session (the session directory). */
export interface Resume {
  sessionId: string;
  init: InitializeResult;
}

async function openLink(
  server: UpstreamServer,
  identity: string,
  init: InitializeParams,
  events: SessionEvents,
  resume?: Resume,
) {
  const link = server.pool.link(
    init,
    identity,
    {
      observe: (wire) => {
        if ((wire.msg as { method?: string }).method === 'notifications/tools/list_changed')
          events.toolsChanged();
      },
      unsolicited: (wire) => events.push(wire),
      reconnected: (l) => events.reconnected(l),
    },
    false,
    resume,
  );
  try {
    await link.open();
  } catch (err) {
    await link.close(false);
    throw err;
  }
  return link;
}
