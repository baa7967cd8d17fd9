/**
 * The config sections for running several gateway replicas behind one address: where shared state
 * lives (`counters`), what this replica is called (`replicaId`: its metrics label, its audit log's
 * name, its trace resource), and where traces go (`tracing`). Kept apart from config.ts so that the
 * single-process config reads as it did; config.ts adds these fields and calls `resolveDeployment`.
 *
 * Environment overrides (for containers, where one image runs as every replica):
 *   BASTION_REDIS_URL      replaces counters.redis
 *   BASTION_REPLICA_ID     replaces replicaId (default: hostname-pid)
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, replaces tracing.otlp
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import type { Problem } from './policy/problems.js';
import { DEFAULT_KEY_PREFIX, DEFAULT_REDIS_TIMEOUT_MS } from './store/redis-connection.js';

export const REDIS_URL_ENV = 'BASTION_REDIS_URL';
export const REPLICA_ID_ENV = 'BASTION_REPLICA_ID';

const redisUrl = z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' });
const replicaIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
  error: 'a replica id is letters, digits, ".", "_" and "-" (it names files and metric labels)',
});

export const deploymentSchema = {
  counters: z
    .strictObject({
      redis: redisUrl.describe(`Redis URL; ${REDIS_URL_ENV} overrides it.`),
      timeoutMs: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          `Longest wait for Redis, in ms (default ${DEFAULT_REDIS_TIMEOUT_MS}); past it a limited call is denied (COUNTERS_UNAVAILABLE).`,
        ),
      keyPrefix: z
        .string()
        .optional()
        .describe(`Prefix of every key the gateway writes (default "${DEFAULT_KEY_PREFIX}").`),
    })
    .optional()
    .describe(
      'Shared state (rate-limit counters, 2025-era session routing, approvals, pins) in Redis, for ' +
        'several gateway replicas behind one address. Absent: in memory (one process).',
    ),
  replicaId: replicaIdSchema
    .optional()
    .describe(
      `This replica's name: a label on every metric, the name of its audit log, its trace resource; ${REPLICA_ID_ENV} overrides it (default hostname-pid).`,
    ),
  tracing: z
    .strictObject({
      otlp: z
        .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
        .optional()
        .describe(
          'OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); OTEL_EXPORTER_OTLP_TRACES_ENDPOINT overrides it.',
        ),
      headers: z
        .record(z.string(), z.string())
        .optional()
        .describe('Headers sent with every export (an API key for a hosted collector).'),
      serviceName: z
        .string()
        .min(1)
        .optional()
        .describe('service.name of the spans (default bastion-gateway).'),
    })
    .optional()
    .describe('OpenTelemetry traces: one span per tool call, joined to the agent’s trace.'),
};

export interface CountersConfig {
  redis: string;
  timeoutMs: number;
  keyPrefix: string;
}

export interface TracingConfig {
  /** Absent: spans are made (and context passed upstream) but not exported. */
  otlp?: string;
  headers: Record<string, string>;
  serviceName: string;
}

export interface DeploymentConfig {
  /** Present: shared state in Redis. */
  counters: CountersConfig | undefined;
  replicaId: string;
  /**
   * Whether this gateway runs as one of several replicas: shared state is configured, or a replica id
   * was given. Only then do metrics carry the `replica` label (a single process keeps its series).
   */
  replicated: boolean;
  tracing: TracingConfig | undefined;
}

type DeploymentDocument = {
  counters?: { redis: string; timeoutMs?: number | undefined; keyPrefix?: string | undefined } | undefined;
  replicaId?: string | undefined;
  tracing?:
    | {
        otlp?: string | undefined;
        headers?: Record<string, string> | undefined;
        serviceName?: string | undefined;
      }
    | undefined;
};

export function defaultReplicaId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '') || 'gateway';
  return `${host.slice(0, 48)}-${process.pid}`;
}

/** The deployment sections of a parsed config, with the environment's overrides applied. */
export function resolveDeployment(
  doc: DeploymentDocument,
  env: Readonly<Record<string, string | undefined>> | undefined,
  problems: Problem[],
): DeploymentConfig {
  const fromEnv = (name: string) => {
    const value = env?.[name];
    return value === undefined || value === '' ? undefined : value;
  };
  let counters: CountersConfig | undefined;
  const url = fromEnv(REDIS_URL_ENV) ?? doc.counters?.redis;
  if (url !== undefined) {
    if (!redisUrl.safeParse(url).success)
      problems.push({ pointer: '/counters/redis', message: `${REDIS_URL_ENV}: expected a redis:// URL` });
    counters = {
      redis: url,
      timeoutMs: doc.counters?.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS,
      keyPrefix: doc.counters?.keyPrefix ?? DEFAULT_KEY_PREFIX,
    };
  }
  let replicaId = fromEnv(REPLICA_ID_ENV) ?? doc.replicaId;
  if (replicaId !== undefined && !replicaIdSchema.safeParse(replicaId).success) {
    problems.push({ pointer: '/replicaId', message: `'${replicaId}' is not a replica id` });
    replicaId = undefined;
  }
  const envOtlp =
    fromEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ??
    (fromEnv('OTEL_EXPORTER_OTLP_ENDPOINT') === undefined
      ? undefined
      : `${fromEnv('OTEL_EXPORTER_OTLP_ENDPOINT')?.replace(/\/+$/, '')}/v1/traces`);
  const otlp = envOtlp ?? doc.tracing?.otlp;
  const tracing =
    doc.tracing === undefined && otlp === undefined
      ? undefined
      : {
          ...(otlp === undefined ? {} : { otlp }),
          headers: doc.tracing?.headers ?? {},
          serviceName: doc.tracing?.serviceName ?? fromEnv('OTEL_SERVICE_NAME') ?? 'bastion-gateway',
        };
  return {
    counters,
    replicaId: replicaId ?? defaultReplicaId(),
    replicated: counters !== undefined || replicaId !== undefined,
    tracing,
  };
}

/**
 * The audit log this replica writes. Each replica keeps its own hash chain (two processes appending
 * to one chain would break it), named by its replica id: `{replica}` in the configured path is
 * replaced by it; without the placeholder, a gateway with shared state (several replicas) inserts
 * `.<replicaId>` before the extension (`audit/gateway.jsonl` -> `audit/gateway.gw-1.jsonl`), and a
 * single process keeps the path as written.
 */
export function replicaAuditPath(path: string, deployment: DeploymentConfig): string {
  if (path.includes('{replica}')) return path.replaceAll('{replica}', deployment.replicaId);
  if (deployment.counters === undefined) return path;
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash + 1
    ? `${path.slice(0, dot)}.${deployment.replicaId}${path.slice(dot)}`
    : `${path}.${deployment.replicaId}`;
}
