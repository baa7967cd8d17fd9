/**
 * The SSH connections of one MCP session. A connection belongs to the session that opened it (ids
 * are random, not derived from user@host as in Mcp Ssh, so they cannot be guessed across sessions),
 * and `closeAll()` runs when the session ends.
 *
 * Credentials live only inside a ManagedConnection's closure, in memory, for its lifetime: they are
 * needed to reconnect, are never written anywhere, and are dropped when the connection closes.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { SshError } from './errors.js';
import { fingerprintOf, keyTypeOf } from './host-keys.js';
import { WorkSet } from './remote-work.js';
import { type ConnectParams, connectSsh, type SshConnection } from './ssh-client.js';

export type ConnectionState = 'ready' | 'dead' | 'reconnecting' | 'closed';

export interface ConnectionInfo {
  connectionId: string;
  name: string;
  host: string;
  port: number;
  username: string;
  state: ConnectionState;
  fingerprint: string;
  openedAt: string;
  /** Why the connection is dead, when it is. */
  lastError?: string;
  reconnects: number;
  activeExecs: number;
}

export class ManagedConnection {
  readonly id = randomUUID();
  readonly openedAt = new Date();
  readonly fingerprint: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  state: ConnectionState = 'ready';
  lastError: string | undefined;
  reconnects = 0;
  activeExecs = 0;
  /** What runs on the remote over this connection (execs, jobs, shells); ended before it closes. */
  readonly work = new WorkSet();
  private closing: Promise<void> | undefined;
  private reconnecting: Promise<SshConnection> | undefined;
  /** Dropped on close. */
  private params: ConnectParams | undefined;
  /** The host key seen on the first connect; a reconnect accepts only this one. */
  private readonly hostKey: Buffer;

  constructor(
    readonly name: string,
    params: ConnectParams,
    private connection: SshConnection,
    private readonly log: Logger,
  ) {
    this.params = params;
    this.hostKey = connection.hostKey;
    this.fingerprint = fingerprintOf(connection.hostKey);
    this.host = params.host;
    this.port = params.port;
    this.username = params.username;
    this.watch(connection);
  }

  private watch(connection: SshConnection): void {
    connection.onClose((error) => {
      if (this.connection !== connection || this.state === 'closed') return;
      this.state = 'dead';
      this.lastError = error?.message ?? 'the server closed the connection';
      this.log.warn({ connectionId: this.id, reason: this.lastError }, 'ssh connection lost');
    });
  }

  info(): ConnectionInfo {
    const info: ConnectionInfo = {
      connectionId: this.id,
      name: this.name,
      host: this.host,
      port: this.port,
      username: this.username,
      state: this.state,
      fingerprint: this.fingerprint,
      openedAt: this.openedAt.toISOString(),
      reconnects: this.reconnects,
      activeExecs: this.activeExecs,
    };
    if (this.state === 'dead' && this.lastError !== undefined) info.lastError = this.lastError;
    return info;
  }

  /** The live connection, reconnecting once first if it is gone. */
  async acquire(): Promise<{ connection: SshConnection; reconnected: boolean }> {
    if (this.state === 'closed') throw new SshError('CLOSED', `connection ${this.id} is closed`);
    if (this.state === 'ready' && this.connection.isOpen())
      return { connection: this.connection, reconnected: false };
    return { connection: await this.reconnect(), reconnected: true };
  }

  /**
   * Runs `op` on the live connection. If it fails and the connection turns out to be gone, marks it
   * dead, reconnects once and runs `op` again; a failure on a connection that is still open, or was
   * just re-established, is final and is passed through `onFinal` (if given) before it is thrown.
   */
  async withRetry<T>(
    op: (connection: SshConnection) => Promise<T>,
    onFinal: (err: unknown) => unknown = (err) => err,
  ): Promise<{ value: T; reconnected: boolean }> {
    const first = await this.acquire();
    try {
      return { value: await op(first.connection), reconnected: first.reconnected };
    } catch (err) {
      if (first.reconnected || first.connection.isOpen()) throw onFinal(err);
      this.markDead(err instanceof Error ? err.message : String(err));
      return { value: await op(await this.reconnect()), reconnected: true };
    }
  }

  /**
   * Reconnects with the same credentials, accepting only the host key seen on the first connect.
   * Concurrent callers share one attempt.
   */
  reconnect(): Promise<SshConnection> {
    if (this.reconnecting) return this.reconnecting;
    const params = this.params;
    if (params === undefined || this.state === 'closed') {
      return Promise.reject(new SshError('CLOSED', `connection ${this.id} is closed`));
    }
    this.state = 'reconnecting';
    this.log.info({ connectionId: this.id }, 'ssh reconnecting');
    const pinned = this.hostKey;
    const keyType = keyTypeOf(pinned);
    const attempt = connectSsh({
      ...params,
      verifyHostKey: (key) =>
        key.equals(pinned)
          ? undefined
          : `host key of ${params.host}:${params.port} changed since this connection was opened (${this.fingerprint}); the server now offers ${fingerprintOf(key)}`,
      preferredHostKeyTypes: keyType ? [keyType] : [],
    })
      .then(async (connection) => {
        if (this.state === 'closed') {
          await connection.end();
          throw new SshError('CLOSED', `connection ${this.id} was closed while reconnecting`);
        }
        const old = this.connection;
        this.connection = connection;
        this.watch(connection);
        this.state = 'ready';
        this.lastError = undefined;
        this.reconnects++;
        void old.end();
        this.log.info({ connectionId: this.id, reconnects: this.reconnects }, 'ssh reconnected');
        return connection;
      })
      .catch((err: unknown) => {
        if (this.state !== 'closed') this.state = 'dead';
        const cause = err instanceof Error ? err.message : String(err);
        this.lastError = `reconnect failed: ${cause}`;
        this.log.warn({ connectionId: this.id, reason: this.lastError }, 'ssh reconnect failed');
        if (err instanceof SshError && err.code === 'CLOSED') throw err;
        throw new SshError(
          'RECONNECT_FAILED',
          `the connection to ${params.host}:${params.port} was lost and reconnecting failed: ${cause}`,
          { connectionId: this.id, cause: err instanceof SshError ? err.code : undefined },
          { cause: err },
        );
      })
      .finally(() => {
        this.reconnecting = undefined;
      });
    this.reconnecting = attempt;
    return attempt;
  }

  /** Marks the connection as gone (e.g. a channel could not be opened on it). */
  markDead(reason: string): void {
    if (this.state === 'ready') {
      this.state = 'dead';
      this.lastError = reason;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closed';
      // Drop the credentials now rather than when the object is collected.
      this.params = undefined;
      // Closing the connection alone would leave its remote commands running (remote-work.ts).
      await this.work.closeAll('connection_closed');
      await this.connection.end();
    })();
    return this.closing;
  }
}

export interface RegistryLimits {
  maxConnections: number;
}

export class ConnectionRegistry {
  private readonly connections = new Map<string, ManagedConnection>();
  private pending = 0;
  private closed = false;

  constructor(
    private readonly limits: RegistryLimits,
    private readonly log: Logger,
  ) {}

  /** Opens a connection under the per-session limit. */
  async open(name: string, params: ConnectParams): Promise<ManagedConnection> {
    if (this.closed) throw new SshError('CLOSED', 'this session is closing');
    if (this.connections.size + this.pending >= this.limits.maxConnections) {
      throw new SshError(
        'TOO_MANY_CONNECTIONS',
        `this session already has ${this.limits.maxConnections} connections (the limit); disconnect one first`,
        { limit: this.limits.maxConnections },
      );
    }
    this.pending++;
    let connection: SshConnection;
    try {
      connection = await connectSsh(params);
    } finally {
      this.pending--;
    }
    const managed = new ManagedConnection(name, params, connection, this.log);
    if (this.closed) {
      await managed.close();
      throw new SshError('CLOSED', 'this session closed while connecting');
    }
    this.connections.set(managed.id, managed);
    return managed;
  }

  get(connectionId: string): ManagedConnection {
    const found = this.connections.get(connectionId);
    if (found === undefined) {
      throw new SshError(
        'UNKNOWN_CONNECTION',
        `no connection '${connectionId}' in this session (listConnections shows the open ones)`,
        { connectionId },
      );
    }
    return found;
  }

  list(): ManagedConnection[] {
    return [...this.connections.values()];
  }

  async remove(connectionId: string): Promise<ManagedConnection> {
    const found = this.get(connectionId);
    this.connections.delete(connectionId);
    await found.close();
    return found;
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}
