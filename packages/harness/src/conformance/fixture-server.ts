/**
 * An MCP server with the fixtures the official conformance suite's server scenarios call, on SDK v2
 * (`@modelcontextprotocol/server`), serving both protocol eras on one URL the way Bastion's own
 * servers do (through @bastion/mcp-http):
 *
 *   2025-11-25  a session per `initialize` (`openSession`): state per session, server-to-client
 *               requests pushed over the session (the SDK's legacy shim serves the same
 *               `inputRequired` handlers), list changes as unsolicited notifications
 *   2026-07-28  stateless (`openIdentity` + `createMcpHandler`): a fresh server per request over
 *               the caller identity's state, `inputRequired` results the client answers and retries,
 *               list changes on the identity's `subscriptions/listen` streams
 *
 * Written from the scenario descriptions of @modelcontextprotocol/conformance 0.1.16 (the 2025-11-25
 * set) and 0.2.0-alpha.12 (the 2026-07-28 set). Our MQTT and SSH servers have none of these fixtures,
 * so through them the fixture scenarios fail by design; this server passes them, which makes it the
 * upstream a transparent proxy (the gateway) must reproduce exactly.
 */
import { type McpHttpHost, type Principal, sdkModernIdentity, startMcpHttpHost } from '@bastion/mcp-http';
import { createMcpHandler, McpServer, type ProtocolEra } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { registerInputRequiredFixtures } from './fixture/input-required.js';
import {
  registerLegacySubscriptions,
  registerListChanges,
  registerPrompts,
  registerResources,
} from './fixture/resources.js';
import { FixtureState } from './fixture/state.js';
import { registerSuiteTools } from './fixture/tools.js';

export { FixtureState } from './fixture/state.js';

/** One fixture server for `era` over `state` (a session's in 2025, an identity's in 2026). */
export function createConformanceFixtureServer(era: ProtocolEra, state: FixtureState): McpServer {
  const server = new McpServer(
    { name: 'bastion-conformance-fixture', version: '2.0.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        completions: {},
        logging: {},
      },
      // Every requestState the fixture mints is sealed; a tampered or expired one is refused with
      // -32602 before a handler runs (input-required-result-tampered-state).
      requestState: { verify: state.codec.verify },
    },
  );
  registerSuiteTools(server);
  registerInputRequiredFixtures(server, state);
  registerResources(server);
  registerPrompts(server);
  registerListChanges(server, state, era);
  if (era === 'legacy') registerLegacySubscriptions(server, state);
  return server;
}

/** The fixture over Streamable HTTP at `/mcp` (both eras) on a free loopback port. */
export async function startConformanceFixture(logger: Logger): Promise<McpHttpHost> {
  return startMcpHttpHost({
    name: 'conformance-fixture',
    logger,
    port: 0,
    endpoints: [
      {
        streamablePath: '/mcp',
        async openSession(transport) {
          const server = createConformanceFixtureServer('legacy', new FixtureState());
          await server.connect(transport);
          return { close: () => server.close() };
        },
        async openIdentity(principal: Principal) {
          const state = new FixtureState();
          const handler = createMcpHandler(({ era }) => createConformanceFixtureServer(era, state), {
            legacy: 'reject',
            bus: state.bus,
          });
          return sdkModernIdentity(handler, principal, async () => {});
        },
      },
    ],
  });
}
