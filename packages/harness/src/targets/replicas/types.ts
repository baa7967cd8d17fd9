/**
 * The replicas topology: several gateway replicas sharing one Redis, in front of bastion-mqtt, as
 * the compose file ships it. The process tier runs each part as a process on loopback; the container
 * tier runs the images (and a load balancer) on a Docker network. Both give the same handle, and the
 * same gateway config: one server entry per scenario, each with its own limit, all in front of the
 * same upstream, so that one topology serves every scenario.
 */
import { createGrantToken } from '@bastion/gateway';
import type { Stoppable } from '../../testing/tiers.js';

/** The limit every counting scenario runs against. */
export const SCENARIO_MAX = 50;
/** The window of the clock-skew scenario, in seconds (fixed, aligned to the epoch). */
export const SKEW_WINDOW_S = 10;
/** The tool the scenarios call: it needs no broker, so every admitted call succeeds upstream. */
export const SCENARIO_TOOL = 'mqttStatus';

export type Scope = 'grant' | 'session' | 'global';
export type WindowKind = 'fixed' | 'sliding';
export const SCOPES: ReadonlyArray<Scope> = ['grant', 'session', 'global'];
export const WINDOW_KINDS: ReadonlyArray<WindowKind> = ['fixed', 'sliding'];

export const limitServer = (scope: Scope, kind: WindowKind) => `limit-${scope}-${kind}`;
/** No limit at all: passes while Redis is down. */
export const OPEN_SERVER = 'open';
/** A global fixed limit with a short window, for the clock-skew scenario. */
export const SKEW_SERVER = 'limit-skew';
/** A global fixed limit of its own for the kill-a-replica scenario. */
export const KILL_SERVER = 'limit-kill';
/** A global fixed limit of its own for the Redis outage scenario. */
export const OUTAGE_SERVER = 'limit-outage';

export interface ReplicaTopology extends Stoppable {
  readonly tier: 'process' | 'container';
  /** One base URL per replica (http://127.0.0.1:P), in replica order. */
  readonly replicas: ReadonlyArray<string>;
  /** The one published address agents use: the load balancer (container tier) or undefined. */
  readonly balancer: string | undefined;
  readonly replicaIds: ReadonlyArray<string>;
  /** The bearer token of the scenarios' grant. */
  readonly token: string;
  /** Kills replica `i` (SIGKILL): no drain, calls in flight are cut. */
  killReplica(i: number): Promise<void>;
  startReplica(i: number): Promise<void>;
  /** Kills Redis (SIGKILL) and leaves it down. */
  redisDown(): Promise<void>;
  /** Starts Redis again on the same address, empty. */
  redisUp(): Promise<void>;
  /** `/metrics` of replica `i`. */
  metrics(i: number): Promise<string>;
  /** The host directory the replicas write their audit logs to (gateway.<replicaId>.jsonl). */
  readonly auditDir: string;
  /** The audit logs of the replicas (read from the container on that tier), by replica id. */
  auditLogs(): Promise<Map<string, string>>;
}

export interface ReplicaTopologyOptions {
  replicas?: number;
  /** Clock offsets of the replicas in ms (BASTION_GATEWAY_CLOCK_OFFSET_MS), by index. */
  clockOffsetsMs?: ReadonlyArray<number>;
}

const limit = (scope: Scope, window: number, sliding: boolean, max = SCENARIO_MAX) => ({
  version: '1',
  default: 'deny',
  tools: {
    [SCENARIO_TOOL]: { limits: [{ counter: 'calls', window, max, scope, ...(sliding ? { sliding } : {}) }] },
  },
});

/** The server entry of bastion-ssh in the container topology (both servers behind one port). */
export const SSH_SERVER = 'ssh';

/**
 * The scenarios' gateway config (without `counters`: the replicas get BASTION_REDIS_URL). With
 * `sshMcpUrl`, bastion-ssh is served too, as SSH_SERVER with its tools allowed.
 */
export function replicasGatewayConfig(
  upstreamMcpUrl: string,
  tokenSha256: string,
  audit: string,
  sshMcpUrl?: string,
) {
  const servers: Record<string, unknown> = {};
  const upstream = { transport: 'http', url: upstreamMcpUrl };
  // An hour: a fixed window does not end during a run unless it starts within seconds of the hour.
  for (const scope of SCOPES)
    for (const kind of WINDOW_KINDS)
      servers[limitServer(scope, kind)] = { ...upstream, policy: limit(scope, 3600, kind === 'sliding') };
  servers[OPEN_SERVER] = { ...upstream, policy: { version: '1', default: 'allow' } };
  servers[SKEW_SERVER] = { ...upstream, policy: limit('global', SKEW_WINDOW_S, false) };
  servers[KILL_SERVER] = { ...upstream, policy: limit('global', 3600, false) };
  servers[OUTAGE_SERVER] = { ...upstream, policy: limit('global', 3600, false, 1_000_000) };
  if (sshMcpUrl !== undefined)
    servers[SSH_SERVER] = { transport: 'http', url: sshMcpUrl, policy: { version: '1', default: 'allow' } };
  return {
    servers,
    grants: { agent: { tokenSha256, servers: Object.keys(servers) } },
    audit,
    limits: { sessionsPerGrant: 1000 },
  };
}

export function scenarioGrant(): { token: string; tokenSha256: string } {
  return createGrantToken();
}
