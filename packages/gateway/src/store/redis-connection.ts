/**
 * The one Redis connection a gateway replica keeps for its shared state (counters, session routing,
 * record tables), with the failure behaviour the counters need:
 *
 *   - no offline queue: while Redis is unreachable a command fails at once instead of waiting in a
 *     queue, so a limited call is denied now (fail closed) rather than hanging;
 *   - a bounded command timeout (`deadline`): a Redis that accepts but answers slowly fails the same way;
 *   - reconnection in the background with capped backoff, so the gateway recovers by itself when
 *     Redis returns, without a restart;
 *   - up/down reported to a listener (the metrics' `bastion_gateway_store_up`).
 *
 * ioredis does the connection work (the client the issue names); this file only chooses its options.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://…` */
  url: string;
  /** Longest wait for one command, in ms (default 1000). */
  timeoutMs?: number;
  /** Prefix of every key (default `bastion:`), so that deployments can share one Redis. */
  keyPrefix?: string;
  logger?: Logger;
  /** Told when the connection becomes usable (true) or is lost (false). */
  onState?(up: boolean): void;
}

export const DEFAULT_REDIS_TIMEOUT_MS = 1_000;
export const DEFAULT_KEY_PREFIX = 'bastion:';
/** Longest pause between two reconnect attempts. */
const MAX_RECONNECT_DELAY_MS = 2_000;

export class RedisConnection {
  readonly client: Redis;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  private up = false;
  private closed = false;

  constructor(private readonly options: RedisConnectionOptions) {
    this.keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
    const redisOptions: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      // A backstop only: `deadline()` enforces timeoutMs (see there); this keeps a stuck command
      // from being held by ioredis for ever.
      commandTimeout: this.timeoutMs * 5,
      connectTimeout: Math.max(this.timeoutMs, 1_000),
      maxRetriesPerRequest: 0,
      // Never give up: the gateway keeps serving unlimited calls and must find Redis again.
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), MAX_RECONNECT_DELAY_MS),
      // A replica must not answer from a Redis replica that lags: only the primary counts.
      readOnly: false,
    };
    this.client = new Redis(options.url, redisOptions);
    this.client.on('ready', () => this.setUp(true));
    this.client.on('close', () => this.setUp(false));
    // Without a listener ioredis prints every failed reconnect; the state change is what matters.
    this.client.on('error', (err: Error) => {
      if (this.up) options.logger?.warn({ err: err.message }, 'shared store (Redis) error');
    });
  }

  /** Connects once; resolves even when Redis is not reachable yet (it is tried again in the background). */
  async start(): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      this.options.logger?.warn(
        { err: (err as Error).message, redis: redactUrl(this.options.url) },
        'shared store (Redis) not reachable at start: calls that need a counter are denied until it is',
      );
    }
  }

  get isUp(): boolean {
    return this.up;
  }

  /**
   * `work`, failed with a timeout error when Redis has not answered within timeoutMs. The timer's
   * verdict waits one turn of the event loop (setImmediate runs after the I/O phase): a gateway busy
   * for longer than the timeout with a burst of requests has Redis's answer already in its socket,
   * and must read it before calling Redis slow (ioredis's own commandTimeout does not, and denied
   * calls of a busy but healthy gateway as COUNTERS_UNAVAILABLE).
   */
  deadline<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(new Error(`Redis did not answer within ${this.timeoutMs} ms (command timed out)`));
        });
      }, this.timeoutMs);
      work.then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  key(...parts: string[]): string {
    return this.keyPrefix + parts.join(':');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // quit() waits for replies in flight; disconnect() if Redis is gone (quit would wait forever).
    if (this.up) await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    if (!this.closed) {
      const log = this.options.logger;
      if (up) log?.info({ redis: redactUrl(this.options.url) }, 'shared store (Redis) connected');
      else log?.warn({ redis: redactUrl(this.options.url) }, 'shared store (Redis) connection lost');
    }
    this.options.onState?.(up);
  }
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
