/**
 * The configured upstream servers, each with its connection pool and its era: found once with
 * `server/discover` (falling back to `initialize` when the upstream does not know it), remembered,
 * and found again after the upstream restarted (`forget`).
 *
 * How the era is told, as the 2026-07-28 revision's backward-compatibility rules say:
 *   - HTTP: a `server/discover` POST answered with a result naming 2026-07-28 is a 2026-era server;
 *     any other answer without a recognised 2026-era error (a 400 "no session", a 404, a 405) is a
 *     2025-era one;
 *   - stdio: the probe runs on a short-lived sibling process, so that a server that exits on any
 *     request before `initialize` (the Rust SDK's) does not cost the agent's own process; an answer is
 *     2026-era, an error, an exit or silence is 2025-era;
 *   - legacy SSE is 2025-era by definition.
 */
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import { MODERN_REVISION } from '../core/envelope.js';
import type { RpcResponse, Wire } from '../core/jsonrpc.js';
import type { BackoffOptions } from './backoff.js';
import { describe } from './http-exchange.js';
import { GATEWAY_INFO, gatewayEnvelope, LEGACY_REVISION, modernCaller } from './modern-exchange.js';
import { presentedOf } from './modern-upstream.js';
import { UpstreamPool } from './pool.js';
import { StdioPipe } from './stdio-pipe.js';

/** What the gateway knows of an upstream's era. */
export type EraVerdict =
  | { era: 'modern'; discover: Record<string, unknown>; at: number }
  | { era: 'legacy'; at: number };

const PROBE_TIMEOUT_MS = 5_000;

export class UpstreamServer {
  readonly pool: UpstreamPool;
  private verdict: EraVerdict | undefined;
  private discovering: Promise<EraVerdict> | undefined;
  /**
   * Whether the upstream keeps 2025-era sessions: unknown until a 2025-era agent tried. A 2026-era
   * server that answers `initialize` statelessly (createMcpHandler's default) keeps none, and a
   * 2025-era agent is then better served by the translation, which keeps its state per identity.
   */
  legacySessions: boolean | undefined;

  constructor(
    readonly config: ServerConfig,
    private readonly logger: Logger,
    options: { backoff?: BackoffOptions; reconnectWaitMs?: number },
  ) {
    this.pool = new UpstreamPool({
      server: config.name,
      upstream: config.upstream,
      timeoutMs: config.timeoutMs,
      logger: logger.child({ server: config.name }),
      ...options,
    });
  }

  get name(): string {
    return this.config.name;
  }

  /** The upstream's era, found once (concurrent callers share one probe). */
  era(): Promise<EraVerdict> {
    if (this.verdict !== undefined) return Promise.resolve(this.verdict);
    this.discovering ??= this.probe().then(
      (verdict) => {
        this.verdict = verdict;
        this.discovering = undefined;
        this.logger.info({ server: this.name, era: verdict.era }, 'upstream era found');
        return verdict;
      },
      (err: unknown) => {
        this.discovering = undefined;
        throw err;
      },
    );
    return this.discovering;
  }

  /** The era as last found, without probing. */
  known(): EraVerdict | undefined {
    return this.verdict;
  }

  /** Forgets the era (the upstream went away and may come back as something else). */
  forget(): void {
    this.verdict = undefined;
    this.legacySessions = undefined;
  }

  /** Remembers a verdict learned on the way (a 2025-era session whose initialize was refused). */
  learn(verdict: EraVerdict): void {
    this.verdict = verdict;
  }

  /** The upstream's tools (all pages), asked as a client of the gateway's own (`--check`). */
  async listTools(): Promise<Record<string, unknown>> {
    const verdict = await this.era();
    const tools: unknown[] = [];
    let cursor: string | undefined;
    const page = async (call: (params: Record<string, unknown>) => Promise<Record<string, unknown>>) => {
      for (let n = 0; n < 100; n++) {
        const result = await call(cursor === undefined ? {} : { cursor });
        if (Array.isArray(result.tools)) tools.push(...result.tools);
        cursor = typeof result.nextCursor === 'string' ? result.nextCursor : undefined;
        if (cursor === undefined) break;
      }
    };
    if (verdict.era === 'modern' && this.config.upstream.transport === 'http') {
      const exchange = modernCaller(this.pool, 'bastion-gateway');
      await page((params) => exchange('tools/list', params));
      return { tools };
    }
    // A stdio server is asked on a process of its own, in its era (a 2026-era one without a handshake).
    const events = { unsolicited: () => undefined };
    const link =
      verdict.era === 'modern'
        ? this.pool.modernLink(presentedOf(verdict.discover, this.name), 'bastion-gateway', events, false)
        : this.pool.link(
            { protocolVersion: LEGACY_REVISION, capabilities: {}, clientInfo: { ...GATEWAY_INFO } },
            'bastion-gateway',
            events,
            false,
          );
    try {
      await link.open();
      await page((params) => link.call('tools/list', params));
      return { tools };
    } finally {
      await link.close(true);
    }
  }

  private async probe(): Promise<EraVerdict> {
    const at = Date.now();
    switch (this.config.upstream.transport) {
      case 'sse':
        return { era: 'legacy', at };
      case 'http':
        return this.probeHttp(at);
      case 'stdio':
        return this.probeStdio(at);
    }
  }

  private discoverRequest() {
    return {
      jsonrpc: '2.0' as const,
      id: 'bastion-discover',
      method: 'server/discover',
      params: { _meta: gatewayEnvelope() },
    };
  }

  private async probeHttp(at: number): Promise<EraVerdict> {
    const request = this.discoverRequest();
    let answer: Wire | undefined;
    let ended: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const head = await this.pool.http?.exchange(
      {
        method: 'POST',
        headers: {
          ...this.pool.headersFor('bastion-gateway'),
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': MODERN_REVISION,
          'mcp-method': 'server/discover',
        },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      },
      {
        onMessage: (wire) => {
          answer ??= wire;
        },
        onEnd: () => ended(),
      },
    );
    if (head === undefined) return { era: 'legacy', at };
    await done;
    return verdictOf(answer, at);
  }

  private async probeStdio(at: number): Promise<EraVerdict> {
    const upstream = this.config.upstream;
    if (upstream.transport !== 'stdio') return { era: 'legacy', at };
    const pipe = new StdioPipe(upstream, this.logger);
    try {
      const answer = await new Promise<Wire | undefined>((resolve, reject) => {
        const timer = setTimeout(() => resolve(undefined), PROBE_TIMEOUT_MS);
        pipe
          .start({
            onMessage: (wire) => {
              clearTimeout(timer);
              resolve(wire);
            },
            onUnanswered: () => undefined,
            onClosed: () => {
              clearTimeout(timer);
              resolve(undefined);
            },
          })
          .then(() => {
            const request = this.discoverRequest();
            return pipe.send(request, JSON.stringify(request));
          })
          .catch((err: unknown) => {
            clearTimeout(timer);
            reject(err);
          });
      });
      return verdictOf(answer, at);
    } catch (err) {
      throw new Error(`upstream '${this.name}' could not be started: ${describe(err)}`);
    } finally {
      await pipe.close();
    }
  }
}

/** A discover result naming the gateway's revision is a 2026-era server; anything else is 2025-era. */
function verdictOf(answer: Wire | undefined, at: number): EraVerdict {
  const result = (answer?.msg as RpcResponse | undefined)?.result;
  const versions = result?.supportedVersions;
  if (Array.isArray(versions) && versions.includes(MODERN_REVISION))
    return { era: 'modern', discover: result ?? {}, at };
  return { era: 'legacy', at };
}

export class UpstreamDirectory {
  private readonly servers = new Map<string, UpstreamServer>();

  constructor(options: {
    servers: ReadonlyMap<string, ServerConfig>;
    logger: Logger;
    backoff?: BackoffOptions;
    reconnectWaitMs?: number;
  }) {
    const { servers, logger, ...rest } = options;
    for (const config of servers.values())
      this.servers.set(config.name, new UpstreamServer(config, logger, rest));
  }

  get(name: string): UpstreamServer {
    const server = this.servers.get(name);
    if (server === undefined) throw new Error(`no server named '${name}'`);
    return server;
  }

  async close(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => s.pool.close()));
  }
}
