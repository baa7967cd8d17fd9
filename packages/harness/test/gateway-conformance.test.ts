/**
 * The gateway is transparent: the official conformance suite gives the same verdict for every
 * scored scenario through the gateway as against the server behind it, in both requirement sets,
 * and also when the gateway translates (a 2026-era suite in front of a server that speaks only the
 * 2025 era, and the other way round), compared with the same fixture speaking that era itself.
 *
 * The upstream is the harness's conformance fixture (both eras on one URL, SDK v2); for the
 * translation directions it is served with one era only. The gateway admits anonymous callers (the
 * conformance CLI sends no token) with an allow-all policy.
 */
import { type McpHttpHost, type Principal, sdkModernIdentity, startMcpHttpHost } from '@bastion/mcp-http';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConformanceFixtureServer,
  FixtureState,
  startConformanceFixture,
} from '../src/conformance/fixture-server.js';
import { type RequirementSet, runConformance, verdictDifferences } from '../src/conformance/runner.js';
import { verifies } from '../src/requirements/index.js';
import { type GatewayHarness, silent, startGateway } from './gateway-fixtures/harness.js';

const ALLOW_ALL = { version: '1', default: 'allow' };

/** The fixture with one era only: the 2025 era's sessions, or the 2026 era's stateless requests. */
function fixtureOfOneEra(era: 'legacy' | 'modern'): Promise<McpHttpHost> {
  return startMcpHttpHost({
    name: `conformance-fixture-${era}`,
    logger: silent,
    endpoints: [
      {
        streamablePath: '/mcp',
        async openSession(transport) {
          if (era === 'modern') throw new Error('this fixture serves the 2026 era only');
          const server = createConformanceFixtureServer('legacy', new FixtureState());
          await server.connect(transport);
          return { close: () => server.close() };
        },
        ...(era === 'modern'
          ? {
              async openIdentity(principal: Principal) {
                const state = new FixtureState();
                const handler = createMcpHandler(({ era: e }) => createConformanceFixtureServer(e, state), {
                  legacy: 'reject',
                  bus: state.bus,
                });
                return sdkModernIdentity(handler, principal, async () => {});
              },
            }
          : {}),
      },
    ],
  });
}

/**
 * What a 2025-era upstream cannot give a 2026-era agent, whoever translates: the scenarios the
 * translation fails although the fixture passes them in the 2026 era, each with why.
 */
const LOST_IN_THE_2025_ERA: Record<string, string> = {
  // The fixture names its input requests (`user_name`); on the 2025 wire an elicitation/create
  // request has no name, so the gateway names the requests it passes on itself.
  'input-required-result-basic-elicitation': 'input request keys are not on the 2025 wire',
  // The scenario answers `user_name` without asking first: the 2025-era server never sees
  // inputResponses, so it asks, and the agent gets an input_required instead of the result.
  'input-required-result-ignore-extra-params': 'inputResponses cannot be given to a 2025-era call',
  // A 2025-era server refuses to ask for what its client did not declare in its own way (the SDK's
  // legacy shim ends the call with an isError result); -32021 is a 2026-era error.
  'server-stateless': 'a 2025-era server answers an undeclared capability with a tool error, not -32021',
};

let both: McpHttpHost;
let legacyOnly: McpHttpHost;
let modernOnly: McpHttpHost;
let gateway: GatewayHarness;
let gatewayUrl: string;

beforeAll(async () => {
  both = await startConformanceFixture(silent);
  legacyOnly = await fixtureOfOneEra('legacy');
  modernOnly = await fixtureOfOneEra('modern');
  const server = (host: McpHttpHost) => ({ transport: 'http', url: `${host.url}/mcp`, policy: ALLOW_ALL });
  gateway = await startGateway({
    servers: { both: server(both), legacy: server(legacyOnly), modern: server(modernOnly) },
    anonymous: { servers: ['both', 'legacy', 'modern'] },
    // The suite ends only some of its 2025-era sessions (about 30 of each run stay open, directly
    // as through the gateway): more than the default cap of one grant's sessions over four runs.
    limits: { sessionsPerGrant: 1_000 },
  });
  gatewayUrl = (await gateway.listen()).url;
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await Promise.all([both?.close(), legacyOnly?.close(), modernOnly?.close()]);
});

/** Runs `set` against the fixture directly and through the gateway; the scenarios whose verdicts differ. */
async function compare(set: RequirementSet, direct: string, throughGateway: string) {
  const [a, b] = [
    await runConformance({ url: direct, set }),
    await runConformance({ url: `${gatewayUrl}/servers/${throughGateway}/mcp`, set }),
  ];
  // Both ran, and ran the same scenarios (a crash or a timeout is no comparison).
  expect(a.scenarios.length).toBeGreaterThan(0);
  expect(b.scenarios.map((s) => s.scenario).sort()).toEqual(a.scenarios.map((s) => s.scenario).sort());
  return verdictDifferences(a, b);
}

describe('the conformance suite through the gateway', { timeout: 300_000 }, () => {
  it(verifies('gateway.conformance.transparent', { era: '2025-11-25' }), async () => {
    expect(await compare('2025-11-25', `${both.url}/mcp`, 'both')).toEqual([]);
  });

  it(verifies('gateway.conformance.transparent', { era: '2026-07-28' }), async () => {
    expect(await compare('2026-07-28', `${both.url}/mcp`, 'both')).toEqual([]);
  });

  it(`${verifies('gateway.era.modern-to-legacy')} (the 2026-07-28 set, upstream in the 2025 era only)`, async () => {
    const differences = await compare('2026-07-28', `${both.url}/mcp`, 'legacy');
    expect(differences.map((d) => d.scenario).sort()).toEqual(Object.keys(LOST_IN_THE_2025_ERA).sort());
  });

  it(`${verifies('gateway.era.legacy-to-modern')} (the 2025-11-25 set, upstream in the 2026 era only)`, async () => {
    expect(await compare('2025-11-25', `${both.url}/mcp`, 'modern')).toEqual([]);
  });
});
