/**
 * The server's options: one zod schema, and every problem reported at once so that a person fixes
 * a command line in one go. Values come from the command line as strings (bin.ts) or from code.
 */
import { normalizeOrigin } from '@bastion/mcp-http';
import { describeConfigIssues } from '@bastion/mcp-http/kit';
import { z } from 'zod';

const MiB = 1024 * 1024;
/** The longest delay a Node timer takes (about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export interface AllowedHost {
  host: string;
  /** Any port when undefined. */
  port: number | undefined;
}

function parseAllowedHost(raw: string): AllowedHost | string {
  const value = raw.trim().toLowerCase();
  if (value === '') return 'empty entry';
  let host = value;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1] ?? '';
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if ((value.match(/:/g) ?? []).length === 1) {
    const [h, p] = value.split(':');
    host = h ?? '';
    if (!/^\d+$/.test(p ?? '')) return `'${raw}' has a port that is not a number`;
    port = Number(p);
  }
  if (port !== undefined && (port < 1 || port > 65535)) return `'${raw}' has a port outside 1-65535`;
  if (host === '') return `'${raw}' has no host`;
  return { host, port };
}

const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const sshServerConfigSchema = z
  .object({
    transport: z.enum(['stdio', 'http']).default('stdio'),
    host: z.string().min(1).default('127.0.0.1'),
    port: count(0, 65535).default(4100),
    /**
     * When set, every HTTP request needs `Authorization: Bearer <token>`, one of these; each token is
     * its own identity for the state of the stateless era.
     */
    authToken: z
      .union([z.string(), z.array(z.string())])
      .transform((value) => (Array.isArray(value) ? value : [value]))
      .pipe(z.array(z.string().min(16, 'must be at least 16 characters')).min(1))
      .optional(),
    /** A header in which a caller holding a token names the identity it acts for (a gateway). */
    identityHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
      .optional(),
    /** A 2025-era session with no open stream and no request for this long is closed. */
    sessionIdleTimeoutMs: count(1, 86_400_000).default(10 * 60_000),
    /** A 2026-era identity with no request and no open stream for this long loses its connections. */
    identityIdleTimeoutMs: count(1, 86_400_000).default(30 * 60_000),
    /**
     * Host names accepted in Host/Origin headers; default: loopback names and the bind host. Set when
     * the server is reached by a name other than the address it binds (a container on 0.0.0.0).
     */
    allowedHosts: z
      .string()
      .optional()
      .transform((value) =>
        value === undefined
          ? undefined
          : value
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== ''),
      )
      .refine((names) => names === undefined || names.length > 0, 'names at least one host'),
    /** Browser origins allowed besides the server's own; `null` never is. */
    allowedOrigins: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .transform((value, ctx) => {
        if (value === undefined) return undefined;
        const items = (Array.isArray(value) ? value : value.split(','))
          .map((s) => s.trim())
          .filter((s) => s !== '');
        for (const item of items) {
          if (normalizeOrigin(item) === undefined)
            ctx.addIssue({
              code: 'custom',
              message: `'${item}' is not an origin (scheme://host[:port]; never 'null')`,
            });
        }
        return items;
      }),
    /** `host[:port]` entries; empty means any host (the documented default). */
    allowHosts: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .transform((value, ctx) => {
        if (value === undefined) return [] as AllowedHost[];
        const items = (Array.isArray(value) ? value : value.split(',')).filter((s) => s.trim() !== '');
        const parsed: AllowedHost[] = [];
        for (const item of items) {
          const result = parseAllowedHost(item);
          if (typeof result === 'string') ctx.addIssue({ code: 'custom', message: result });
          else parsed.push(result);
        }
        return parsed;
      }),
    knownHostsFile: z.string().min(1).optional(),
    trustOnFirstUse: z.boolean().default(false),
    filesRoot: z.string().min(1).optional(),
    /** Path of an ssh-agent socket that `connect {agent: true}` may use. Off unless given. */
    sshAgent: z.string().min(1).optional(),
    /** Lets `connect {agent: true, agentForward: true}` forward that agent to the remote. Off by default. */
    allowAgentForwarding: z.boolean().default(false),
    /** Lets a `hostFingerprint` win over known_hosts (or a TOFU pin) that lists other keys. Off: refused. */
    allowFingerprintOverride: z.boolean().default(false),
    defaultTimeoutMs: count(1, 86_400_000).default(60_000),
    maxTimeoutMs: count(1, 86_400_000).default(600_000),
    defaultMaxOutputBytes: count(1, 1024 * MiB).default(MiB),
    maxOutputBytes: count(1, 1024 * MiB).default(10 * MiB),
    maxFileBytes: count(1, 1024 * MiB).default(16 * MiB),
    maxConnectionsPerSession: count(1, 1000).default(8),
    maxExecsPerConnection: count(1, 1000).default(4),
    defaultReadyTimeoutMs: count(1, 600_000).default(20_000),
    maxReadyTimeoutMs: count(1, 600_000).default(120_000),
    keepaliveIntervalMs: count(0, 3_600_000).default(15_000),
    keepaliveCountMax: count(1, 100).default(3),
    /** After the first signal on timeout, how long to wait before SIGKILL, then before closing the channel. */
    killGraceMs: count(0, 60_000).default(1_000),
    /** exec with a progress token: a progress notification at least this often while it runs. */
    progressIntervalMs: count(50, 600_000).default(5_000),
    /** Background jobs running at once per session. */
    maxJobs: count(1, 1000).default(8),
    /** Upper bound (and default) of the output a job keeps, per stream, in its ring. */
    maxJobOutputBytes: count(1024, 1024 * MiB).default(MiB),
    /** Upper bound (and default) of a job's lifetime (a Node timer holds at most 2^31 - 1 ms). */
    maxJobMs: count(1, MAX_TIMER_MS).default(86_400_000),
    /** exec calls running as MCP tasks (both eras), kept at once per session or identity. */
    maxTasks: count(1, 1000).default(16),
    /** Upper bound (and default) of how long a task is kept, counted from its creation. */
    taskTtlMs: count(1000, MAX_TIMER_MS).default(3_600_000),
    /** The poll interval tasks suggest to clients. */
    taskPollIntervalMs: count(10, 600_000).default(1_000),
    /** 2026 era: an exec still running after this long is answered with a task. */
    taskAfterMs: count(0, 600_000).default(2_000),
    /** PTY shells open at once per session. */
    maxShells: count(1, 1000).default(4),
    /** Upper bound (and default) of the output a shell keeps in its ring. */
    maxShellOutputBytes: count(1024, 1024 * MiB).default(MiB),
    /** A shell with no call on it for this long is closed (the default; a shell may ask for less or more). */
    shellIdleTimeoutMs: count(1000, MAX_TIMER_MS).default(600_000),
    /** Upper bound of a shell's idle timeout. */
    maxShellIdleTimeoutMs: count(1000, MAX_TIMER_MS).default(3_600_000),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  // Cross-field checks run even when a field is invalid (`when`), so that every problem is reported
  // at once; a field that failed to parse simply fails none of them (comparisons with NaN are false).
  .superRefine(
    (c, ctx) => {
      if (c.defaultTimeoutMs > c.maxTimeoutMs) {
        ctx.addIssue({
          code: 'custom',
          path: ['defaultTimeoutMs'],
          message: 'must not exceed --max-timeout-ms',
        });
      }
      if (c.defaultMaxOutputBytes > c.maxOutputBytes) {
        ctx.addIssue({
          code: 'custom',
          path: ['defaultMaxOutputBytes'],
          message: 'must not exceed --max-output-bytes',
        });
      }
      if (c.shellIdleTimeoutMs > c.maxShellIdleTimeoutMs) {
        ctx.addIssue({
          code: 'custom',
          path: ['shellIdleTimeoutMs'],
          message: 'must not exceed maxShellIdleTimeoutMs',
        });
      }
      if (c.defaultReadyTimeoutMs > c.maxReadyTimeoutMs) {
        ctx.addIssue({
          code: 'custom',
          path: ['defaultReadyTimeoutMs'],
          message: 'must not exceed maxReadyTimeoutMs',
        });
      }
      if (c.allowAgentForwarding && c.sshAgent === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['allowAgentForwarding'],
          message: 'needs an ssh-agent to forward (--ssh-agent)',
        });
      }
      // A server that opens SSH connections on request must not be reachable from the network by anyone.
      if (c.transport === 'http' && !LOOPBACK.has(c.host) && c.authToken === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['authToken'],
          message: `is required when listening on a non-loopback address (${c.host})`,
        });
      }
      if (c.identityHeader !== undefined && c.authToken === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['identityHeader'],
          message: 'needs --auth-token: without a token anybody could claim any identity',
        });
      }
    },
    { when: () => true },
  );

export type SshServerConfigInput = z.input<typeof sshServerConfigSchema>;
export type SshServerConfig = z.output<typeof sshServerConfigSchema>;

/** Options whose flag is not their name in kebab case. */
export const FLAG_NAMES: Readonly<Record<string, string>> = {
  defaultTimeoutMs: '--timeout-ms',
  knownHostsFile: '--known-hosts',
  maxConnectionsPerSession: '--max-connections',
  maxExecsPerConnection: '--max-execs',
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly issues: ReadonlyArray<z.core.$ZodIssue>) {
    super(`invalid configuration:\n${describeConfigIssues(issues, FLAG_NAMES).replace(/^/gm, '  - ')}`);
  }
}

/** Parses options; throws a ConfigError naming every problem by its flag. Never echoes the auth token. */
export function parseConfig(input: SshServerConfigInput): SshServerConfig {
  const result = sshServerConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues);
}

export function hostIsAllowed(allow: ReadonlyArray<AllowedHost>, host: string, port: number): boolean {
  if (allow.length === 0) return true;
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return allow.some((a) => a.host === h && (a.port === undefined || a.port === port));
}
