/**
 * The upstream of a 2025-era agent session. When the upstream speaks the 2025 era too, it is an
 * upstream session of the agent's own (a Link): messages pass with the agent's ids, and the upstream
 * keeps the agent's state. When the upstream speaks only the 2026 era, the gateway gives the agent
 * its session and translates (legacy-to-modern.ts).
 */
import type { InitializeParams, SessionEvents } from '../core/forward.js';
import type { AgentSession } from '../core/sessions.js';
import type { Upstream } from '../core/upstream.js';
import type { UpstreamServer } from '../upstream/directory.js';

/** The identity an upstream keeps a 2025-era agent's state under: its grant and its session. */
export function sessionIdentity(session: AgentSession): string {
  return `${session.owner.id}/${session.id}`;
}

export async function openLegacyUpstream(
  server: UpstreamServer,
  session: AgentSession,
  init: InitializeParams,
  events: SessionEvents,
): Promise<Upstream> {
  const link = server.pool.link(
    init,
    sessionIdentity(session),
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
