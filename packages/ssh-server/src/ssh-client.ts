/**
 * The one place that speaks ssh2's callback-and-event API; everything else sees promises.
 *
 * ssh2 facts this adapter relies on (ssh2 1.17, lib/client.js):
 *  - a Client emits 'error' for handshake, auth, socket and keepalive failures, before and after
 *    'ready'; an unhandled 'error' would crash the process, so a listener stays attached for the
 *    client's whole life, channels and SFTP sessions included;
 *  - `hostVerifier(key)` receives the raw public-key blob; returning false ends the handshake with
 *    "Host denied (verification failed)";
 *  - `exec`/`sftp` throw synchronously "Not connected" when the socket is gone, and fail with
 *    "No response from server" when it goes away while the channel is being opened;
 *  - keepalives: after `keepaliveCountMax` unanswered ones the client emits 'error' with
 *    "Keepalive timeout" (level 'client-timeout') and closes.
 */
import type { Duplex } from 'node:stream';
// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
import ssh2, { type ConnectConfig, type ParsedKey, type SFTPWrapper, type Client as SshClient } from 'ssh2';

const { Client } = ssh2;

import { SshError } from './errors.js';
import { type ExecChannel, wrapChannel } from './exec-channel.js';
import { algorithmsForKeyType } from './host-keys.js';
import { type PtyOptions, ptyWindow, type ShellChannel, wrapShellChannel } from './pty-channel.js';
import { type SftpSession, wrapSftp } from './sftp-session.js';

export type { ExecChannel, ExecExit, SshSignal } from './exec-channel.js';
export type { SftpFile, SftpSession } from './sftp-session.js';

/**
 * A byte stream to an SSH server that the caller opened (a TCP socket, or a channel through a jump
 * host), and what it takes to release it.
 */
export interface Tunnel {
  stream: Duplex;
  /** The network identity of the far end, e.g. `127.0.0.1:22` (see endpoint.ts). */
  endpoint: string;
  /** Releases the stream and whatever carries it (jump-host connections). Idempotent. */
  close(): Promise<void>;
}

export interface ConnectParams {
  host: string;
  port: number;
  username: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  passphrase?: string | undefined;
  /** privateKey paired with its OpenSSH user certificate (certificates.ts): logs in instead of it. */
  certificate?: CertifiedLogin | undefined;
  /** ssh-agent socket path. */
  agent?: string | undefined;
  /**
   * Forward the agent to the remote on every session channel (OpenSSH's auth-agent-req@openssh.com).
   * Never on unless the caller asked for it and the operator allowed it; needs `agent`.
   */
  agentForward?: boolean | undefined;
  /**
   * Opens the stream to the server instead of ssh2 dialling host:port itself; called once per
   * connect, reconnects included. The tunnel is closed when the connection closes or fails.
   */
  via?: (() => Promise<Tunnel>) | undefined;
  readyTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** Returns undefined to accept the offered key, or why it is refused. */
  verifyHostKey(key: Buffer): string | undefined;
  /** Key types to ask the server for first (the ones on record for this host). */
  preferredHostKeyTypes?: string[] | undefined;
}

/** A private key with the user certificate it logs in with, and the certificate in words. */
export interface CertifiedLogin {
  key: ParsedKey;
  description: string;
}

export interface SshConnection {
  /** The host key the server presented (already verified). */
  readonly hostKey: Buffer;
  exec(command: string): Promise<ExecChannel>;
  /** A direct-tcpip channel (RFC 4254 7.2) from the server to host:port: the jump-host hop. */
  forwardOut(host: string, port: number): Promise<Duplex>;
  /** An interactive login shell on a pseudo-terminal. */
  shell(pty: PtyOptions): Promise<ShellChannel>;
  /** Runs `fn` with an SFTP session that is always closed afterwards. */
  withSftp<T>(fn: (sftp: SftpSession) => Promise<T>): Promise<T>;
  /** Whether the transport is still up. */
  isOpen(): boolean;
  /** Called once when the connection closes, with the last error seen (e.g. keepalive timeout). */
  onClose(listener: (error: Error | undefined) => void): void;
  end(): Promise<void>;
}

function describeTarget(p: ConnectParams): string {
  return `${p.username}@${p.host}:${p.port}`;
}

/** Maps a connect-time failure to an SshError with a clear message and no secret in it. */
function connectError(err: Error & { level?: string; code?: string }, p: ConnectParams): SshError {
  const target = describeTarget(p);
  if (err.level === 'client-authentication') {
    const methods = [
      p.password !== undefined && 'password',
      p.privateKey !== undefined &&
        (p.certificate === undefined ? 'publickey' : `publickey with ${p.certificate.description}`),
      p.agent && 'agent',
    ]
      .filter(Boolean)
      .join(', ');
    return new SshError(
      'AUTH_FAILED',
      `authentication failed for ${target} (tried: ${methods || 'none'})`,
      {},
      { cause: err },
    );
  }
  if (err.level === 'client-timeout') {
    return new SshError(
      'CONNECT_TIMEOUT',
      `no SSH handshake with ${target} within ${p.readyTimeoutMs} ms`,
      {},
      { cause: err },
    );
  }
  const code = err.code ? ` (${err.code})` : '';
  return new SshError(
    'CONNECT_FAILED',
    `could not connect to ${target}${code}: ${err.message}`,
    {},
    { cause: err },
  );
}

/**
 * Connects and authenticates. With `params.via`, the tunnel it opens carries the connection and is
 * closed with it (or at once, when the handshake fails).
 */
export async function connectSsh(params: ConnectParams): Promise<SshConnection> {
  if (params.via === undefined) return handshake(params, undefined);
  const tunnel = await params.via();
  let connection: SshConnection;
  try {
    connection = await handshake(params, tunnel.stream);
  } catch (err) {
    await tunnel.close();
    throw err;
  }
  connection.onClose(() => void tunnel.close());
  return {
    ...connection,
    async end() {
      await connection.end();
      await tunnel.close();
    },
  };
}

function handshake(params: ConnectParams, sock: Duplex | undefined): Promise<SshConnection> {
  const client = new Client();
  let hostKey: Buffer | undefined;
  let refusal: string | undefined;
  let lastError: Error | undefined;
  const closeListeners: Array<(error: Error | undefined) => void> = [];
  let closed = false;

  client.on('error', (err) => {
    lastError = err;
  });
  // Request/response traffic (channel opens, SFTP round trips) stalls ~40 ms per exchange on Nagle's
  // algorithm meeting delayed ACKs; Node sockets have Nagle on by default.
  client.on('connect', () => client.setNoDelay(true));
  client.on('close', () => {
    if (closed) return;
    closed = true;
    for (const listener of closeListeners.splice(0)) listener(lastError);
  });

  const config: ConnectConfig = {
    host: params.host,
    port: params.port,
    username: params.username,
    readyTimeout: params.readyTimeoutMs,
    // ssh2 then speaks over this stream rather than dialling host:port.
    ...(sock === undefined ? {} : { sock: sock as ConnectConfig['sock'] }),
    keepaliveInterval: params.keepaliveIntervalMs,
    keepaliveCountMax: params.keepaliveCountMax,
    tryKeyboard: false,
    hostVerifier: (key: Buffer) => {
      refusal = params.verifyHostKey(key);
      if (refusal === undefined) hostKey = Buffer.from(key);
      return refusal === undefined;
    },
  };
  if (params.password !== undefined) config.password = params.password;
  if (params.privateKey !== undefined) config.privateKey = params.privateKey;
  // The patched ssh2 takes a parsed key: the private key that shows its certificate (certificates.ts).
  if (params.certificate !== undefined) config.privateKey = params.certificate.key as never;
  if (params.passphrase !== undefined) config.passphrase = params.passphrase;
  if (params.agent !== undefined) config.agent = params.agent;
  // With this set, ssh2 requests agent forwarding on every session channel it opens (exec, shell;
  // client.js openChannel checks config.allowAgentFwd), and a server that refuses it fails the channel.
  if (params.agent !== undefined && params.agentForward === true) config.agentForward = true;
  const preferred = (params.preferredHostKeyTypes ?? []).flatMap(algorithmsForKeyType);
  if (preferred.length > 0) {
    // ssh2 accepts { prepend } to move algorithms to the front of its default list.
    config.algorithms = { serverHostKey: { prepend: preferred } as never };
  }

  return new Promise<SshConnection>((resolve, reject) => {
    let settled = false;
    const onError = (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      settled = true;
      client.off('ready', onReady);
      client.off('close', onEarlyClose);
      client.end();
      if (refusal !== undefined) {
        reject(new SshError('HOST_KEY_REJECTED', refusal, {}, { cause: err }));
        return;
      }
      reject(connectError(err, params));
    };
    const onReady = () => {
      settled = true;
      client.off('error', onError);
      client.off('close', onEarlyClose);
      resolve(makeConnection(client, hostKey ?? Buffer.alloc(0), closeListeners, () => closed));
    };
    // A peer that hangs up during the handshake may close without an 'error'. (Removed at 'ready'.)
    const onEarlyClose = () => onError(new Error('the server closed the connection during the handshake'));
    client.once('error', onError);
    client.once('ready', onReady);
    client.once('close', onEarlyClose);
    try {
      client.connect(config);
    } catch (err) {
      // e.g. a private key that does not parse; the message names the problem, not the key.
      settled = true;
      client.off('error', onError);
      client.off('ready', onReady);
      client.off('close', onEarlyClose);
      reject(
        new SshError(
          'INVALID_INPUT',
          `cannot use the given credentials: ${(err as Error).message}`,
          {},
          { cause: err },
        ),
      );
    }
  });
}

function makeConnection(
  client: SshClient,
  hostKey: Buffer,
  closeListeners: Array<(error: Error | undefined) => void>,
  isClosed: () => boolean,
): SshConnection {
  return {
    hostKey,
    // Made only at 'ready', so open until 'close'.
    isOpen: () => !isClosed(),
    onClose(listener) {
      if (isClosed()) listener(undefined);
      else closeListeners.push(listener);
    },
    exec(command) {
      return new Promise<ExecChannel>((resolve, reject) => {
        try {
          client.exec(command, (err, channel) => {
            if (err)
              reject(
                new SshError(
                  'CONNECTION_LOST',
                  `could not start the command: ${err.message}`,
                  {},
                  { cause: err },
                ),
              );
            else resolve(wrapChannel(channel));
          });
        } catch (err) {
          reject(
            new SshError(
              'CONNECTION_LOST',
              `could not start the command: ${(err as Error).message}`,
              {},
              { cause: err },
            ),
          );
        }
      });
    },
    forwardOut(host, port) {
      return new Promise<Duplex>((resolve, reject) => {
        const refused = (err: Error) =>
          new SshError(
            'CONNECT_FAILED',
            `the server could not open a connection to ${host}:${port}: ${err.message}`,
            {},
            { cause: err },
          );
        try {
          // The originator address is informational (RFC 4254 7.2); OpenSSH only logs it.
          client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
            if (err) reject(refused(err));
            else {
              channel.on('error', () => {
                // Ends in 'close', which the SSH client on top of this stream sees.
              });
              // ssh2 channels are half-open by default: when the far end goes (its EOF), send ours,
              // so that the channel closes and the SSH client on top of it sees 'close', as it
              // would on a TCP socket.
              channel.once('end', () => channel.end());
              resolve(channel);
            }
          });
        } catch (err) {
          reject(refused(err as Error));
        }
      });
    },
    shell(pty) {
      return new Promise<ShellChannel>((resolve, reject) => {
        const refused = (err: Error) =>
          new SshError('CONNECTION_LOST', `could not open a shell: ${err.message}`, {}, { cause: err });
        try {
          client.shell(ptyWindow(pty), (err, channel) => {
            if (err) reject(refused(err));
            else resolve(wrapShellChannel(channel));
          });
        } catch (err) {
          reject(refused(err as Error));
        }
      });
    },
    async withSftp(fn) {
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
        try {
          client.sftp((err, s) => {
            if (err)
              reject(new SshError('SFTP_FAILED', `could not open SFTP: ${err.message}`, {}, { cause: err }));
            else resolve(s);
          });
        } catch (err) {
          reject(
            new SshError(
              'CONNECTION_LOST',
              `could not open SFTP: ${(err as Error).message}`,
              {},
              { cause: err },
            ),
          );
        }
      });
      const session = wrapSftp(sftp);
      try {
        return await fn(session);
      } finally {
        session.close();
      }
    },
    end() {
      return new Promise<void>((resolve) => {
        if (isClosed()) {
          resolve();
          return;
        }
        closeListeners.push(() => resolve());
        client.end();
        // A peer that never answers our disconnect: drop the socket rather than wait forever.
        const timer = setTimeout(() => client.destroy(), 2_000);
        timer.unref();
        closeListeners.push(() => clearTimeout(timer));
      });
    },
  };
}
