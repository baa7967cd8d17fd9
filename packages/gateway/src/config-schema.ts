/**
 * The gateway config's zod schema: one source for parsing (config.ts), for the JSON Schema published
 * beside the package (gateway-config.schema.json), and for the defaults the descriptions name.
 */
import { z } from 'zod';
import { deploymentSchema } from './deployment.js';
import { oversightConfigFields } from './oversight-config.js';
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
export const configShapeSchema = configSchemaWith(z.record(z.string(), z.unknown()));

export type GatewayConfigDocument = z.input<typeof gatewayConfigSchema>;
