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
import type { UpstreamServer } from '../upstream/directory.js';
import type { Link } from '../upstream/link.js';
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
): Promise<Upstream> {
  const verdict = await server.era();
  const identity = sessionIdentity(session);
  const translate = () =>
    verdict.era === 'modern' && server.pool.transport === 'http'
      ? new LegacyToModern(server, verdict, identity, init, events, logger)
      : undefined;
  if (server.legacySessions === false) {
    const translation = translate();
    if (translation !== undefined) return translation;
  }
  let link: Link | undefined;
  try {
    link = await openLink(server, identity, init, events);
  } catch (err) {
    // A 2026-only server refuses initialize: remember it, and translate.
    const translation = translate();
    if (translation === undefined) throw err;
    server.legacySessions = false;
    return translation;
  }
  if (verdict.era === 'modern' && server.pool.transport === 'http' && link.sessionId === undefined) {
    // The 2025 era without sessions: no state would survive between the agent's requests.
    await link.close(true);
    server.legacySessions = false;
    return translate() as LegacyToModern;
  }
  server.legacySessions = true;
  return link;
}

async function openLink(
  server: UpstreamServer,
  identity: string,
  init: InitializeParams,
  events: SessionEvents,
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
  );
  try {
    await link.open();
  } catch (err) {
    await link.close(false);
    throw err;
  }
  return link;
}
