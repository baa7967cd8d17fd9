/**
 * A gateway checked against the policy it claims to enforce (src/suites/gateway/checks.ts): hidden
 * tools, default deny, action deny, allowed tools, batches, headers against the body, an upstream
 * restart, name variants and limits (a burst, retry-after, a whole window), each check derived from
 * the policy file and each test verifying one requirement.
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
import {
  CHECK_ORDER,
  type CheckResult,
  deriveGatewayChecks,
  type GatewayCheck,
  type GatewayCheckKind,
} from '../src/suites/gateway/checks.js';
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

/** One requirement per kind of check, so each passes or fails on its own evidence. */
const TITLES: Record<GatewayCheckKind, string> = {
  hidden: verifies('gateway.hide.list'),
  'deny-default': verifies('gateway.deny.default'),
  'deny-action': verifies('gateway.deny.action'),
  allowed: verifies('gateway.allow.listed'),
  batch: verifies('gateway.bypass.batch'),
  headers: verifies('gateway.bypass.headers'),
  restart: verifies('gateway.reconnect.http-restart'),
  names: verifies('gateway.bypass.names'),
  'limit-burst': verifies('gateway.limit.exact-under-concurrency'),
  'limit-retry': verifies('gateway.limit.retry-after'),
  'limit-window': verifies('gateway.limit.whole-window'),
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
  /** The policy is one of the harness's own (a window too long to watch then fails). */
  own: boolean;
  maxObservedWindowMs?: number;
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
    own: true,
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
      own: false,
      maxObservedWindowMs: external.maxObservedWindowMs,
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

/**
 * Every setup starts at once and runs its checks in order in the background; each test waits for
 * its check's result. The setups share nothing, so a minute-long whole-window check of one overlaps
 * the others' instead of adding to them.
 */
interface Prepared {
  setup: Setup;
  checks: GatewayCheck[];
  running?: Running;
  session?: CheckSession;
  startError?: Error;
  results: Map<string, Promise<CheckResult>>;
  done: Promise<void>;
}

const prepared: Prepared[] = setups().map((setup) => ({
  setup,
  checks: deriveGatewayChecks(setup.policy),
  results: new Map(),
  done: Promise.resolve(),
}));

async function prepare(p: Prepared): Promise<void> {
  try {
    p.running = await p.setup.start();
    p.session = await openCheckSession({
      endpoint: p.running.endpoint,
      policy: p.setup.policy,
      upstreamTools: p.running.upstreamTools,
      restartUpstream: p.running.restartUpstream,
      ownPolicy: p.setup.own,
      ...(p.setup.maxObservedWindowMs === undefined
        ? {}
        : { maxObservedWindowMs: p.setup.maxObservedWindowMs }),
    });
  } catch (err) {
    p.startError = err as Error;
    return;
  }
  const session = p.session;
  let chain: Promise<unknown> = Promise.resolve();
  for (const c of p.checks) {
    // run() never rejects: a check that throws is reported as failed.
    const result = chain.then(() => c.run(session));
    p.results.set(c.key, result);
    chain = result;
  }
  p.done = chain.then(() => undefined);
}

beforeAll(async () => {
  await Promise.all(prepared.map(prepare));
}, 120_000);
afterAll(async () => {
  await Promise.all(
    prepared.map(async (p) => {
      await p.done;
      await p.session?.close();
      await p.running?.stop();
    }),
  );
}, 180_000);

for (const p of prepared) {
  describe(`gateway checks: ${p.setup.label}`, () => {
    for (const kind of CHECK_ORDER) {
      const ofKind = p.checks.filter((c) => c.kind === kind);
      if (ofKind.length === 0) continue;
      describe(TITLES[kind], () => {
        for (const c of ofKind) {
          it(c.title, async ({ skip }) => {
            if (p.startError !== undefined)
              throw new Error(`the gateway did not start: ${p.startError.message}`);
            const result = await p.results.get(c.key);
            if (result === undefined) throw new Error('the gateway did not start');
            if (result.status === 'skip') skip(result.reason);
            if (result.status === 'fail') throw new Error(result.message);
          }, 180_000);
        }
      });
    }
  });
}
