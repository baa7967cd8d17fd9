/**
 * The ways an upstream can fail a request that are not the upstream's own answer. They differ in
 * what the gateway knows: a request that was never delivered did not run (its quota is returned); a
 * request caught in flight by an upstream restart may or may not have run.
 */
export class UpstreamLostError extends Error {
  override readonly name: string = 'UpstreamLostError';
  readonly code: string = 'UPSTREAM_RESTARTED';
}

export class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
  readonly code = 'UPSTREAM_UNAVAILABLE';
}

/** The agent's session closed with the call in flight; nobody is left to tell. */
export class SessionClosedError extends UpstreamLostError {
  override readonly name = 'SessionClosedError';
  override readonly code = 'SESSION_CLOSED';
}

/** No answer within the server's timeout (progress resets it). */
export class UpstreamTimeoutError extends Error {
  override readonly name = 'UpstreamTimeoutError';
  readonly code = 'UPSTREAM_TIMEOUT';
}

/** The agent cancelled the request (or went away); nothing is answered. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
}
