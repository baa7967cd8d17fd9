import type { CallToolResult, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { redact, SshError, toSshError } from '../errors.js';
import { FINGERPRINT_PATTERN } from '../host-keys.js';
import { type ConnectRequest, type OpenedConnection, openConnection, secretsOf } from '../open-connection.js';
import { runTool, type ToolContext } from './context.js';

/** ProxyJump chains longer than this are refused: each hop is a live connection held for the session. */
export const MAX_JUMP_HOSTS = 8;

const hostFingerprint = z
  .string()
  .regex(FINGERPRINT_PATTERN, 'must look like SHA256:<43 base64 characters>, as printed by ssh-keygen -lf')
  .optional();

/** What every host needs to be reached and logged in to: the target and each jump host alike. */
const hostShape = {
  host: z.string().min(1).max(255).describe('Host name or IP address of the SSH server'),
  port: z.number().int().min(1).max(65535).default(22).describe('SSH port (default 22)'),
  username: z.string().min(1).max(255),
  password: z.string().optional().describe('Password; kept in memory only, never logged or returned'),
  privateKey: z
    .string()
    .optional()
    .describe('Private key text (OpenSSH or PEM); kept in memory only, never logged or returned'),
  passphrase: z.string().optional().describe('Passphrase of an encrypted privateKey'),
  certificate: z
    .string()
    .max(16_384)
    .regex(
      /^\s*[a-z0-9-]+-cert-v01@openssh\.com\s+[A-Za-z0-9+/]+=*(\s.*)?$/s,
      'must be the text of an OpenSSH certificate file (id_*-cert.pub): "<type>-cert-v01@openssh.com <base64> [comment]"',
    )
    .optional()
    .describe(
      'OpenSSH user certificate of privateKey (the text of id_ed25519-cert.pub), signed by a CA the host trusts (TrustedUserCAKeys); logs in with privateKey instead of the plain key',
    ),
  agent: z
    .boolean()
    .optional()
    .describe("Authenticate with the server's ssh-agent (only if the server was started with --ssh-agent)"),
  hostFingerprint: hostFingerprint.describe(
    'Pin the host key: refused unless the server presents this key (SHA256:...). A pin that contradicts the server’s known_hosts is refused unless the operator allows overrides',
  ),
};

export const connectInput = {
  ...hostShape,
  name: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('A label for this connection (default user@host:port)'),
  readyTimeoutMs: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'How long to wait for each SSH handshake and authentication (default 20 s, capped by the server)',
    ),
  agentForward: z
    .boolean()
    .optional()
    .describe(
      "Forward the server's ssh-agent to this host's commands (needs agent: true and a server started with --allow-agent-forwarding; off by default)",
    ),
  jumpHosts: z
    .array(z.object(hostShape))
    .max(MAX_JUMP_HOSTS)
    .optional()
    .describe(
      'Jump hosts in ProxyJump order (ssh -J first,second target): the first is reached from the server, the target from the last. Each has its own login and its own host-key check',
    ),
};

const trust = z.enum(['pinned', 'known_hosts', 'trust_on_first_use']);

const hopOutput = z.object({
  host: z.string(),
  port: z.number(),
  username: z.string(),
  endpoint: z.string(),
  fingerprint: z.string(),
  hostKeyTrust: trust,
  firstUse: z.boolean(),
  overrode: z.enum(['known_hosts', 'trust_on_first_use']).optional(),
  hostCertificate: z.string().optional(),
});

/**
 * What a connection is. Only success results carry structuredContent: an error's code and facts (the
 * offered fingerprint, the failing hop) travel in `_meta` (the server kit's convention), so the
 * schema describes a connection and nothing else.
 */
export const connectOutput = {
  connectionId: z.string(),
  name: z.string(),
  host: z.string(),
  port: z.number(),
  username: z.string(),
  fingerprint: z.string(),
  hostKeyTrust: trust,
  firstUse: z.boolean(),
  overrode: z.enum(['known_hosts', 'trust_on_first_use']).optional(),
  hostCertificate: z
    .string()
    .optional()
    .describe('The host certificate that vouched for the host key (known_hosts @cert-authority)'),
  endpoint: z.string().describe('The address and port the connection reached (via the jump hosts)'),
  agentForwarding: z.boolean(),
  jumpHosts: z.array(hopOutput),
};

const ERROR_FACTS = ['host', 'port', 'offeredFingerprint', 'hop', 'limit'] as const;

/** The connect failure as an SshError with the facts that apply and no secret in its text. */
function connectError(err: unknown, secrets: ReadonlyArray<string>): SshError {
  const error = toSshError(err, 'CONNECT_FAILED', 'connect failed');
  // Library messages should never carry a secret; make sure of it before the text leaves.
  const message = redact(error.message, secrets);
  const facts = Object.fromEntries(
    ERROR_FACTS.filter((k) => error.details[k] !== undefined).map((k) => [k, error.details[k]]),
  );
  return new SshError(error.code, message, facts);
}

export function registerConnectTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'connect',
    {
      title: 'Connect to an SSH server',
      description:
        'Opens an SSH connection and returns its connectionId for exec, uploadFile, downloadFile and disconnect. ' +
        'Authenticate with password, privateKey (+ passphrase, + an OpenSSH user certificate) or agent (its keys and certificates). The host key must match hostFingerprint, ' +
        "the server's known_hosts file, or be trusted on first use if the server allows it; a refusal names the " +
        'fingerprint the server offered so a person can verify and pin it. jumpHosts reaches the host through a ' +
        'chain of SSH jump hosts (ProxyJump), each authenticated and verified the same way. Several connections, ' +
        'to several hosts, may be open.',
      inputSchema: z.object(connectInput),
      outputSchema: z.object(connectOutput),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    (args) =>
      runTool(ctx, 'connect', async () => {
        try {
          return connectedResult(await openConnection(args as ConnectRequest, ctx));
        } catch (err) {
          throw connectError(err, secretsOf(args as ConnectRequest));
        }
      }),
  );
}

function connectedResult(opened: OpenedConnection): CallToolResult {
  const { connection: c } = opened;
  const structured = {
    connectionId: c.id,
    name: c.name,
    host: c.host,
    port: c.port,
    username: c.username,
    fingerprint: c.fingerprint,
    hostKeyTrust: opened.hostKeyTrust,
    firstUse: opened.firstUse,
    ...(opened.overrode === undefined ? {} : { overrode: opened.overrode }),
    ...(opened.hostCertificate === undefined ? {} : { hostCertificate: opened.hostCertificate }),
    endpoint: opened.endpoint,
    agentForwarding: opened.agentForwarding,
    jumpHosts: opened.jumpHosts,
  };
  const how =
    opened.hostKeyTrust === 'trust_on_first_use'
      ? opened.firstUse
        ? 'trusted on first use and pinned for this server'
        : 'matches the key trusted on first use'
      : opened.hostKeyTrust === 'known_hosts'
        ? opened.hostCertificate === undefined
          ? 'matches known_hosts'
          : `vouched for by its ${opened.hostCertificate}`
        : opened.overrode === undefined
          ? 'matches the pinned hostFingerprint'
          : `matches the pinned hostFingerprint, which overrode ${opened.overrode === 'known_hosts' ? 'known_hosts' : 'the key trusted on first use'} (the server allows overrides)`;
  const via =
    opened.jumpHosts.length === 0
      ? ''
      : ` via ${opened.jumpHosts.map((h) => `${h.username}@${h.host}:${h.port} (host key ${h.fingerprint})`).join(' -> ')}`;
  return {
    content: [
      {
        type: 'text',
        text: `Connected to ${c.username}@${c.host}:${c.port}${via} as connection ${c.id} ("${c.name}"). Host key ${c.fingerprint} (${how}).${opened.agentForwarding ? ' The ssh-agent is forwarded to its commands.' : ''}`,
      },
    ],
    structuredContent: structured,
  };
}
