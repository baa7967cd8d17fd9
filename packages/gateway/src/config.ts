/**
 * The gateway's configuration file: upstream servers (each with its policy, inline or a file path),
 * grants (labelled bearer tokens, stored as SHA-256), optional anonymous access, and the audit log.
 * One zod schema; every problem is reported at once with its JSON Pointer, policies included. The
 * JSON Schema published beside the package (gateway-config.schema.json) is generated from it.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import type { ChainKey } from './audit/chain.js';
import { AUDIT_KEY_ENV, parseAuditKey } from './audit/key.js';
import {
  configShapeSchema,
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_SESSIONS,
  DEFAULT_SESSIONS_PER_GRANT,
  DEFAULT_SHUTDOWN_GRACE_MS,
  gatewayConfigSchema,
} from './config-schema.js';
import { type DeploymentConfig, replicaAuditPath, resolveDeployment } from './deployment.js';
import { type OversightConfig, resolveOversight } from './oversight-config.js';
import type { CompiledPolicy } from './policy/compile.js';
import { parsePolicy } from './policy/load.js';
import { PolicyLoadError, type Problem, problemsFromZod, toPointer } from './policy/problems.js';
import { policySchema } from './policy/schema.js';

export {
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_SESSIONS,
  DEFAULT_SESSIONS_PER_GRANT,
  DEFAULT_SHUTDOWN_GRACE_MS,
  type GatewayConfigDocument,
  gatewayConfigSchema,
} from './config-schema.js';

export type PolicyRef =
  | { kind: 'inline'; policy: CompiledPolicy; pointer: string }
  | { kind: 'file'; path: string };

export type UpstreamConfig =
  | { transport: 'stdio'; command: string; args: string[]; env?: Record<string, string>; cwd?: string }
  | { transport: 'http' | 'sse'; url: string; headers: Record<string, string>; identityHeader?: string };

export interface ServerConfig {
  name: string;
  upstream: UpstreamConfig;
  policy: PolicyRef | undefined;
  timeoutMs: number;
}

export interface GrantConfig {
  label: string;
  /** This grant's own session cap, when set. */
  maxSessions?: number;
  tokenSha256: string;
  servers: ReadonlySet<string>;
  policies: ReadonlyMap<string, PolicyRef>;
}

/** Where the audit log goes and what anchors it (see audit/log.ts). */
export interface AuditConfig {
  path: string;
  /** The chain's key: a file read at start, or the key itself from the environment. */
  key: { kind: 'file'; path: string } | { kind: 'env'; name: string; key: ChainKey } | undefined;
  headDir: string;
}

/** The deployment part (counters, replica id, tracing) is deployment.ts's; the oversight part (admin, approvals, pins) oversight-config.ts's. */
export interface GatewayConfig extends DeploymentConfig, OversightConfig {
  servers: ReadonlyMap<string, ServerConfig>;
  grants: ReadonlyMap<string, GrantConfig>;
  /** Present only when the config explicitly allows anonymous access. */
  anonymous: GrantConfig | undefined;
  audit: AuditConfig | undefined;
  limits: { sessionsPerGrant: number; sessions: number; sessionIdleMs: number; shutdownGraceMs: number };
}

export const ANONYMOUS_GRANT = 'anonymous';
/** The grant label of the local operator of a stdio gateway. */
export const LOCAL_GRANT = 'local';
const RESERVED_LABELS = new Set([ANONYMOUS_GRANT, LOCAL_GRANT]);
const DEFAULT_TIMEOUT_MS = 120_000;

export interface ResolveOptions {
  /** Directory relative paths are resolved against (the config file's). */
  baseDir: string;
  /** For "${NAME}" in headers and env; bin.ts passes process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

function expand(value: string, env: ResolveOptions['env'], pointer: string, problems: Problem[]): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const found = env?.[name];
    if (found === undefined) {
      problems.push({ pointer, message: `environment variable ${name} is not set` });
      return '';
    }
    return found;
  });
}

function expandAll(
  record: Record<string, string> | undefined,
  env: ResolveOptions['env'],
  pointer: string,
  problems: Problem[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record ?? {})) out[k] = expand(v, env, `${pointer}/${k}`, problems);
  return out;
}

/** Resolves and validates a parsed config document; throws PolicyLoadError with every problem. */
export function resolveConfig(document: unknown, options: ResolveOptions): GatewayConfig {
  const parsed = configShapeSchema.safeParse(document);
  if (!parsed.success) throw new PolicyLoadError(problemsFromZod(parsed.error), 'config');
  const doc = parsed.data;
  const problems: Problem[] = [];

  const policyRef = (value: unknown, path: ReadonlyArray<string>): PolicyRef | undefined => {
    if (value === undefined) return undefined;
    if (typeof value === 'string') {
      return { kind: 'file', path: isAbsolute(value) ? value : resolve(options.baseDir, value) };
    }
    const result = parsePolicy(value);
    const pointer = toPointer(path);
    if (!result.ok) {
      for (const p of result.problems)
        problems.push({ pointer: `${pointer}${p.pointer}`, message: p.message });
      return undefined;
    }
    return { kind: 'inline', policy: result.policy, pointer };
  };

  const servers = new Map<string, ServerConfig>();
  for (const [name, server] of Object.entries(doc.servers)) {
    const base = `/servers/${name}`;
    const upstream: UpstreamConfig =
      server.transport === 'stdio'
        ? {
            transport: 'stdio',
            command: server.command,
            args: server.args ?? [],
            ...(server.env === undefined
              ? {}
              : { env: expandAll(server.env, options.env, `${base}/env`, problems) }),
            ...(server.cwd === undefined ? {} : { cwd: resolve(options.baseDir, server.cwd) }),
          }
        : {
            transport: server.transport,
            url: server.url,
            headers: expandAll(server.headers, options.env, `${base}/headers`, problems),
            ...(server.identityHeader === undefined ? {} : { identityHeader: server.identityHeader }),
          };
    servers.set(name, {
      name,
      upstream,
      policy: policyRef(server.policy, ['servers', name, 'policy']),
      timeoutMs: server.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
  }

  const grantFrom = (
    label: string,
    pointerBase: string[],
    grant: {
      servers: string[];
      policy?: Record<string, unknown> | undefined;
      maxSessions?: number | undefined;
    },
    tokenSha256: string,
  ): GrantConfig => {
    grant.servers.forEach((server, i) => {
      if (!servers.has(server)) {
        problems.push({
          pointer: toPointer([...pointerBase, 'servers', String(i)]),
          message: `no server named '${server}'`,
        });
      }
    });
    const policies = new Map<string, PolicyRef>();
    for (const [server, value] of Object.entries(grant.policy ?? {})) {
      if (!grant.servers.includes(server)) {
        problems.push({
          pointer: toPointer([...pointerBase, 'policy', server]),
          message: `policy for '${server}', which this grant does not include`,
        });
        continue;
      }
      const ref = policyRef(value, [...pointerBase, 'policy', server]);
      if (ref !== undefined) policies.set(server, ref);
    }
    return {
      label,
      tokenSha256,
      servers: new Set(grant.servers),
      policies,
      ...(grant.maxSessions === undefined ? {} : { maxSessions: grant.maxSessions }),
    };
  };

  const grants = new Map<string, GrantConfig>();
  const tokenOwner = new Map<string, string>();
  for (const [label, grant] of Object.entries(doc.grants ?? {})) {
    const owner = tokenOwner.get(grant.tokenSha256);
    if (owner !== undefined) {
      problems.push({
        pointer: toPointer(['grants', label, 'tokenSha256']),
        message: `same token as grant '${owner}'; each grant needs its own token`,
      });
    }
    tokenOwner.set(grant.tokenSha256, label);
    if (RESERVED_LABELS.has(label)) {
      problems.push({ pointer: toPointer(['grants', label]), message: `the label '${label}' is reserved` });
    }
    grants.set(label, grantFrom(label, ['grants', label], grant, grant.tokenSha256));
  }
  const anonymous =
    doc.anonymous === undefined ? undefined : grantFrom(ANONYMOUS_GRANT, ['anonymous'], doc.anonymous, '');

  const deployment = resolveDeployment(doc, options.env, problems);
  const audit = doc.audit === undefined ? undefined : auditConfig(doc.audit, options, problems);
  // Each replica writes its own chain (and head checkpoint), named by its replica id.
  if (audit !== undefined) audit.path = replicaAuditPath(audit.path, deployment);
  const oversight = resolveOversight(
    doc,
    {
      baseDir: options.baseDir,
      grantTokens: tokenOwner,
      expand: (value, pointer) => expand(value, options.env, pointer, problems),
    },
    problems,
  );

  if (problems.length > 0) throw new PolicyLoadError(problems, 'config');
  return {
    ...deployment,
    servers,
    grants,
    anonymous,
    audit,
    limits: {
      sessionsPerGrant: doc.limits?.sessionsPerGrant ?? DEFAULT_SESSIONS_PER_GRANT,
      sessions: doc.limits?.sessions ?? DEFAULT_SESSIONS,
      sessionIdleMs: doc.limits?.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS,
      shutdownGraceMs: doc.limits?.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    },
    ...oversight,
  };
}

/** Whether `path` is `dir` or inside it. */
function isWithin(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function auditConfig(
  value: string | { path: string; keyFile?: string | undefined; headDir?: string | undefined },
  options: ResolveOptions,
  problems: Problem[],
): AuditConfig {
  const doc = typeof value === 'string' ? { path: value } : value;
  const path = resolve(options.baseDir, doc.path);
  const headDir = doc.headDir === undefined ? dirname(path) : resolve(options.baseDir, doc.headDir);
  const fromEnv = options.env?.[AUDIT_KEY_ENV];
  let key: AuditConfig['key'];
  if (fromEnv !== undefined && fromEnv !== '') {
    try {
      key = { kind: 'env', name: AUDIT_KEY_ENV, key: parseAuditKey(fromEnv, AUDIT_KEY_ENV) };
    } catch (err) {
      problems.push({ pointer: '/audit', message: (err as Error).message });
    }
  } else if (doc.keyFile !== undefined) {
    const keyPath = resolve(options.baseDir, doc.keyFile);
    // Whoever can rewrite the log must not be able to read the key beside it.
    if (isWithin(keyPath, dirname(path))) {
      problems.push({
        pointer: '/audit/keyFile',
        message: "the audit key must be kept outside the log's directory",
      });
    }
    key = { kind: 'file', path: keyPath };
  }
  return { path, key, headDir };
}

export async function loadConfigFile(path: string, env?: ResolveOptions['env']): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PolicyLoadError([{ pointer: '', message: `cannot read: ${(err as Error).message}` }], path);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new PolicyLoadError([{ pointer: '', message: `not JSON: ${(err as Error).message}` }], path);
  }
  try {
    return resolveConfig(document, { baseDir: dirname(resolve(path)), ...(env ? { env } : {}) });
  } catch (err) {
    if (err instanceof PolicyLoadError) throw new PolicyLoadError(err.problems, path);
    throw err;
  }
}

/** The published JSON Schema, for editor completion (`"$schema": ".../gateway-config.schema.json"`). */
export function gatewayConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(gatewayConfigSchema, { io: 'input' }) as Record<string, unknown>;
}

export function policyJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(policySchema, { io: 'input' }) as Record<string, unknown>;
}
