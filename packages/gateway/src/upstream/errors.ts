/**
 * The two ways an upstream can fail a call that are not the upstream's own answer. They differ in
 * what the gateway knows: a call that was never delivered did not run (its quota is returned); a
 * call caught in flight by an upstream restart may or may not have run.
 */
export class UpstreamLostError extends Error {
  override readonly name: string = 'UpstreamLostError';
  readonly code = 'UPSTREAM_RESTARTED';
}

export class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
  readonly code = 'UPSTREAM_UNAVAILABLE';
}

/** The agent's session closed with the call in flight; nobody is left to tell. */
export class SessionClosedError extends UpstreamLostError {
  override readonly name = 'SessionClosedError';
}
