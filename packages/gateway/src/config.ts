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
  type DeploymentConfig,
  deploymentSchema,
  replicaAuditPath,
  resolveDeployment,
} from './deployment.js';
import { type OversightConfig, oversightConfigFields, resolveOversight } from './oversight-config.js';
import type { CompiledPolicy } from './policy/compile.js';
import { parsePolicy } from './policy/load.js';
import { PolicyLoadError, type Problem, problemsFromZod, toPointer } from './policy/problems.js';
import { policySchema } from './policy/schema.js';

const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const DEFAULT_SESSIONS_PER_GRANT = 32;
export const DEFAULT_SESSIONS = 10_000;
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
export const DEFAULT_SESSION_IDLE_MS = 10 * 60_000;

/** Headers an identity header may not replace. */
const RESERVED_HEADERS = new Set(['authorization', 'content-type', 'content-length', 'accept', 'host']);

function configSchemaWith<P extends z.ZodType>(policy: P) {
  const policyRef = z
    .union([z.string().min(1).describe('Path of a policy file, relative to this config file.'), policy])
    .describe('The policy: inline, or the path of a policy file (reloaded when it changes).');
  const common = {
    policy: policyRef.optional(),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Longest wait for one upstream answer, in ms (default 120000; progress resets it).'),
  };
  const headers = z
    .record(z.string(), z.string())
    .optional()
    // biome-ignore lint/suspicious/noTemplateCurlyInString: "${NAME}" is the documented placeholder syntax.
    .describe('HTTP headers sent upstream; "${NAME}" is replaced by the environment variable NAME.');
  const url = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
  const identityHeader = z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, { error: 'a header name: letters, digits and "-"' })
    .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()) && !name.toLowerCase().startsWith('mcp-'), {
      error: 'a header the gateway sets itself (authorization, content-type, mcp-*)',
    })
    .optional()
    .describe(
      "Header naming who a request is for: the grant (2026-era agents) or the grant and the agent's session " +
        '(2025-era agents), so an upstream that keeps state per caller (bastion-mqtt and bastion-ssh with ' +
        '--identity-header) never lets two agents behind the gateway share it. Needs a token in `headers`.',
    );
  const stdio = z
    .strictObject({
      transport: z.literal('stdio'),
      command: z.string().min(1),
      args: z.array(z.string()).optional(),
      env: z
        .record(z.string(), z.string())
        .optional()
        // biome-ignore lint/suspicious/noTemplateCurlyInString: "${NAME}" is the documented placeholder syntax.
        .describe('Environment of the upstream process (added to PATH, HOME, ...); "${NAME}" expands.'),
      cwd: z.string().optional(),
      ...common,
    })
    .describe('An upstream started as a child process, spoken to over stdio; one process per agent session.');
  const http = z
    .strictObject({ transport: z.literal('http'), url, headers, identityHeader, ...common })
    .describe('An upstream reached over Streamable HTTP (either protocol era; found by server/discover).');
  const sse = z
    .strictObject({ transport: z.literal('sse'), url, headers, identityHeader, ...common })
    .describe('An upstream reached over the legacy HTTP+SSE transport (2025 era only).');
  const perServerPolicy = z
    .record(z.string(), policyRef)
    .optional()
    .describe('Per-server policy overrides for this grant: server name -> policy.');
  const sessionCap = z.number().int().positive();
  const grant = z.strictObject({
    maxSessions: sessionCap
      .optional()
      .describe('Sessions this grant may hold open at once (default: limits.sessionsPerGrant).'),
    tokenSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lowercase hex digits (bastion-gateway grant create)' })
      .describe('SHA-256 of the bearer token, hex. The token itself is never stored.'),
    servers: z.array(z.string().min(1)).describe('Servers this grant may reach.'),
    policy: perServerPolicy,
  });
  return z
    .strictObject({
      $schema: z.string().optional(),
      servers: z
        .record(
          z.string().regex(SERVER_NAME, { error: 'server names are letters, digits, ".", "_" and "-"' }),
          z.discriminatedUnion('transport', [stdio, http, sse]),
        )
        .describe('Upstream MCP servers by name; each is served at /servers/NAME/mcp and /servers/NAME/sse.'),
      grants: z.record(z.string().min(1), grant).optional().describe('Bearer-token grants by label.'),
      anonymous: z
        .strictObject({ servers: z.array(z.string().min(1)), policy: perServerPolicy })
        .optional()
        .describe('Access without a token (for a local sandbox only). Absent: a token is always required.'),
      audit: z
        .union([
          z.string().min(1).describe('Path of the audit log (JSON Lines), relative to this file; unkeyed.'),
          z
            .strictObject({
              path: z.string().min(1).describe('Path of the audit log (JSON Lines), relative to this file.'),
              keyFile: z
                .string()
                .min(1)
                .optional()
                .describe(
                  "The HMAC key of the chain (bastion-gateway audit key create FILE), outside the log's directory; " +
                    'the environment variable BASTION_GATEWAY_AUDIT_KEY (the key in hex) overrides it.',
                ),
              headDir: z
                .string()
                .min(1)
                .optional()
                .describe('Directory of the head checkpoint (<log name>.head); default: beside the log.'),
            })
            .describe('The audit log with a keyed chain and its head checkpoint.'),
        ])
        .optional()
        .describe(
          'The audit log. Absent: decisions are not recorded. "{replica}" in its path is replaced by the replica ' +
            'id; with shared counters (several replicas) each replica writes its own log, named by its replica id.',
        ),
      ...oversightConfigFields(url),
      limits: z
        .strictObject({
          sessionsPerGrant: sessionCap
            .optional()
            .describe(
              `2025-era sessions one grant may hold open at once (default ${DEFAULT_SESSIONS_PER_GRANT}).`,
            ),
          sessions: sessionCap
            .optional()
            .describe(`2025-era sessions the gateway holds open at once (default ${DEFAULT_SESSIONS}).`),
          sessionIdleMs: z
            .number()
            .int()
            .positive()
            .optional()
            .describe(
              `A 2025-era session with no open stream and no request for this long is closed, its upstream session with it (default ${DEFAULT_SESSION_IDLE_MS} ms): clients that exit without a DELETE leave sessions behind.`,
            ),
          shutdownGraceMs: z
            .number()
            .int()
            .nonnegative()
            .optional()
            .describe(
              `How long calls in flight may run on after SIGTERM (default ${DEFAULT_SHUTDOWN_GRACE_MS} ms).`,
            ),
        })
        .optional()
        .describe(
          'Caps that make the gateway refuse clearly instead of running out of memory or file handles.',
        ),
      ...deploymentSchema,
    })
    .describe('Bastion gateway configuration.');
}

/** The full schema, policies included: the source of the published JSON Schema. */
export const gatewayConfigSchema = configSchemaWith(policySchema);

/** The same shape with policies left for parsePolicy, whose problems read better than a union's. */
const configShapeSchema = configSchemaWith(z.record(z.string(), z.unknown()));

export type GatewayConfigDocument = z.input<typeof gatewayConfigSchema>;

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
