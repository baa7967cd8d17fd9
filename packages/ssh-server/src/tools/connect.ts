import type { McpServer } from '@modelcontextprotocol/server';
import ssh2 from 'ssh2';
import { z } from 'zod';
import { hostIsAllowed } from '../config.js';
import { redact, SshError, toSshError } from '../errors.js';
import { FINGERPRINT_PATTERN, fingerprintOf, normalizeFingerprint } from '../host-keys.js';
import type { ConnectParams } from '../ssh-client.js';
import { runTool, type ToolContext } from './context.js';

export const connectInput = {
  host: z.string().min(1).max(255).describe('Host name or IP address of the SSH server'),
  port: z.number().int().min(1).max(65535).default(22).describe('SSH port (default 22)'),
  username: z.string().min(1).max(255),
  password: z.string().optional().describe('Password; kept in memory only, never logged or returned'),
  privateKey: z
    .string()
    .optional()
    .describe('Private key text (OpenSSH or PEM); kept in memory only, never logged or returned'),
  passphrase: z.string().optional().describe('Passphrase of an encrypted privateKey'),
  agent: z
    .boolean()
    .optional()
    .describe("Authenticate with the server's ssh-agent (only if the server was started with --ssh-agent)"),
  name: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('A label for this connection (default user@host:port)'),
  hostFingerprint: z
    .string()
    .regex(FINGERPRINT_PATTERN, 'must look like SHA256:<43 base64 characters>, as printed by ssh-keygen -lf')
    .optional()
    .describe('Pin the host key: the connection is refused unless the server presents this key (SHA256:...)'),
  readyTimeoutMs: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'How long to wait for the SSH handshake and authentication (default 20 s, capped by the server)',
    ),
};

export const connectOutput = {
  connectionId: z.string(),
  name: z.string(),
  host: z.string(),
  port: z.number(),
  username: z.string(),
  fingerprint: z.string(),
  hostKeyTrust: z.enum(['pinned', 'known_hosts', 'trust_on_first_use']),
  firstUse: z.boolean(),
};

export function registerConnectTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'connect',
    {
      title: 'Connect to an SSH server',
      description:
        'Opens an SSH connection and returns its connectionId for exec, uploadFile, downloadFile and disconnect. ' +
        'Authenticate with password, privateKey (+ passphrase) or agent. The host key must match hostFingerprint, ' +
        "the server's known_hosts file, or be trusted on first use if the server allows it; a refusal names the " +
        'fingerprint the server offered so a person can verify and pin it. Several connections, to several hosts, may be open.',
      inputSchema: z.object(connectInput),
      outputSchema: z.object(connectOutput),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    (args) => {
      const secrets = [args.password, args.privateKey, args.passphrase];
      return runTool(ctx, 'connect', async () => {
        try {
          return await connect(ctx, args);
        } catch (err) {
          // Library messages should never carry a secret; make sure of it before the text leaves.
          const error = toSshError(err, 'CONNECT_FAILED', 'connect failed');
          throw new SshError(error.code, redact(error.message, secrets), error.details);
        }
      });
    },
  );
}

type ConnectArgs = z.output<z.ZodObject<typeof connectInput>>;

async function connect(ctx: ToolContext, args: ConnectArgs) {
  const { config } = ctx;
  const host = args.host.trim();
  if (args.password === undefined && args.privateKey === undefined && args.agent !== true) {
    throw new SshError('INVALID_INPUT', 'give a password, a privateKey or agent: true to authenticate');
  }
  if (args.passphrase !== undefined && args.privateKey === undefined) {
    throw new SshError('INVALID_INPUT', 'passphrase is only used with privateKey');
  }
  if (args.privateKey !== undefined) {
    const parsed = ssh2.utils.parseKey(args.privateKey, args.passphrase);
    if (parsed instanceof Error) {
      throw new SshError('INVALID_INPUT', `privateKey could not be used: ${parsed.message}`);
    }
  }
  if (args.agent === true && config.sshAgent === undefined) {
    throw new SshError(
      'INVALID_INPUT',
      'agent authentication is off: the server was not started with --ssh-agent',
    );
  }
  if (!hostIsAllowed(config.allowHosts, host, args.port)) {
    throw new SshError(
      'HOST_NOT_ALLOWED',
      `${host}:${args.port} is not in this server's --allow-hosts list (${config.allowHosts
        .map((a) => (a.port === undefined ? a.host : `${a.host}:${a.port}`))
        .join(', ')})`,
      { host, port: args.port },
    );
  }
  const pinned = args.hostFingerprint === undefined ? undefined : normalizeFingerprint(args.hostFingerprint);
  const readyTimeoutMs = Math.min(
    args.readyTimeoutMs ?? config.defaultReadyTimeoutMs,
    config.maxReadyTimeoutMs,
  );

  const hostKeys = ctx.hostKeys.forConnect(host, args.port, pinned);
  let decision: { source: 'pinned' | 'known_hosts' | 'trust_on_first_use'; firstUse: boolean } | undefined;
  let offered: string | undefined;
  const params: ConnectParams = {
    host,
    port: args.port,
    username: args.username,
    password: args.password,
    privateKey: args.privateKey,
    passphrase: args.passphrase,
    agent: args.agent === true ? config.sshAgent : undefined,
    readyTimeoutMs,
    keepaliveIntervalMs: config.keepaliveIntervalMs,
    keepaliveCountMax: config.keepaliveCountMax,
    preferredHostKeyTypes: hostKeys.preferredKeyTypes,
    verifyHostKey: (key) => {
      offered = fingerprintOf(key);
      const result = hostKeys.check(key);
      if (!result.accepted) return result.reason;
      decision = { source: result.source, firstUse: result.firstUse };
      return undefined;
    },
  };
  let managed: Awaited<ReturnType<typeof ctx.registry.open>>;
  try {
    managed = await ctx.registry.open(args.name ?? `${args.username}@${host}:${args.port}`, params);
  } catch (err) {
    if (err instanceof SshError && err.code === 'HOST_KEY_REJECTED') {
      ctx.log.warn({ host, port: args.port, offeredFingerprint: offered }, 'host key rejected');
      throw new SshError(err.code, err.message, { host, port: args.port, offeredFingerprint: offered });
    }
    throw err;
  }
  const trust = decision ?? { source: 'pinned' as const, firstUse: false };
  ctx.log.info(
    {
      connectionId: managed.id,
      host,
      port: args.port,
      username: args.username,
      fingerprint: managed.fingerprint,
      hostKeyTrust: trust.source,
    },
    'ssh connected',
  );
  const structured = {
    connectionId: managed.id,
    name: managed.name,
    host,
    port: args.port,
    username: args.username,
    fingerprint: managed.fingerprint,
    hostKeyTrust: trust.source,
    firstUse: trust.firstUse,
  };
  const how =
    trust.source === 'trust_on_first_use'
      ? trust.firstUse
        ? 'trusted on first use and pinned for this server'
        : 'matches the key trusted on first use'
      : trust.source === 'known_hosts'
        ? 'matches known_hosts'
        : 'matches the pinned hostFingerprint';
  return {
    content: [
      {
        type: 'text' as const,
        text: `Connected to ${args.username}@${host}:${args.port} as connection ${managed.id} ("${managed.name}"). Host key ${managed.fingerprint} (${how}).`,
      },
    ],
    structuredContent: structured,
  };
}
