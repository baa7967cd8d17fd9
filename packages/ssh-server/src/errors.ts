import { ToolError } from '@bastion/mcp-http/kit';

/**
 * Stable codes a client (or a gateway policy) can branch on, UPPER_SNAKE as every Bastion code (the
 * server kit's convention, in `_meta["dev.bastion/error"].code`). Bad input has its own codes so that
 * an agent can correct its call; everything else is an operational failure.
 */
export const SSH_ERROR_CODES = [
  // bad input
  'INVALID_INPUT',
  'UNKNOWN_CONNECTION',
  'LOCAL_FILES_DISABLED',
  'PATH_OUTSIDE_ROOT',
  'TOO_LARGE',
  // refused by this server's own rules
  'HOST_NOT_ALLOWED',
  'TOO_MANY_CONNECTIONS',
  'TOO_MANY_EXECS',
  // the SSH side
  'HOST_KEY_REJECTED',
  'AUTH_FAILED',
  'CONNECT_TIMEOUT',
  'CONNECT_FAILED',
  'CONNECTION_LOST',
  'RECONNECT_FAILED',
  'EXEC_FAILED',
  'NONZERO_EXIT',
  'TIMEOUT',
  'CANCELLED',
  'CWD_FAILED',
  'SFTP_FAILED',
  'FILE_TOO_LARGE',
  'LOCAL_IO_FAILED',
  'CLOSED',
  // background jobs and PTY shells
  'UNKNOWN_JOB',
  'TOO_MANY_JOBS',
  'UNKNOWN_SHELL',
  'TOO_MANY_SHELLS',
  'SHELL_FAILED',
] as const;

export type SshErrorCode = (typeof SSH_ERROR_CODES)[number];

/**
 * The one error class of this package (the kit's ToolError with typed codes). Its message is
 * written for the model and for people, and must never contain a secret: messages are built from our
 * own text plus the library's message, and `redact` strips any secret the caller knows about before
 * the text leaves the server. `details` are machine-readable facts (e.g. the offered fingerprint).
 */
export class SshError extends ToolError {
  override readonly name = 'SshError';
  declare readonly code: SshErrorCode;

  constructor(
    code: SshErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, { details, ...(options?.cause === undefined ? {} : { cause: options.cause }) });
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
