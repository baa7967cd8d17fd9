/**
 * The 2026-era front of the core: requests that carry the per-request envelope. It has no sessions;
 * what a request needs is in the request, and who sent it is its principal.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../pipeline/context.js';
import type { HttpEra } from './envelope.js';
import type { CoreRoute } from './forward.js';

export type ModernRequest = Extract<HttpEra, { kind: 'modern' }>;

export interface ModernFront {
  serve(
    route: CoreRoute,
    principal: Principal,
    req: IncomingMessage,
    res: ServerResponse,
    era: ModernRequest,
  ): Promise<void>;
  /** The tools a grant may call on `server` changed: listen streams that asked are told. */
  toolsChanged(server: string): void;
  /** Requests being served now (listen streams excluded). */
  inFlight(): number;
  close(): Promise<void>;
}
