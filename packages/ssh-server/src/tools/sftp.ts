import type { ManagedConnection } from '../connections.js';
import { SshError } from '../errors.js';
import type { SftpSession } from '../ssh-client.js';

/**
 * Runs an SFTP operation on a connection, reconnecting once if the connection is found gone (as exec
 * does). Transfers here are whole-file writes or reads, so repeating one after a reconnect is safe.
 */
export function withSftp<T>(
  managed: ManagedConnection,
  fn: (sftp: SftpSession) => Promise<T>,
): Promise<{ value: T; reconnected: boolean }> {
  return managed.withRetry((connection) => connection.withSftp(fn));
}

export const REMOTE_PATH_RULE = (p: string) => !p.includes('\0');

export function parseMode(mode: string | undefined): number | undefined {
  if (mode === undefined) return undefined;
  if (!/^0?[0-7]{3,4}$/.test(mode)) {
    throw new SshError('INVALID_INPUT', `mode '${mode}' is not an octal permission such as '0644'`);
  }
  return Number.parseInt(mode, 8);
}
