/**
 * What `connect` does, without the MCP SDK: checks the credentials of the target and of every jump
 * host, applies --allow-hosts to each of them, opens the route (jump.ts), checks the target's host
 * key at the endpoint the route reached (endpoint.ts), and registers the connection in the session.
 * The tool (tools/connect.ts) only turns the request and the result into MCP shapes.
 */
import type { Logger } from 'pino';
import type { ParsedKey } from 'ssh2';
import {
  CertificateError,
  certifiedKey,
  describeCertificate,
  parseCertificateLine,
  parsePrivateKey,
} from './certificates.js';
import { hostIsAllowed, type SshServerConfig } from './config.js';
import type { ConnectionRegistry, ManagedConnection } from './connections.js';
import { SshError } from './errors.js';
import { fingerprintOf, type HostKeyPolicy, normalizeFingerprint, type TrustSource } from './host-keys.js';
import { type HopFacts, type HopSpec, type LoginSpec, SshRoute } from './jump.js';
import type { CertifiedLogin, ConnectParams, Tunnel } from './ssh-client.js';

export interface LoginRequest {
  username: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  passphrase?: string | undefined;
  /** The OpenSSH user certificate of privateKey (the text of id_*-cert.pub). */
  certificate?: string | undefined;
  /** Use the server's ssh-agent (--ssh-agent). */
  agent?: boolean | undefined;
}

export interface HostRequest extends LoginRequest {
  host: string;
  port: number;
  hostFingerprint?: string | undefined;
}

export interface ConnectRequest extends HostRequest {
  name?: string | undefined;
  readyTimeoutMs?: number | undefined;
  /** Forward the server's agent to the target (needs agent and --allow-agent-forwarding). */
  agentForward?: boolean | undefined;
  /** ProxyJump order: the first is dialled from this server, the target is reached from the last. */
  jumpHosts?: ReadonlyArray<HostRequest> | undefined;
}

export interface ConnectDeps {
  config: SshServerConfig;
  registry: ConnectionRegistry;
  hostKeys: HostKeyPolicy;
  log: Logger;
}

export interface OpenedConnection {
  connection: ManagedConnection;
  /** Where the connection really went (endpoint.ts). */
  endpoint: string;
  hostKeyTrust: TrustSource;
  firstUse: boolean;
  /** The pin was accepted over this record because the operator allows overrides. */
  overrode?: 'known_hosts' | 'trust_on_first_use' | undefined;
  /** The host certificate that vouched for the key (known_hosts' @cert-authority), in words. */
  hostCertificate?: string | undefined;
  agentForwarding: boolean;
  jumpHosts: HopFacts[];
}

/** Every secret in a request (target and jump hosts), for redaction of messages. */
export function secretsOf(request: ConnectRequest): string[] {
  return [request, ...(request.jumpHosts ?? [])].flatMap((r) =>
    [r.password, r.privateKey, r.passphrase].filter((s): s is string => s !== undefined),
  );
}

/** Checks one login's credentials; `what` names the host in messages ("" for the target). */
function loginSpec(login: LoginRequest, what: string, config: SshServerConfig): LoginSpec {
  if (login.password === undefined && login.privateKey === undefined && login.agent !== true) {
    throw new SshError(
      'INVALID_INPUT',
      `${what}give a password, a privateKey or agent: true to authenticate`,
    );
  }
  if (login.passphrase !== undefined && login.privateKey === undefined) {
    throw new SshError('INVALID_INPUT', `${what}passphrase is only used with privateKey`);
  }
  if (login.certificate !== undefined && login.privateKey === undefined) {
    throw new SshError(
      'INVALID_INPUT',
      `${what}certificate needs the privateKey it certifies (an agent offers its certificates by itself)`,
    );
  }
  let certificate: CertifiedLogin | undefined;
  if (login.privateKey !== undefined) {
    const parsed = parsePrivateKey(login.privateKey, login.passphrase);
    if (parsed instanceof Error) {
      throw new SshError('INVALID_INPUT', `${what}privateKey could not be used: ${parsed.message}`);
    }
    if (login.certificate !== undefined) certificate = certify(parsed, login.certificate, what);
  }
  if (login.agent === true && config.sshAgent === undefined) {
    throw new SshError(
      'INVALID_INPUT',
      `${what}agent authentication is off: the server was not started with --ssh-agent`,
    );
  }
  return {
    username: login.username,
    password: login.password,
    privateKey: login.privateKey,
    passphrase: login.passphrase,
    certificate,
    agent: login.agent === true ? config.sshAgent : undefined,
  };
}

/** Pairs privateKey with its certificate, or says in the field's name what is wrong with it. */
function certify(privateKey: ParsedKey, text: string, what: string): CertifiedLogin {
  try {
    return {
      key: certifiedKey(privateKey, text, Date.now()),
      description: describeCertificate(parseCertificateLine(text)),
    };
  } catch (err) {
    if (!(err instanceof CertificateError)) throw err;
    throw new SshError('INVALID_INPUT', `${what}certificate ${err.message}`);
  }
}

function checkAllowed(config: SshServerConfig, host: string, port: number, what: string): void {
  if (hostIsAllowed(config.allowHosts, host, port)) return;
  throw new SshError(
    'HOST_NOT_ALLOWED',
    `${what}${host}:${port} is not in this server's --allow-hosts list (${config.allowHosts
      .map((a) => (a.port === undefined ? a.host : `${a.host}:${a.port}`))
      .join(', ')})`,
    { host, port },
  );
}

function pinOf(value: string | undefined): string | undefined {
  return value === undefined ? undefined : normalizeFingerprint(value);
}

/** Validates the whole request before any connection is opened. */
function plan(request: ConnectRequest, config: SshServerConfig) {
  const hops: HopSpec[] = (request.jumpHosts ?? []).map((hop, index) => {
    const what = `jump host ${index + 1} (${hop.host}:${hop.port}): `;
    const host = hop.host.trim();
    checkAllowed(config, host, hop.port, what);
    return {
      ...loginSpec(hop, what, config),
      host,
      port: hop.port,
      hostFingerprint: pinOf(hop.hostFingerprint),
    };
  });
  const host = request.host.trim();
  const login = loginSpec(request, '', config);
  checkAllowed(config, host, request.port, '');
  if (request.agentForward === true) {
    if (request.agent !== true) {
      throw new SshError(
        'INVALID_INPUT',
        'agentForward needs agent: true (it forwards the server’s ssh-agent)',
      );
    }
    if (!config.allowAgentForwarding) {
      throw new SshError(
        'INVALID_INPUT',
        'agent forwarding is off: the server was not started with --allow-agent-forwarding',
      );
    }
  }
  return { hops, host, login };
}

export async function openConnection(request: ConnectRequest, deps: ConnectDeps): Promise<OpenedConnection> {
  const { config, registry, hostKeys, log } = deps;
  const { hops, host, login } = plan(request, config);
  const { port } = request;
  if (registry.list().length >= config.maxConnectionsPerSession) {
    // registry.open decides for good; this only avoids opening a route that would be refused.
    throw new SshError(
      'TOO_MANY_CONNECTIONS',
      `this session already has ${config.maxConnectionsPerSession} connections (the limit); disconnect one first`,
      { limit: config.maxConnectionsPerSession },
    );
  }
  const readyTimeoutMs = Math.min(
    request.readyTimeoutMs ?? config.defaultReadyTimeoutMs,
    config.maxReadyTimeoutMs,
  );
  const route = new SshRoute(
    hops,
    { host, port, username: login.username },
    {
      hostKeys,
      readyTimeoutMs,
      keepaliveIntervalMs: config.keepaliveIntervalMs,
      keepaliveCountMax: config.keepaliveCountMax,
    },
  );
  const first = await route.open();
  let unused: Tunnel | undefined = first;
  const check = hostKeys.forConnect(host, port, pinOf(request.hostFingerprint), first.endpoint);
  let decision:
    | {
        source: TrustSource;
        firstUse: boolean;
        overrode?: OpenedConnection['overrode'];
        certificate?: string | undefined;
      }
    | undefined;
  let offered: string | undefined;
  const agentForwarding = request.agentForward === true;
  const params: ConnectParams = {
    host,
    port,
    ...login,
    agentForward: agentForwarding,
    readyTimeoutMs,
    keepaliveIntervalMs: config.keepaliveIntervalMs,
    keepaliveCountMax: config.keepaliveCountMax,
    // The route already opened for the host-key check serves the first connect; reconnects open it again.
    via: async () => {
      const tunnel = unused ?? (await route.open());
      unused = undefined;
      return tunnel;
    },
    preferredHostKeyTypes: check.preferredKeyTypes,
    verifyHostKey: (key) => {
      offered = fingerprintOf(key);
      const result = check.check(key);
      if (!result.accepted) return result.reason;
      decision = {
        source: result.source,
        firstUse: result.firstUse,
        overrode: result.overrode,
        certificate: result.certificate,
      };
      return undefined;
    },
  };
  let connection: ManagedConnection;
  try {
    connection = await registry.open(request.name ?? `${login.username}@${host}:${port}`, params);
  } catch (err) {
    // Refused before the route was used (limit, session closing): release it.
    if (unused !== undefined) await unused.close();
    if (err instanceof SshError && err.code === 'HOST_KEY_REJECTED') {
      log.warn({ host, port, offeredFingerprint: offered }, 'host key rejected');
      throw new SshError(err.code, err.message, { host, port, offeredFingerprint: offered }, { cause: err });
    }
    throw err;
  }
  const trust = decision ?? { source: 'pinned' as const, firstUse: false };
  const jumpHosts = route.hopFacts();
  log.info(
    {
      connectionId: connection.id,
      host,
      port,
      username: login.username,
      fingerprint: connection.fingerprint,
      hostKeyTrust: trust.source,
      endpoint: first.endpoint,
      ...(jumpHosts.length === 0 ? {} : { jumpHosts: jumpHosts.map((h) => `${h.host}:${h.port}`) }),
    },
    'ssh connected',
  );
  if (trust.overrode !== undefined) {
    log.warn(
      { connectionId: connection.id, host, port, overrode: trust.overrode },
      'hostFingerprint overrode the host-key record (--allow-fingerprint-override)',
    );
  }
  return {
    connection,
    endpoint: first.endpoint,
    hostKeyTrust: trust.source,
    firstUse: trust.firstUse,
    overrode: trust.overrode,
    hostCertificate: trust.certificate,
    agentForwarding,
    jumpHosts,
  };
}
