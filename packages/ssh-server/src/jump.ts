/**
 * The way to one SSH server: straight over TCP, or through a chain of jump hosts as OpenSSH's
 * ProxyJump does it (`ssh -J a,b target`): the first hop is dialled, each next hop is reached through
 * a direct-tcpip channel of the one before (RFC 4254 7.2), and the target through the last. Every hop
 * authenticates with its own credentials and has its host key checked by the same policy as any
 * target (pin, known_hosts, or trust on first use where the operator allows it): no hop skips
 * verification, which is the complaint users have about other SSH servers' jump support.
 *
 * A route is opened again on reconnect; from then on each hop must present the key it presented the
 * first time, as the target must (ManagedConnection.reconnect).
 */
import { endpointThrough, openTcp } from './endpoint.js';
import { SshError } from './errors.js';
import { fingerprintOf, type HostKeyPolicy, keyTypeOf, type TrustSource } from './host-keys.js';
import { type CertifiedLogin, connectSsh, type SshConnection, type Tunnel } from './ssh-client.js';

/** How to log in to a host: a password, a private key, or the server's ssh-agent (socket path). */
export interface LoginSpec {
  username: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  passphrase?: string | undefined;
  certificate?: CertifiedLogin | undefined;
  agent?: string | undefined;
}

export interface HopSpec extends LoginSpec {
  host: string;
  port: number;
  /** A normalized `SHA256:` pin for this hop's host key. */
  hostFingerprint?: string | undefined;
}

/** What the first open learned about a hop (no secret in it). */
export interface HopFacts {
  host: string;
  port: number;
  username: string;
  endpoint: string;
  fingerprint: string;
  hostKeyTrust: TrustSource;
  firstUse: boolean;
  overrode?: 'known_hosts' | 'trust_on_first_use' | undefined;
  /** The host certificate that vouched for the key (known_hosts' @cert-authority), in words. */
  hostCertificate?: string | undefined;
}

export interface RouteOptions {
  hostKeys: HostKeyPolicy;
  readyTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

const describe = (h: { username: string; host: string; port: number }) => `${h.username}@${h.host}:${h.port}`;

/** Prefixes an error of hop `index` with which hop it was, keeping its code. */
function hopError(err: unknown, index: number, count: number, hop: HopSpec): SshError {
  const where = `jump host ${index + 1} of ${count} (${describe(hop)})`;
  if (err instanceof SshError) {
    return new SshError(
      err.code,
      `${where}: ${err.message}`,
      { ...err.details, hop: index + 1 },
      { cause: err },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SshError('CONNECT_FAILED', `${where}: ${message}`, { hop: index + 1 }, { cause: err });
}

/** A direct-tcpip channel through `via` to host:port, as a tunnel for the next SSH connection. */
async function forwardThrough(
  via: SshConnection,
  parent: string,
  host: string,
  port: number,
): Promise<Tunnel> {
  const stream = await via.forwardOut(host, port);
  return {
    stream,
    endpoint: endpointThrough(parent, host, port),
    close: async () => {
      stream.destroy();
    },
  };
}

export class SshRoute {
  /** Host keys each hop presented on the first open; later opens accept only these. */
  private readonly seen: Buffer[] = [];
  private facts: HopFacts[] = [];

  constructor(
    private readonly hops: ReadonlyArray<HopSpec>,
    private readonly target: { host: string; port: number; username: string },
    private readonly options: RouteOptions,
  ) {}

  /** The hops as the first open found them. */
  hopFacts(): HopFacts[] {
    return this.facts.map((f) => ({ ...f }));
  }

  /**
   * Opens the stream to the target. Its `close()` ends the target's channel and then every hop, last
   * first. On a failure, whatever was opened is closed and the error names the hop.
   */
  async open(): Promise<Tunnel> {
    const opened: SshConnection[] = [];
    const closeHops = async () => {
      for (const hop of opened.splice(0).reverse()) await hop.end();
    };
    try {
      let parent: SshConnection | undefined;
      let parentEndpoint = '';
      const facts: HopFacts[] = [];
      for (const [index, hop] of this.hops.entries()) {
        try {
          const tunnel: Tunnel =
            parent === undefined
              ? await openTcp(hop.host, hop.port, this.options.readyTimeoutMs, describe(hop))
              : await forwardThrough(parent, parentEndpoint, hop.host, hop.port);
          const { connection, fact } = await this.connectHop(index, hop, tunnel);
          opened.push(connection);
          facts.push(fact);
          parent = connection;
          parentEndpoint = tunnel.endpoint;
        } catch (err) {
          throw hopError(err, index, this.hops.length, hop);
        }
      }
      if (this.facts.length === 0) this.facts = facts;
      const { host, port } = this.target;
      const tunnel =
        parent === undefined
          ? await openTcp(host, port, this.options.readyTimeoutMs, describe(this.target))
          : await forwardThrough(parent, parentEndpoint, host, port).catch((err: unknown) => {
              throw new SshError(
                'CONNECT_FAILED',
                `could not reach ${describe(this.target)} through the last jump host: ${(err as Error).message}`,
                {},
                { cause: err },
              );
            });
      let closing: Promise<void> | undefined;
      return {
        stream: tunnel.stream,
        endpoint: tunnel.endpoint,
        close: () => {
          closing ??= tunnel.close().then(closeHops);
          return closing;
        },
      };
    } catch (err) {
      await closeHops();
      throw err;
    }
  }

  private async connectHop(
    index: number,
    hop: HopSpec,
    tunnel: Tunnel,
  ): Promise<{ connection: SshConnection; fact: HopFacts }> {
    const recorded = this.seen[index];
    const check =
      recorded === undefined
        ? this.options.hostKeys.forConnect(hop.host, hop.port, hop.hostFingerprint, tunnel.endpoint)
        : undefined;
    let decision:
      | { source: TrustSource; firstUse: boolean; overrode?: HopFacts['overrode']; certificate?: string }
      | undefined;
    let offered: string | undefined;
    const recordedType = recorded === undefined ? undefined : keyTypeOf(recorded);
    const connection = await connectSsh({
      host: hop.host,
      port: hop.port,
      username: hop.username,
      password: hop.password,
      privateKey: hop.privateKey,
      passphrase: hop.passphrase,
      certificate: hop.certificate,
      agent: hop.agent,
      // A jump host only carries TCP: nothing runs there, so its agent is never forwarded.
      agentForward: false,
      readyTimeoutMs: this.options.readyTimeoutMs,
      keepaliveIntervalMs: this.options.keepaliveIntervalMs,
      keepaliveCountMax: this.options.keepaliveCountMax,
      via: async () => tunnel,
      preferredHostKeyTypes: check?.preferredKeyTypes ?? (recordedType ? [recordedType] : []),
      verifyHostKey: (key) => {
        offered = fingerprintOf(key);
        if (recorded !== undefined) {
          return key.equals(recorded)
            ? undefined
            : `host key of ${hop.host}:${hop.port} changed since the route was first opened (${fingerprintOf(recorded)}); it now offers ${fingerprintOf(key)}`;
        }
        const result = check?.check(key);
        if (result === undefined || !result.accepted) return result?.reason ?? 'no host-key check';
        decision = { ...result };
        return undefined;
      },
    }).catch((err: unknown) => {
      if (err instanceof SshError && err.code === 'HOST_KEY_REJECTED') {
        // Which key the hop offered, so that a person can check and pin it.
        throw new SshError(
          err.code,
          err.message,
          { ...err.details, offeredFingerprint: offered },
          { cause: err },
        );
      }
      throw err;
    });
    this.seen[index] ??= connection.hostKey;
    const trust = decision ?? { source: 'pinned' as const, firstUse: false };
    return {
      connection,
      fact: {
        host: hop.host,
        port: hop.port,
        username: hop.username,
        endpoint: tunnel.endpoint,
        fingerprint: fingerprintOf(connection.hostKey),
        hostKeyTrust: trust.source,
        firstUse: trust.firstUse,
        ...(trust.overrode === undefined ? {} : { overrode: trust.overrode }),
        ...(trust.certificate === undefined ? {} : { hostCertificate: trust.certificate }),
      },
    };
  }
}
