import { describe, expect, it } from 'vitest';
import { RpcFault } from '../src/core/jsonrpc.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import type { CallContext } from '../src/pipeline/context.js';
import { errorDetails } from '../src/pipeline/denial.js';
import { createCallPipeline } from '../src/pipeline/index.js';
import type { GrantResolution } from '../src/pipeline/steps/resolve-grant.js';
import type { CompiledPolicy } from '../src/policy/compile.js';
import { UpstreamLostError, UpstreamUnavailableError } from '../src/upstream/errors.js';
import { context, FakeClock, fakeTarget, policy } from './helpers.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

const MQTT = policy({
  version: '1',
  default: 'deny',
  tools: {
    mqttDisconnect: {
      limits: [{ counter: 'mqttdisconnect_rate', window: 'minute', max: 60, scope: 'grant' }],
    },
  },
});

function pipelineFor(
  p: CompiledPolicy | undefined,
  grants: Record<string, string[]> = { alice: ['mqtt'], bob: ['mqtt'] },
) {
  const recorded: CallContext[] = [];
  const store = new MemoryCounterStore();
  const run = createCallPipeline({
    resolveGrant: (principal, server): GrantResolution | undefined =>
      grants[principal.id]?.includes(server) ? { grant: principal.id, policy: p } : undefined,
    counters: store,
    recorders: [(ctx) => recorded.push(ctx)],
  });
  return { run, recorded, store };
}

/** The denial's machine-readable part, without its code (the error-result convention's `_meta`). */
const policyOf = (result: { _meta?: Record<string, unknown> }) => {
  const details = errorDetails(result);
  if (details === undefined) return undefined;
  const { code: _code, ...decision } = details;
  return decision;
};

describe('call pipeline', () => {
  it('denies an unlisted tool under default deny without forwarding it', async () => {
    const { run, recorded } = pipelineFor(MQTT);
    const target = fakeTarget(['mqttConnect', 'mqttDisconnect']);
    const result = await run(context({ tool: 'mqttConnect', target }, T0));
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([
      {
        type: 'text',
        text: "[POLICY DENIED] tool 'mqttConnect' is not allowed by the policy (default deny)",
      },
    ]);
    expect(policyOf(result)).toEqual({
      decision: 'deny',
      rule: '(default deny)',
      reason: "tool 'mqttConnect' is not allowed by the policy (default deny)",
    });
    expect(target.calls).toBe(0);
    expect(recorded).toHaveLength(1);
  });

  it('denies without a principal, a grant for the server, or a policy', async () => {
    const target = fakeTarget(['mqttDisconnect']);
    const { run } = pipelineFor(MQTT);
    expect(policyOf(await run(context({ tool: 'mqttDisconnect', target }, T0, null)))?.rule).toBe(
      '(unauthenticated)',
    );
    expect(policyOf(await run(context({ tool: 'mqttDisconnect', target, server: 'ssh' }, T0)))?.rule).toBe(
      '(no grant)',
    );
    const none = pipelineFor(undefined);
    expect(policyOf(await none.run(context({ tool: 'mqttDisconnect', target }, T0)))?.rule).toBe(
      '(no policy)',
    );
    expect(target.calls).toBe(0);
  });

  it('denies the 61st call in a minute with retryAfterMs, and allows again in the next window', async () => {
    const clock = new FakeClock(T0 + 30_000);
    const { run } = pipelineFor(MQTT);
    const target = fakeTarget(['mqttDisconnect']);
    for (let i = 0; i < 60; i++) {
      const r = await run(context({ tool: 'mqttDisconnect', target }, clock.now()));
      expect(r.isError).toBeUndefined();
    }
    const denied = await run(context({ tool: 'mqttDisconnect', target }, clock.now()));
    expect(policyOf(denied)).toMatchObject({ rule: '/tools/mqttDisconnect/limits/0', retryAfterMs: 30_000 });
    expect(target.calls).toBe(60);
    clock.advance(30_000);
    expect((await run(context({ tool: 'mqttDisconnect', target }, clock.now()))).isError).toBeUndefined();
  });

  it('counts grants apart', async () => {
    const { run } = pipelineFor(
      policy({
        version: '1',
        default: 'deny',
        tools: { t: { limits: [{ counter: 'c', window: 'minute', max: 1 }] } },
      }),
    );
    const target = fakeTarget(['t']);
    expect((await run(context({ tool: 't', target }, T0))).isError).toBeUndefined();
    expect((await run(context({ tool: 't', target }, T0))).isError).toBe(true);
    const bob = await run(context({ tool: 't', target }, T0, { id: 'bob', kind: 'grant' }));
    expect(bob.isError).toBeUndefined();
  });

  it('admits exactly max of 200 parallel calls', async () => {
    const { run } = pipelineFor(MQTT);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const target = fakeTarget(['mqttDisconnect'], async () => {
      await gate;
      return { content: [] };
    });
    const all = Array.from({ length: 200 }, () => run(context({ tool: 'mqttDisconnect', target }, T0)));
    release();
    const results = await Promise.all(all);
    expect(results.filter((r) => r.isError !== true)).toHaveLength(60);
    expect(target.calls).toBe(60);
  });

  it('returns the quota when the upstream answers with a protocol error, keeps it for a tool error', async () => {
    const p = policy({
      version: '1',
      default: 'deny',
      tools: { t: { limits: [{ counter: 'c', window: 'minute', max: 1 }] } },
    });
    const { run, store, recorded } = pipelineFor(p);
    const failing = fakeTarget(['t'], async () => {
      throw new RpcFault(-32602, 'bad arguments');
    });
    await expect(run(context({ tool: 't', target: failing }, T0))).rejects.toThrow('bad arguments');
    expect(recorded.at(-1)?.upstream?.outcome).toBe('protocol-error');
    const key = JSON.stringify(['mqtt', 'c', 'grant:alice']);
    expect(store.count(key, T0)).toBe(0);
    const toolError = fakeTarget(['t'], async () => ({ content: [], isError: true }));
    await run(context({ tool: 't', target: toolError }, T0));
    expect(store.count(key, T0)).toBe(1);
  });

  it('answers an upstream restart mid-call with a clear isError, and one never delivered with its quota back', async () => {
    const p = policy({
      version: '1',
      default: 'allow',
      all_tools: { limits: [{ counter: 'c', window: 'minute', max: 5 }] },
    });
    const { run, store } = pipelineFor(p);
    const lost = fakeTarget(['t'], async () => {
      throw new UpstreamLostError('gone');
    });
    const r = await run(context({ tool: 't', target: lost }, T0));
    expect(r.isError).toBe(true);
    expect(r.content[0]).toMatchObject({
      text: expect.stringMatching(/^upstream restarted, call not completed/),
    });
    expect(r.structuredContent).toBeUndefined();
    expect(errorDetails(r)).toEqual({ code: 'UPSTREAM_RESTARTED' });
    const key = JSON.stringify(['mqtt', 'c', 'grant:alice']);
    expect(store.count(key, T0)).toBe(1);
    const down = fakeTarget(['t'], async () => {
      throw new UpstreamUnavailableError('refused');
    });
    expect(errorDetails(await run(context({ tool: 't', target: down }, T0)))).toEqual({
      code: 'UPSTREAM_UNAVAILABLE',
    });
    expect(store.count(key, T0)).toBe(1);
  });

  it('checks require and deny_if, naming the condition and using on_deny', async () => {
    const p = policy({
      version: '1',
      default: 'deny',
      tools: {
        exec: {
          require: [{ path: 'args.reason', op: 'exists' }],
          deny_if: [{ path: 'args.command', op: 'regex', value: '^sudo\\b' }],
        },
        publish: { deny_if: [{ path: 'args.qos', op: 'gt', value: 1 }], on_deny: 'QoS 2 is not allowed' },
      },
    });
    const { run } = pipelineFor(p);
    const target = fakeTarget(['exec', 'publish']);
    const noReason = await run(context({ tool: 'exec', target, args: { command: 'ls' } }, T0));
    expect(policyOf(noReason)).toMatchObject({
      rule: '/tools/exec/require/0',
      reason: 'requires args.reason exists',
    });
    const sudo = await run(context({ tool: 'exec', target, args: { command: 'sudo ls', reason: 'x' } }, T0));
    expect(policyOf(sudo)?.rule).toBe('/tools/exec/deny_if/0');
    const qos = await run(context({ tool: 'publish', target, args: { qos: 2 } }, T0));
    expect(qos.content).toEqual([{ type: 'text', text: '[POLICY DENIED] QoS 2 is not allowed' }]);
    expect(
      (await run(context({ tool: 'exec', target, args: { command: 'ls', reason: 'x' } }, T0))).isError,
    ).toBeUndefined();
    expect(target.calls).toBe(1);
  });

  it('denies hidden tools as (hidden), action deny with its reason, and unknown tools under default allow', async () => {
    const p = policy({
      version: '1',
      default: 'allow',
      hide: ['secret'],
      tools: { rm: { action: 'deny', reason: 'deleting is not allowed' } },
    });
    const { run } = pipelineFor(p);
    const target = fakeTarget(['secret', 'rm', 'ls']);
    expect(policyOf(await run(context({ tool: 'secret', target }, T0)))?.rule).toBe('(hidden)');
    expect(policyOf(await run(context({ tool: 'rm', target }, T0)))).toMatchObject({
      rule: '/tools/rm/action',
      reason: 'deleting is not allowed',
    });
    expect(policyOf(await run(context({ tool: 'LS', target }, T0)))?.rule).toBe('(unknown tool)');
    expect((await run(context({ tool: 'ls', target }, T0))).isError).toBeUndefined();
    expect(target.calls).toBe(1);
  });

  it('takes a unit from every counter that applies and gives them all back when one is full', async () => {
    const p = policy({
      version: '1',
      default: 'allow',
      all_tools: { limits: [{ counter: 'all', window: 'minute', max: 10 }] },
      tools: { t: { limits: [{ counter: 'one', window: 'minute', max: 1, scope: 'global' }] } },
    });
    const { run, store } = pipelineFor(p);
    const target = fakeTarget(['t']);
    await run(context({ tool: 't', target }, T0));
    const denied = await run(context({ tool: 't', target }, T0, { id: 'bob', kind: 'grant' }));
    expect(policyOf(denied)?.rule).toBe('/tools/t/limits/0');
    expect(store.count(JSON.stringify(['mqtt', 'all', 'grant:bob']), T0)).toBe(0);
  });

  it('counts each agent session apart under scope "session"', async () => {
    const p = policy({
      version: '1',
      default: 'deny',
      tools: { t: { limits: [{ counter: 'c', window: 'hour', max: 1, scope: 'session' }] } },
    });
    const { run } = pipelineFor(p);
    const target = fakeTarget(['t']);
    expect((await run(context({ tool: 't', target, sessionId: 'one' }, T0))).isError).toBeUndefined();
    expect(policyOf(await run(context({ tool: 't', target, sessionId: 'one' }, T0)))).toMatchObject({
      rule: '/tools/t/limits/0',
      retryAfterMs: 3_600_000,
    });
    expect((await run(context({ tool: 't', target, sessionId: 'two' }, T0))).isError).toBeUndefined();
  });

  it('records one context per call with the decision and upstream outcome', async () => {
    const { run, recorded } = pipelineFor(MQTT);
    const target = fakeTarget(['mqttDisconnect']);
    await run(context({ tool: 'mqttDisconnect', target }, T0));
    expect(recorded[0]?.decision).toEqual({
      decision: 'allow',
      rule: '/tools/mqttDisconnect',
      reason: 'allowed by rule',
    });
    expect(recorded[0]?.upstream?.outcome).toBe('ok');
  });
});
