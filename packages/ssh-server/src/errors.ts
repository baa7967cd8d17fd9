import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * Stable codes a client (or a gateway policy) can branch on. Bad input has its own codes so that
 * an agent can correct its call; everything else is an operational failure.
 */
export const SSH_ERROR_CODES = [
  // bad input
  'invalid_input',
  'unknown_connection',
  'local_files_disabled',
  'path_outside_root',
  'too_large',
  // refused by this server's own rules
  'host_not_allowed',
  'too_many_connections',
  'too_many_execs',
  // the SSH side
  'host_key_rejected',
  'auth_failed',
  'connect_timeout',
  'connect_failed',
  'connection_lost',
  'reconnect_failed',
  'exec_failed',
  'nonzero_exit',
  'timeout',
  'cancelled',
  'cwd_failed',
  'sftp_failed',
  'file_too_large',
  'local_io_failed',
  'closed',
  // background jobs and PTY shells
  'unknown_job',
  'too_many_jobs',
  'unknown_shell',
  'too_many_shells',
  'shell_failed',
] as const;

export type SshErrorCode = (typeof SSH_ERROR_CODES)[number];

/**
 * The one error class of this package. Its message is written for the model and for people, and
 * must never contain a secret: messages are built from our own text plus the library's message,
 * and `redact` strips any secret the caller knows about before the text leaves the server.
 */
export class SshError extends Error {
  override readonly name = 'SshError';

  constructor(
    readonly code: SshErrorCode,
    message: string,
    /** Extra machine-readable facts for `structuredContent` (e.g. the offered fingerprint). */
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toToolResult(): CallToolResult {
    return {
      isError: true,
      content: [{ type: 'text', text: `${this.message} [${this.code}]` }],
      structuredContent: { code: this.code, message: this.message, ...this.details },
    };
  }
}

/** Replaces every occurrence of each secret (and each line of multi-line secrets) in `text`. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 4) continue;
    out = out.split(secret).join('[redacted]');
    for (const line of secret.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed.length >= 16) out = out.split(trimmed).join('[redacted]');
    }
  }
  return out;
}

/** Any thrown value as an SshError, keeping SshErrors as they are. */
export function toSshError(err: unknown, fallback: SshErrorCode, context: string): SshError {
  if (err instanceof SshError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SshError(fallback, `${context}: ${message}`, {}, { cause: err });
}
