/**
 * The server's options as one zod schema. Command-line strings and programmatic values both pass
 * through it; every problem is reported at once, each naming its option.
 */
import { normalizeOrigin } from '@bastion/mcp-http';
import { describeConfigIssues } from '@bastion/mcp-http/kit';
import { z } from 'zod';

/** A broker `--allow-brokers` lets through: exact host (case-insensitive) and port, or any port. */
export interface BrokerPattern {
  host: string;
  port: number | '*';
}

const portNumber = z.coerce.number().int().min(1).max(65_535);
const number = {
  error: (issue: { code: string; expected?: unknown }) =>
    issue.code !== 'invalid_type'
      ? undefined
      : issue.expected === 'int'
        ? 'must be a whole number'
        : 'must be a number',
};

function parseBrokerPattern(text: string, ctx: z.RefinementCtx): BrokerPattern | typeof z.NEVER {
  const trimmed = text.trim();
  // `[::1]:1883` for IPv6, otherwise the last colon separates the port.
  const match = /^\[([^\]]+)\]:(\S+)$/.exec(trimmed) ?? /^([^:\s]+):(\S+)$/.exec(trimmed);
  const host = match?.[1];
  const port = match?.[2];
  if (host === undefined || port === undefined) {
    ctx.addIssue({ code: 'custom', message: `'${trimmed}' is not host:port (or host:*)` });
    return z.NEVER;
  }
  if (port === '*') return { host: host.toLowerCase(), port: '*' };
  const parsed = portNumber.safeParse(port);
  if (!parsed.success) {
    ctx.addIssue({ code: 'custom', message: `'${trimmed}' has no valid port (1-65535 or *)` });
    return z.NEVER;
  }
  return { host: host.toLowerCase(), port: parsed.data };
}

const brokerPatternSchema = z.unknown().transform((value, ctx): BrokerPattern => {
  if (typeof value === 'string') return parseBrokerPattern(value, ctx);
  const object = value as Partial<BrokerPattern> | null;
  if (
    typeof object?.host === 'string' &&
    (object.port === '*' || portNumber.safeParse(object.port).success)
  ) {
    return { host: object.host, port: object.port as number | '*' };
  }
  ctx.addIssue({ code: 'custom', message: 'expected host:port, host:* or { host, port }' });
  return z.NEVER;
});

const commaList = (value: unknown) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    : value;

const positiveInt = z.coerce.number(number).int().positive();
const nonNegativeInt = z.coerce.number(number).int().min(0);

export const mqttServerConfigSchema = z
  .object({
    transport: z.enum(['stdio', 'http']).default('stdio'),
    /** HTTP bind address. */
    host: z.string().min(1).default('127.0.0.1'),
    /** HTTP port; 0 picks a free one. 4000 is the MQTTX SSE Server's port. */
    port: z.coerce.number(number).int().min(0).max(65_535).default(4000),
    /**
     * When set, every HTTP request needs `Authorization: Bearer <token>`, one of these. Each token is
     * its own identity for the state of the stateless era.
     */
    authToken: z
      .union([z.string(), z.array(z.string())])
      .transform((value) => (Array.isArray(value) ? value : [value]))
      .pipe(z.array(z.string().min(16, 'must be at least 16 characters')).min(1))
      .optional(),
    /**
     * A header in which a caller holding a token names the identity it acts for (a gateway in front
     * names each agent's grant), so that agents behind one token keep their connections apart.
     */
    identityHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
      .optional(),
    /** A 2025-era session with no open stream and no request for this long is closed. */
    sessionIdleTimeoutMs: positiveInt.default(10 * 60_000),
    /** A 2026-era identity with no request and no open stream for this long loses its connections. */
    identityIdleTimeoutMs: positiveInt.default(30 * 60_000),
    /** Host names accepted in Host/Origin headers; default: loopback names and the bind host. */
    allowedHosts: z.preprocess(commaList, z.array(z.string().min(1)).min(1)).optional(),
    /** Browser origins allowed besides the server's own; `null` never is. */
    allowedOrigins: z
      .preprocess(
        commaList,
        z.array(
          z
            .string()
            .min(1)
            .refine((o) => normalizeOrigin(o) !== undefined, {
              message: "is not an origin (scheme://host[:port]; never 'null')",
            }),
        ),
      )
      .optional(),
    /**
     * Brokers mqttConnect may reach. Absent: any broker (as the original server); present: only these,
     * so the server is not an open relay.
     */
    allowBrokers: z
      .preprocess(commaList, z.array(brokerPatternSchema).min(1, 'lists no broker'))
      .optional()
      .transform((list) => list?.map((p) => ({ host: p.host.toLowerCase(), port: p.port }) as BrokerPattern)),
    /** Largest payload mqttPublish accepts (after base64 decoding). */
    maxPayloadBytes: positiveInt.default(1024 * 1024),
    /**
     * Received messages kept per connection. Sized for a burst of 10,000 (issue 13); at the limit the
     * connection pauses the broker for `bufferFullPauseMs`, then drops the oldest (and counts them).
     */
    maxBufferedMessages: positiveInt.default(10_000),
    /** Bytes (payloads and topics) kept per connection; the same happens at this limit. */
    maxBufferedBytes: positiveInt.default(64 * 1024 * 1024),
    /**
     * How long a full buffer holds the broker back (TCP backpressure; QoS 1/2 stay unacknowledged)
     * waiting for a read before it drops; 0 drops at once. Capped at a quarter of the keep-alive.
     */
    bufferFullPauseMs: nonNegativeInt.default(5_000),
    /**
     * Received messages pushed as notifications per second and connection, at most (0: no limit);
     * beyond it they are only buffered, so that a client's reads are not starved by notifications.
     * In issue 13's burst an SDK client read 3 times at 1,000 a second (and without a limit), 14
     * times at 100; no agent takes in more than 100 a second anyway.
     */
    maxNotificationsPerSecond: nonNegativeInt.default(100),
    /** Broker connections one MCP session may hold at once. */
    maxConnectionsPerSession: positiveInt.default(10),
    /** Upper bound for mqttReadMessages' waitMs. */
    maxWaitMs: positiveInt.default(60_000),
    /** How long a publish, subscribe or unsubscribe waits for the broker's acknowledgement. */
    operationTimeoutMs: positiveInt.default(10_000),
    /** First delay before reconnecting after the broker went away; doubles up to the maximum. */
    reconnectInitialDelayMs: positiveInt.default(500),
    reconnectMaxDelayMs: positiveInt.default(15_000),
    /**
     * A link must stay up this long before the backoff starts over from reconnectInitialDelayMs; links
     * lost sooner, three in a row, are taken for another client using the same client id.
     */
    reconnectStableMs: positiveInt.default(10_000),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((config, ctx) => {
    if (config.transport === 'http' && !isLoopback(config.host) && config.authToken === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['authToken'],
        message: `is required when listening on a non-loopback address (${config.host})`,
      });
    }
    if (config.identityHeader !== undefined && config.authToken === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['identityHeader'],
        message: 'needs --auth-token: without a token anybody could claim any identity',
      });
    }
    if (config.reconnectMaxDelayMs < config.reconnectInitialDelayMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['reconnectMaxDelayMs'],
        message: 'must not be less than reconnectInitialDelayMs',
      });
    }
  });

/** Options as given (strings from the command line are fine). */
export type MqttServerOptions = z.input<typeof mqttServerConfigSchema>;
/** Options after validation and defaults. */
export type MqttServerConfig = z.output<typeof mqttServerConfigSchema>;

/** Options whose flag is not their name in kebab case. */
export const FLAG_NAMES: Readonly<Record<string, string>> = {
  maxBufferedMessages: '--buffer-size',
  maxConnectionsPerSession: '--max-connections',
  sessionIdleTimeoutMs: '--session-idle-timeout-ms',
  identityIdleTimeoutMs: '--identity-idle-timeout-ms',
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: ReadonlyArray<z.core.$ZodIssue>) {
    super(`invalid configuration:\n${describeConfigIssues(issues, FLAG_NAMES).replace(/^/gm, '  - ')}`);
  }
}

/** Validates options and fills in defaults; throws a ConfigError naming every problem by its flag. */
export function parseConfig(options: MqttServerOptions = {}): MqttServerConfig {
  const result = mqttServerConfigSchema.safeParse(options);
  if (!result.success) throw new ConfigError(result.error.issues);
  return result.data;
}

// Exactly the usual loopback names: 127.0.0.2 is loopback too, but a bind there is deliberate and
// others on the machine may route to it, so it needs a token like any other address (as bastion-ssh).
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const isLoopback = (host: string) => LOOPBACK.has(host.toLowerCase());

/** Whether `--allow-brokers` lets mqttConnect reach host:port (undefined list: any broker). */
export function brokerAllowed(
  allow: ReadonlyArray<BrokerPattern> | undefined,
  host: string,
  port: number,
): boolean {
  if (allow === undefined) return true;
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return allow.some((p) => p.host.replace(/^\[(.*)\]$/, '$1') === h && (p.port === '*' || p.port === port));
}
