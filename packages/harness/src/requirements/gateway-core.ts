import type { Requirement } from './types.js';

const core = 'issue #10 (the forwarding core)';

/** The gateway's forwarding core (issue 10; issue 14 items 5 and 10): both eras, sessions, shutdown. */
export const gatewayCoreRequirements: Requirement[] = [
  {
    id: 'gateway.era.modern-passthrough',
    statement:
      'serves 2026-07-28 agents (the v2 client pinned to it) on the same URL as 2025-era sessions, and passes their requests to a 2026-era upstream untouched: progress, input_required rounds, listen streams',
    source: core,
  },
  {
    id: 'gateway.era.modern-to-legacy',
    statement:
      'serves a 2026-era agent in front of a 2025-only upstream (Streamable HTTP, stdio, legacy SSE): discover, server-to-client requests as input_required rounds, listen streams from the session',
    source: core,
  },
  {
    id: 'gateway.era.legacy-to-modern',
    statement:
      'serves a 2025-era agent in front of a 2026-only upstream: a session from the gateway, the envelope per request, input_required as server-to-client requests, setLevel and subscriptions',
    source: core,
  },
  {
    id: 'gateway.era.discover',
    statement:
      "finds an upstream's era once (server/discover, else initialize), remembers it, and finds it again after the upstream restarted",
    source: core,
  },
  {
    id: 'gateway.era.header-mismatch',
    statement:
      'refuses a 2026-era request whose MCP-Protocol-Version, Mcp-Method or Mcp-Name header disagrees with its body (400, -32020); policy reads the body only',
    source: core,
  },
  {
    id: 'gateway.identity.header',
    statement:
      'names the grant (2026-era agent) or the grant and session (2025-era agent) in the configured identity header, so agents never share upstream state',
    source: core,
  },
  {
    id: 'gateway.limits.sessions',
    statement:
      'caps the sessions of one grant and of the whole process, refusing the next with a clear JSON-RPC error (429 or 503) instead of running out of processes or file handles',
    source: core,
  },
  {
    id: 'gateway.session.duplicate-id',
    statement:
      'refuses a second request whose id is still in flight in the same session; the first still gets its answer',
    source: 'issue #14, item 5',
  },
  {
    id: 'gateway.session.request-keys',
    statement:
      'a request (a method and an id) that also carries result or error keys is answered as a request, never taken for a response and left unanswered',
    source: 'issue #14 item 17 (fuzzing); found by the fuzz run of this session',
  },
  {
    id: 'gateway.shutdown.drain',
    statement:
      'on SIGTERM stops taking requests, lets calls in flight finish within a bounded grace period, then exits',
    source: 'issue #14, item 10',
  },
  {
    id: 'gateway.error-result.convention',
    statement:
      'answers denials and its own failures as isError results without structuredContent (the code in _meta["dev.bastion/error"]), which the official clients accept for tools with an outputSchema, in both eras',
    source: core,
  },
  {
    id: 'gateway.store.session-routing',
    statement:
      "records 2025-era sessions in the store's session directory, so another gateway process sharing it serves a session, continuing its upstream session",
    source: 'issue #10 (seams for issue #11)',
  },
  {
    id: 'gateway.conformance.transparent',
    statement:
      'gives the same official conformance results as the server behind it, for the 2025-11-25 and the 2026-07-28 requirement sets',
    source: core,
    eras: ['2025-11-25', '2026-07-28'],
  },
];
