/**
 * A gateway checked against the policy it claims to enforce (src/suites/gateway/checks.ts): hidden
 * tools, default deny, action deny, allowed tools, batches, an upstream restart, limits and name
 * variants, each check derived from the policy file.
 *
 * Which gateway: BASTION_GATEWAY_URL with BASTION_GATEWAY_POLICY (`bastion test --suite gateway
 * --gateway-url URL --token T --policy FILE [--upstream URL] [--upstream-command CMD]`), or, unset,
 * the real bastion-gateway from its bin, in front of our own bastion-mqtt and bastion-ssh, with a
 * policy that exercises every check and with POLICY.md's two policies verbatim.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CompiledPolicy, parsePolicy } from '@bastion/gateway';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import type { GatewayEndpoint } from '../src/suites/gateway/agent.js';
import { CHECK_ORDER, deriveGatewayChecks, type GatewayCheckKind } from '../src/suites/gateway/checks.js';
import { CONTRACT_MQTT_POLICY, POLICY_MD_MQTT, POLICY_MD_SSH } from '../src/suites/gateway/policies.js';
import {
  type CheckSession,
  externalGateway,
  listUpstreamTools,
  loadPolicyForChecks,
  openCheckSession,
  UpstreamCommand,
} from '../src/suites/gateway/target.js';
import {
  type RunningService,
  startOwnGateway,
  startOwnMqttServer,
  startOwnSshServer,
} from '../src/suites/own-targets.js';

const TITLES: Record<GatewayCheckKind, string> = {
  hidden: verifies('gateway.hide.list', 'gateway.deny.shape'),
  'deny-default': verifies('gateway.deny.default', 'gateway.deny.shape'),
  'deny-action': verifies('gateway.deny.shape'),
  allowed: verifies('gateway.allow.listed'),
  batch: verifies('gateway.bypass.batch'),
  restart: verifies('gateway.reconnect.http-restart'),
  limit: verifies('gateway.limit.fixed-window'),
  names: verifies('gateway.bypass.names'),
};

interface Running {
  endpoint: GatewayEndpoint;
  upstreamTools: ReadonlyArray<Tool> | undefined;
  restartUpstream: (() => Promise<void>) | undefined;
  stop(): Promise<void>;
}

interface Setup {
  label: string;
  policy: CompiledPolicy;
  start(): Promise<Running>;
}

function compiled(document: unknown): CompiledPolicy {
  const result = parsePolicy(document);
  if (!result.ok) throw new Error(`invalid test policy: ${JSON.stringify(result.problems)}`);
  return result.policy;
}

/** bastion-gateway (its bin) with `policy` from a file, in front of one of our servers. */
function ownSetup(
  label: string,
  document: unknown,
  startUpstream: () => Promise<RunningService>,
  kind: 'mcp' | 'sse' = 'mcp',
): Setup {
  return {
    label,
    policy: compiled(document),
    async start() {
      const dir = await mkdtemp(join(tmpdir(), 'bastion-policy-'));
      const policyPath = join(dir, 'policy.json');
      await writeFile(policyPath, JSON.stringify(document));
      const upstream = await startUpstream();
      const upstreamUrl = `${upstream.baseUrl}/mcp`;
      let gateway: Awaited<ReturnType<typeof startOwnGateway>> | undefined;
      try {
        gateway = await startOwnGateway({ upstream: { url: upstreamUrl, policy: policyPath } });
        return {
          endpoint: { url: gateway.endpoint('upstream', kind), transport: 'auto', token: gateway.token },
          upstreamTools: await listUpstreamTools(upstreamUrl),
          restartUpstream: () => upstream.process.restart('SIGKILL'),
          async stop() {
            await gateway?.stop();
            await upstream.stop();
            await rm(dir, { recursive: true, force: true });
          },
        };
      } catch (err) {
        await gateway?.stop();
        await upstream.stop();
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
  };
}

function setups(): Setup[] {
  const external = externalGateway(process.env);
  if (external === undefined) {
    return [
      ownSetup('bastion-gateway, contract policy, bastion-mqtt', CONTRACT_MQTT_POLICY, () =>
        startOwnMqttServer(),
      ),
      ownSetup(
        'bastion-gateway over legacy SSE, contract policy, bastion-mqtt',
        CONTRACT_MQTT_POLICY,
        () => startOwnMqttServer(),
        'sse',
      ),
      ownSetup("bastion-gateway, POLICY.md's MQTT policy, bastion-mqtt", POLICY_MD_MQTT, () =>
        startOwnMqttServer(),
      ),
      ownSetup("bastion-gateway, POLICY.md's SSH policy, bastion-ssh", POLICY_MD_SSH, () =>
        startOwnSshServer(),
      ),
    ];
  }
  return [
    {
      label: external.endpoint.url,
      policy: loadPolicyForChecks(external.policyPath),
      async start() {
        const upstream =
          external.upstreamCommand === undefined || external.upstreamUrl === undefined
            ? undefined
            : new UpstreamCommand(external.upstreamCommand, external.upstreamUrl);
        await upstream?.start();
        try {
          return {
            endpoint: external.endpoint,
            upstreamTools:
              external.upstreamUrl === undefined
                ? undefined
                : await listUpstreamTools(external.upstreamUrl, external.upstreamToken),
            restartUpstream: upstream === undefined ? undefined : () => upstream.restart(),
            stop: async () => upstream?.stop(),
          };
        } catch (err) {
          await upstream?.stop();
          throw err;
        }
      },
    },
  ];
}

for (const setup of setups()) {
  describe(`gateway checks: ${setup.label}`, () => {
    let running: Running | undefined;
    let session: CheckSession | undefined;
    beforeAll(async () => {
      running = await setup.start();
      session = await openCheckSession({
        endpoint: running.endpoint,
        policy: setup.policy,
        upstreamTools: running.upstreamTools,
        restartUpstream: running.restartUpstream,
      });
    }, 90_000);
    afterAll(async () => {
      await session?.close();
      await running?.stop();
    });

    const checks = deriveGatewayChecks(setup.policy);
    for (const kind of CHECK_ORDER) {
      const ofKind = checks.filter((c) => c.kind === kind);
      if (ofKind.length === 0) continue;
      describe(TITLES[kind], () => {
        for (const c of ofKind) {
          it(c.title, async ({ skip }) => {
            if (session === undefined) throw new Error('the gateway did not start');
            const result = await c.run(session);
            if (result.status === 'skip') skip(result.reason);
            if (result.status === 'fail') throw new Error(result.message);
          }, 90_000);
        }
      });
    }
  });
}
