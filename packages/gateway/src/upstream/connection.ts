/**
 * The connection half of a link: one pipe at a time, opened (and, for the 2025 era, handshaken)
 * on demand, noticed when it goes away, and opened again in the background with backoff and jitter
 * between attempts. What travels over it is the link's business (link.ts).
 */
import type { Logger } from 'pino';
import { type Id, RpcFault, type Wire } from '../core/jsonrpc.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { UpstreamUnavailableError } from './errors.js';
import { describe } from './http-exchange.js';
import type { InitializeResult } from './link.js';
import type { Pipe } from './pipe.js';

export interface ConnectionOptions {
  server: string;
  openPipe(): Pipe;
  /** How long a request waits for a reconnect under way before failing as unavailable. */
  reconnectWaitMs?: number;
  backoff?: BackoffOptions;
  logger: Logger;
}

const PROBE_TIMEOUT_MS = 5_000;

export abstract class Connection {
  init: InitializeResult | undefined;
  protected pipe: Pipe | undefined;
  protected state: 'new' | 'ready' | 'down' | 'closed' = 'new';
  protected generation = 0;
  protected listening = false;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<Pipe> | undefined;
  private probing = false;
  private lastError: string | undefined;

  constructor(private readonly connection: ConnectionOptions) {
    this.backoff = new Backoff(connection.backoff);
  }

  /** A message from the pipe of `generation`. */
  protected abstract receive(wire: Wire, via: Id | undefined, generation: number): void;
  /** Opens the session on a fresh pipe: the 2025-era handshake, or nothing (2026 era). */
  protected abstract handshake(pipe: Pipe, generation: number): Promise<InitializeResult | undefined>;
  /** The session is open on `pipe`. */
  protected abstract opened(pipe: Pipe, init: InitializeResult | undefined): void;
  /** Fails the requests sent on the lost pipe. */
  protected abstract failInFlight(generation: number): void;
  /** Asks the upstream whether the session is there; undefined when there is no way to ask. */
  protected abstract probe(signal: AbortSignal): Promise<unknown> | undefined;
  /** A new session replaced a lost one. */
  protected abstract reconnected(): Promise<void>;

  /** Opens the first connection; throws UpstreamUnavailableError (or the upstream's refusal) if it cannot. */
  async open(): Promise<InitializeResult | undefined> {
    await this.attempt();
    return this.init;
  }

  /** Stops reconnecting and lets go of the pipe (closing it is the caller's). */
  protected shut(): Pipe | undefined {
    this.state = 'closed';
    clearTimeout(this.reconnectTimer);
    const pipe = this.pipe;
    this.pipe = undefined;
    return pipe;
  }

  /** A method, not a field read, so that a check after an await is not narrowed away. */
  protected isClosed(): boolean {
    return this.state === 'closed';
  }

  /**
   * The pipe to send on; while the upstream is away, the result of an attempt made now (a request
   * does not wait for the next backoff step), bounded by `reconnectWaitMs`.
   */
  protected ready(): Promise<Pipe> {
    if (this.state === 'closed')
      return Promise.reject(new UpstreamUnavailableError('the agent session closed'));
    if (this.state === 'ready' && this.pipe !== undefined) return Promise.resolve(this.pipe);
    const unavailable = () =>
      new UpstreamUnavailableError(
        `upstream '${this.connection.server}' is unavailable${this.lastError ? ` (${this.lastError})` : ''}`,
      );
    return new Promise<Pipe>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable()), this.connection.reconnectWaitMs ?? 10_000);
      this.attempt().then(
        (pipe) => {
          clearTimeout(timer);
          resolve(pipe);
        },
        () => {
          clearTimeout(timer);
          reject(unavailable());
        },
      );
    });
  }

  /** One connection attempt (joined if one is under way); on failure the next is scheduled. */
  private attempt(): Promise<Pipe> {
    if (this.connecting !== undefined) return this.connecting;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const first = this.state === 'new';
    const attempt = this.connect().then(
      async (pipe) => {
        this.connecting = undefined;
        this.backoff.reset();
        this.lastError = undefined;
        if (!first) {
          this.connection.logger.info({ server: this.connection.server }, 'upstream session re-established');
          try {
            await this.reconnected();
          } catch (err) {
            this.connection.logger.warn(
              { err: describe(err), server: this.connection.server },
              'could not restore session state upstream',
            );
          }
        }
        return pipe;
      },
      (err: unknown) => {
        this.connecting = undefined;
        this.lastError = describe(err);
        if (!first) this.scheduleReconnect();
        throw err;
      },
    );
    this.connecting = attempt;
    return attempt;
  }

  private async connect(): Promise<Pipe> {
    if (this.state === 'closed') throw new UpstreamUnavailableError('the agent session closed');
    const generation = ++this.generation;
    const pipe = this.connection.openPipe();
    try {
      await pipe.start({
        onMessage: (wire, via) => this.receive(wire, via, generation),
        onUnanswered: () => this.suspect(generation),
        onClosed: (reason) => this.lost(generation, new Error(reason)),
      });
      const init = (await this.handshake(pipe, generation)) ?? this.init;
      if (this.isClosed()) throw new UpstreamUnavailableError('the agent session closed');
      this.init = init;
      this.pipe = pipe;
      this.state = 'ready';
      this.opened(pipe, init);
      if (this.listening) pipe.listen(true);
      return pipe;
    } catch (err) {
      await pipe.close(false).catch(() => undefined);
      if (err instanceof UpstreamUnavailableError || err instanceof RpcFault) throw err;
      throw new UpstreamUnavailableError(
        `upstream '${this.connection.server}' could not be reached: ${describe(err)}`,
        { cause: err },
      );
    }
  }

  /** The connection is gone: fail what is in flight, drop the pipe, start reconnecting. */
  protected lost(generation: number, reason: unknown): void {
    if (generation !== this.generation || this.state !== 'ready') return;
    this.state = 'down';
    this.connection.logger.warn(
      { server: this.connection.server, reason: describe(reason) },
      'upstream session lost; reconnecting',
    );
    this.failInFlight(generation);
    const pipe = this.pipe;
    this.pipe = undefined;
    void pipe?.close(false).catch(() => undefined);
    this.scheduleReconnect();
  }

  /** A response stream ended unanswered: ask the upstream whether the session is still there. */
  protected suspect(generation: number): void {
    if (this.probing || generation !== this.generation || this.state !== 'ready') return;
    const probe = this.probe(AbortSignal.timeout(PROBE_TIMEOUT_MS));
    if (probe === undefined) return;
    this.probing = true;
    probe
      .then(
        () => undefined,
        (err: unknown) => {
          // An error answer means the session is alive (it answered); anything else means it is not.
          if (!(err instanceof RpcFault)) this.lost(generation, err);
        },
      )
      .finally(() => {
        this.probing = false;
      });
  }

  /** Background reconnects: one attempt after each backoff step (with jitter) until one succeeds. */
  private scheduleReconnect(): void {
    if (this.state === 'closed' || this.state === 'ready' || this.connecting !== undefined) return;
    if (this.reconnectTimer !== undefined) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.attempt().catch(() => undefined);
    }, this.backoff.next());
  }
}
