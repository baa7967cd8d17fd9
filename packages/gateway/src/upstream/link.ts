/**
 * One agent session's upstream session: an SDK Client on its own transport, opened when the agent
 * initializes, re-established when the upstream goes away, closed with the agent's session.
 *
 * How the upstream going away is noticed:
 *   - stdio: the child exits (the transport closes).
 *   - HTTP: a request is answered 404 (the upstream restarted and forgot the session) or cannot
 *     connect; or the transport reports an error, or a response stream ends without the answer to
 *     its request, and a ping then fails. The ping matters: an upstream that shuts down cleanly ends its
 *     streams without an error, and a call waiting on one would otherwise wait for its timeout.
 * What happens then:
 *   - every call in flight fails at once with UpstreamLostError (it may or may not have run);
 *   - a request that was never delivered (404, connection refused) is sent again, once, on the new
 *     session, so an agent calling after an upstream restart sees no difference;
 *   - a new upstream session is initialized in the background, with backoff and jitter between
 *     attempts, and `onReconnected` replays what the agent had set up (log level, subscriptions).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type ClientCapabilities,
  ErrorCode,
  type Implementation,
  type InitializeResult,
  ListToolsResultSchema,
  McpError,
  type Notification,
  type Request,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { UpstreamConfig } from '../config.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { SessionClosedError, UpstreamLostError, UpstreamUnavailableError } from './errors.js';
import { NodeHttpClientTransport, UpstreamNotDeliveredError } from './http-transport.js';
import { ResponsesLastTransport } from './ordered-transport.js';
import { createUpstreamTransport } from './transport.js';

export interface UpstreamLinkOptions {
  server: string;
  upstream: UpstreamConfig;
  /** The agent's clientInfo and capabilities, passed on so the upstream sees the agent it serves. */
  clientInfo: Implementation;
  clientCapabilities: ClientCapabilities;
  /** Longest wait for one answer (reset by progress). */
  timeoutMs: number;
  /** How long a request waits for a reconnect in progress before failing as unavailable. */
  reconnectWaitMs?: number;
  backoff?: BackoffOptions;
  logger: Logger;
  /** Installs the handlers for upstream-to-agent traffic on each new Client. */
  setup(client: Client): void;
  /** After a reconnect: replay state the agent set up, and note a changed tool list. */
  onReconnected?(client: Client): Promise<void>;
  /** Counted in metrics. */
  onReconnect?(): void;
}

export type UpstreamInit = Pick<InitializeResult, 'capabilities' | 'serverInfo' | 'instructions'>;

interface InFlight {
  reject(err: Error): void;
}

/**
 * A request that never reached the upstream: safe to send again. A 404 means the upstream does not
 * know the session (it restarted). A request that failed before its response headers (an
 * UpstreamNotDeliveredError from the HTTP transport, a `fetch failed` from the SDK's legacy SSE
 * one) can only have failed in sending: an MCP HTTP server
 * answers a POST with its headers as soon as it has dispatched the message (the result follows on
 * the event stream, where a later failure is reported as the stream breaking, not here), so a POST
 * that got no headers was refused, or went out on a kept-alive connection the old process had
 * already closed.
 */
function isNotDelivered(err: unknown): boolean {
  if (err instanceof UpstreamNotDeliveredError) return true;
  if (err instanceof StreamableHTTPError) return err.code === 404;
  if (!(err instanceof Error) || err instanceof McpError) return false;
  if (/\(HTTP 404\)/.test(err.message) || err.message === 'Not connected') return true;
  return err.name === 'TypeError' && /fetch failed/.test(err.message);
}

function isConnectionClosed(err: unknown): boolean {
  return err instanceof McpError && err.code === ErrorCode.ConnectionClosed;
}

/** The upstream's answer did not match the MCP schema (a zod error from the SDK). */
function isInvalidAnswer(err: unknown): boolean {
  return err instanceof Error && (err.name === 'ZodError' || err.name === '$ZodError');
}

export class UpstreamLink {
  private client: Client | undefined;
  private transport: Transport | undefined;
  private generation = 0;
  private readonly inflight = new Set<InFlight>();
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** A connection attempt under way (background or asked for by a request). */
  private connecting: Promise<Client> | undefined;
  private probing = false;
  private lastError: string | undefined;
  private closed = false;
  private tools: Tool[] = [];
  private toolsStale = false;
  private refreshing: Promise<void> | undefined;
  init: UpstreamInit | undefined;

  constructor(private readonly options: UpstreamLinkOptions) {
    this.backoff = new Backoff(options.backoff);
  }

  /** Opens the first upstream session; throws UpstreamUnavailableError if the upstream cannot be reached. */
  async open(): Promise<void> {
    await this.connect();
  }

  /** The upstream's tools, as last listed (all pages). */
  currentTools(): ReadonlyArray<Tool> {
    return this.tools;
  }

  /** Marks the tool list as changed (tools/list_changed); the next `freshTools` lists again. */
  toolsChanged(): void {
    this.toolsStale = true;
  }

  async freshTools(): Promise<ReadonlyArray<Tool>> {
    while (this.toolsStale) {
      this.refreshing ??= (async () => {
        this.toolsStale = false;
        try {
          this.tools = await this.listAllTools(await this.ready());
        } catch (err) {
          this.options.logger.warn({ err, server: this.options.server }, 'could not list upstream tools');
        } finally {
          this.refreshing = undefined;
        }
      })();
      await this.refreshing;
    }
    return this.tools;
  }

  /**
   * Sends a request upstream. A request that was not delivered is sent again once on a new session;
   * one caught in flight by the upstream going away rejects with UpstreamLostError.
   */
  async request<S extends z.ZodType>(
    request: Request,
    schema: S,
    options: Pick<RequestOptions, 'signal' | 'onprogress'> = {},
  ): Promise<z.output<S>> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.ready();
      const generation = this.generation;
      try {
        return await this.track(
          client.request(request, schema, {
            ...options,
            timeout: this.options.timeoutMs,
            resetTimeoutOnProgress: true,
          }),
        );
      } catch (err) {
        if (err instanceof UpstreamLostError) throw err;
        if (isNotDelivered(err)) {
          this.lost(generation, err);
          if (attempt === 0 && !this.closed) continue;
          throw new UpstreamUnavailableError(
            `upstream '${this.options.server}' did not take the request: ${describe(err)}`,
          );
        }
        if (err instanceof McpError && !(isConnectionClosed(err) && generation !== this.generation))
          throw err;
        if (isInvalidAnswer(err)) {
          throw new McpError(
            ErrorCode.InternalError,
            `upstream '${this.options.server}' sent an invalid answer: ${describe(err)}`,
          );
        }
        // The connection failed under the request (reset, stream cut, session closed): it may have run.
        this.lost(generation, err);
        throw new UpstreamLostError(
          `upstream '${this.options.server}' went away during the request: ${describe(err)}`,
        );
      }
    }
  }

  async notify(notification: Notification): Promise<void> {
    const client = await this.ready();
    await client.notification(notification);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    for (const entry of this.inflight) entry.reject(new SessionClosedError('the agent session closed'));
    this.inflight.clear();
    await this.dispose(this.client, this.transport, true);
    this.client = undefined;
    this.transport = undefined;
  }

  /** Runs `promise` as a call in flight: it fails at once if the upstream is lost meanwhile. */
  private track<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: InFlight = { reject };
      this.inflight.add(entry);
      promise.then(
        (value) => {
          this.inflight.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.inflight.delete(entry);
          reject(err);
        },
      );
    });
  }

  private async connect(): Promise<Client> {
    const transport = createUpstreamTransport(
      this.options.upstream,
      {
        onStreamEndedUnanswered: (id) =>
          this.suspect(client, new Error(`response stream for request ${id} ended without an answer`)),
      },
      this.options.logger,
    );
    const ordered = new ResponsesLastTransport(transport);
    const client = new Client(this.options.clientInfo, { capabilities: this.options.clientCapabilities });
    this.options.setup(client);
    let connected = false;
    client.onclose = () => {
      if (connected && this.client === client)
        this.lost(this.generation, new Error('upstream closed the connection'));
    };
    client.onerror = (err) => {
      if (connected && this.client === client) this.suspect(client, err);
    };
    try {
      await client.connect(ordered, { timeout: Math.min(this.options.timeoutMs, 30_000) });
      const tools = await this.listAllTools(client);
      if (this.closed) throw new UpstreamUnavailableError('the agent session closed');
      connected = true;
      this.client = client;
      this.transport = transport;
      this.tools = tools;
      this.toolsStale = false;
      this.init = {
        capabilities: client.getServerCapabilities() ?? {},
        serverInfo: client.getServerVersion() ?? { name: this.options.server, version: '0' },
        ...(client.getInstructions() === undefined ? {} : { instructions: client.getInstructions() }),
      };
      return client;
    } catch (err) {
      await this.dispose(client, transport, false);
      if (err instanceof UpstreamUnavailableError) throw err;
      throw new UpstreamUnavailableError(
        `upstream '${this.options.server}' could not be reached: ${describe(err)}`,
      );
    }
  }

  private async listAllTools(client: Client): Promise<Tool[]> {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.request(
        { method: 'tools/list', params: cursor === undefined ? {} : { cursor } },
        ListToolsResultSchema,
        { timeout: this.options.timeoutMs },
      );
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return tools;
  }

  /**
   * The connected client; or, while the upstream is away, the result of an attempt made now: a
   * request does not wait for the next backoff step (an upstream that is back is used at once, one
   * that is still down fails the request quickly). Bounded by `reconnectWaitMs`.
   */
  private ready(): Promise<Client> {
    if (this.closed) return Promise.reject(new UpstreamUnavailableError('the agent session closed'));
    if (this.client !== undefined) return Promise.resolve(this.client);
    const unavailable = () =>
      new UpstreamUnavailableError(
        `upstream '${this.options.server}' is unavailable${this.lastError ? ` (${this.lastError})` : ''}`,
      );
    return new Promise<Client>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable()), this.options.reconnectWaitMs ?? 10_000);
      this.attempt().then(
        (client) => {
          clearTimeout(timer);
          resolve(client);
        },
        () => {
          clearTimeout(timer);
          reject(unavailable());
        },
      );
    });
  }

  /** The upstream session is gone: fail what is in flight, drop the client, start reconnecting. */
  private lost(generation: number, reason: unknown): void {
    if (generation !== this.generation || this.closed || this.client === undefined) return;
    this.generation++;
    this.options.logger.warn(
      { server: this.options.server, reason: describe(reason) },
      'upstream session lost; reconnecting',
    );
    const error = new UpstreamLostError(`upstream '${this.options.server}' restarted`);
    for (const entry of this.inflight) entry.reject(error);
    this.inflight.clear();
    const client = this.client;
    const transport = this.transport;
    this.client = undefined;
    this.transport = undefined;
    void this.dispose(client, transport, false);
    this.scheduleReconnect();
  }

  /** Something looked wrong on the transport: ask the upstream whether the session is still there. */
  private suspect(client: Client, reason: unknown): void {
    if (this.probing || this.closed || this.client !== client) return;
    this.probing = true;
    const generation = this.generation;
    this.options.logger.debug(
      { server: this.options.server, reason: describe(reason) },
      'checking upstream session',
    );
    client
      .ping({ timeout: 5_000 })
      .then(
        () => undefined,
        (err: unknown) => {
          // A protocol error answer means the session is alive (it answered); anything else means it is not.
          if (err instanceof McpError && !isConnectionClosed(err) && err.code !== ErrorCode.RequestTimeout)
            return;
          this.lost(generation, err);
        },
      )
      .finally(() => {
        this.probing = false;
      });
  }

  /** Background reconnects: one attempt after each backoff step (with jitter) until one succeeds. */
  private scheduleReconnect(): void {
    if (this.closed || this.client !== undefined || this.connecting !== undefined) return;
    if (this.reconnectTimer !== undefined) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.attempt().catch(() => undefined);
    }, delay);
  }

  /** One connection attempt (joined if one is under way); on failure the next is scheduled. */
  private attempt(): Promise<Client> {
    if (this.connecting !== undefined) return this.connecting;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const attempt = this.connect().then(
      async (client) => {
        this.connecting = undefined;
        this.backoff.reset();
        this.lastError = undefined;
        this.options.onReconnect?.();
        this.options.logger.info({ server: this.options.server }, 'upstream session re-established');
        try {
          await this.options.onReconnected?.(client);
        } catch (err) {
          this.options.logger.warn(
            { err, server: this.options.server },
            'could not restore session state upstream',
          );
        }
        return client;
      },
      (err: unknown) => {
        this.connecting = undefined;
        this.lastError = describe(err);
        this.options.logger.debug({ server: this.options.server, err: this.lastError }, 'reconnect failed');
        this.scheduleReconnect();
        throw err;
      },
    );
    this.connecting = attempt;
    return attempt;
  }

  /** Closes a client and its transport; on a clean close, an HTTP session is ended upstream too. */
  private async dispose(
    client: Client | undefined,
    transport: Transport | undefined,
    clean: boolean,
  ): Promise<void> {
    if (client === undefined) return;
    client.onclose = undefined;
    client.onerror = undefined;
    if (clean && transport instanceof NodeHttpClientTransport) {
      await transport.terminateSession().catch(() => undefined);
    }
    await client.close().catch(() => undefined);
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${err.message} (${cause.code})` : err.message;
}
