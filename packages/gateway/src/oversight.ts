/**
 * What people use to oversee the gateway (issue 12), built once beside the forwarding core:
 * approvals (the pipeline's approval step), tool pins (the core's tool gate), grants made and
 * revoked at run time, the decision feed, the console that shows them all, and the landing page.
 * All of their state goes through the shared store, as counters and sessions do.
 *
 * gateway.ts plugs these in at named seams: `step` (the pipeline's approval slot), `gate` (the tool
 * catalogs' gate), `grants` (token lookups), `recordCall` (the feed), `routes`/`apps` (HTTP), and
 * `bindCore` (to tell agents that the tools they may call changed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Approvals } from './approvals/service.js';
import { type AuditEntry, type AuditLog, auditEntryFor } from './audit/log.js';
import type { Clock } from './clock.js';
import type { GatewayConfig } from './config.js';
import { createConsoleApp } from './console/app.js';
import { ConsoleAuth } from './console/auth.js';
import { DecisionFeed } from './console/feed.js';
import { sendHtml } from './console/http.js';
import { landingPage } from './console/landing.js';
import { ConsoleService } from './console/service.js';
import { GrantBook } from './grant-book.js';
import { type PinEvent, ToolPins } from './pins/pins.js';
import type { CallContext } from './pipeline/context.js';
import type { ServerRuntime } from './server-runtime.js';
import type { StateStore } from './store/store.js';

export interface OversightOptions {
  config: GatewayConfig;
  store: StateStore;
  clock: Clock;
  logger: Logger;
  runtimes: ReadonlyMap<string, ServerRuntime>;
  audit: AuditLog | undefined;
  /** How often state another replica may change is read again (approvals, pins, grants). */
  pollMs?: number;
  /** How long a 2026-era retry waits for a decision before it is asked to come back. */
  longPollMs?: number;
}

export type Oversight = Awaited<ReturnType<typeof createOversight>>;

export async function createOversight(o: OversightOptions) {
  const { config, store, clock, logger } = o;
  const servers = [...o.runtimes.keys()];
  const feed = new DecisionFeed();
  const record = (entry: AuditEntry) => {
    feed.push(entry);
    try {
      o.audit?.append(entry);
    } catch (err) {
      logger.error({ err }, 'could not write audit row');
    }
  };
  let consoleBase = config.admin?.url === undefined ? undefined : `${config.admin.url}/console`;
  let toolsChanged: (server: string) => void = () => undefined;

  const approvals = new Approvals({
    store,
    clock,
    logger,
    counters: store.counters,
    consoleUrl: () => (config.admin === undefined ? undefined : consoleBase),
    ...(config.approvals.webhook === undefined ? {} : { webhook: config.approvals.webhook }),
    record,
    ...(o.pollMs === undefined ? {} : { pollMs: o.pollMs }),
    ...(o.longPollMs === undefined ? {} : { longPollMs: o.longPollMs }),
  });
  const pins = new ToolPins({
    store,
    servers,
    logger,
    ...(config.pinsPath === undefined ? {} : { file: config.pinsPath }),
    ...(o.pollMs === undefined ? {} : { pollMs: o.pollMs }),
    toolsChanged: (server) => toolsChanged(server),
    // A first sight is nobody's decision: the lock file and the feed keep it, the audit log does not.
    pinned: (event) =>
      event.kind === 'first sight' ? feed.push(pinRow(event, clock)) : record(pinRow(event, clock)),
  });
  const grants = new GrantBook(config.grants, store, new Set(servers), logger, o.pollMs);
  try {
    await pins.start();
    await grants.start();
  } catch (err) {
    pins.close();
    grants.close();
    await approvals.close();
    throw err;
  }
  if (config.pinsPath === undefined)
    logger.warn(
      'no pins file configured ("pins" in the config): tool pins are kept in the shared store only',
    );

  const service = new ConsoleService({
    approvals,
    pins,
    grants,
    runtimes: o.runtimes,
    counters: store.counters,
    feed,
    clock,
    record,
  });
  const secure = config.admin?.url?.startsWith('https:') ?? false;
  const app = createConsoleApp({
    service,
    auth: config.admin === undefined ? undefined : new ConsoleAuth(config.admin.accounts, store, secure),
    servers,
    logger,
  });
  const landing = async (_req: IncomingMessage, res: ServerResponse) =>
    sendHtml(res, 200, landingPage(service.publicStatus(), config.admin !== undefined));

  return {
    approvals,
    pins,
    grants,
    feed,
    service,
    /** The pipeline's approval step. */
    step: approvals.step,
    /** The core's tool-definition gate (tool pinning). */
    gate: pins,
    /** A recorder for the call pipeline: the console's feed (only when there is a console to show it). */
    recordCall: (ctx: CallContext) => {
      if (config.admin !== undefined) feed.push(auditEntryFor(ctx, new Date(ctx.now).toISOString()));
    },
    routes: { '/': landing } as Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>,
    publicRoutes: ['/'],
    apps: [{ prefix: '/console', handle: app }],
    /** The address the gateway listens on, for console links when the config gives none. */
    listening(url: string): void {
      consoleBase ??= `${url}/console`;
    },
    /** The core, once made: accepted pins make the agents of a server list their tools again. */
    bindCore(core: { toolsChanged(server: string): void }): void {
      toolsChanged = (server) => core.toolsChanged(server);
    },
    async close(): Promise<void> {
      pins.close();
      grants.close();
      await approvals.close();
    },
  };
}

function pinRow(event: PinEvent, clock: Clock): AuditEntry {
  return {
    time: new Date(clock.now()).toISOString(),
    requestId: event.sha256 === '' ? event.server : event.sha256.slice(0, 16),
    grant: null,
    session: '(pins)',
    server: event.server,
    method: 'pins/accept',
    tool: event.tool,
    decision: 'accept',
    rule: `(${event.kind})`,
    reason:
      event.kind === 'first sight'
        ? `the tools the upstream offered first were pinned: ${event.tool}`
        : `tool definition ${event.sha256.slice(0, 16)} pinned (${event.kind})`,
    policyVersion: null,
    argKeys: [],
    args: {},
    upstream: null,
    decidedBy: event.by,
  };
}
