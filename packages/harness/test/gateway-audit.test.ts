/**
 * The audit log through the running gateway: one row per decision with its facts, secret values kept
 * out, a hash chain that `bastion-gateway audit verify` checks, and nothing lost on a clean shutdown.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditKeyFile, createGateway, resolveConfig, rowHash } from '@bastion/gateway';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { AGENT_KINDS, type AgentKind } from './gateway-fixtures/agents.js';
import {
  call,
  FakeClock,
  type FixtureHttp,
  type GatewayHarness,
  silent,
  startFixtureHttp,
  startGateway,
} from './gateway-fixtures/harness.js';
import { verifyAudit } from './gateway-fixtures/processes.js';

let upstream: FixtureHttp;
let harness: GatewayHarness | undefined;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

beforeAll(async () => {
  upstream = await startFixtureHttp();
});
afterAll(async () => {
  await upstream.stop();
});
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    sessionInfo: {},
    login: {},
    slow: {},
    mqttDisconnect: { limits: [{ counter: 'd', window: 'minute', max: 1 }] },
  },
};

async function audited(agentKind: AgentKind = 'v1') {
  harness = await startGateway(
    {
      servers: { fx: { transport: 'http', url: `${upstream.url}/mcp`, policy: POLICY } },
      grants: { alice: { servers: ['fx'] } },
      audit: true,
    },
    { clock: new FakeClock(T0), agentKind },
  );
  return harness;
}

async function rows(h: GatewayHarness): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(h.dir, 'audit.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.each(AGENT_KINDS)('gateway audit rows (%s client)', (kind) => {
  it(verifies('gateway.audit.rows', 'gateway.audit.secrets'), async () => {
    const h = await audited(kind);
    const agent = await h.connect('fx', 'alice');
    await call(agent, 'sessionInfo');
    await call(agent, 'mqttConnect', {
      host: 'broker',
      port: 1883,
      clientId: 'c',
      username: 'u',
      password: 'hunter2',
    });
    await call(agent, 'login', { user: 'ada', pin: '4321' });
    await call(agent, 'mqttDisconnect');
    await call(agent, 'mqttDisconnect');
    await h.gateway.close();
    const text = await readFile(join(h.dir, 'audit.jsonl'), 'utf8');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('4321');
    expect(text).not.toContain(h.tokens.alice);
    const all = await rows(h);
    expect(all.map((r) => [r.tool, r.decision, r.rule])).toEqual([
      ['sessionInfo', 'allow', '/tools/sessionInfo'],
      ['mqttConnect', 'deny', '(default deny)'],
      ['login', 'allow', '/tools/login'],
      ['mqttDisconnect', 'allow', '/tools/mqttDisconnect'],
      ['mqttDisconnect', 'deny', '/tools/mqttDisconnect/limits/0'],
    ]);
    expect(all[0]).toMatchObject({
      seq: 1,
      time: new Date(T0).toISOString(),
      grant: 'alice',
      server: 'fx',
      method: 'tools/call',
      argKeys: [],
      upstream: { outcome: 'ok', latencyMs: expect.any(Number) },
      prev: '0'.repeat(64),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(typeof all[0]?.requestId).toBe('number');
    expect(typeof all[0]?.session).toBe('string');
    expect(all[1]).toMatchObject({
      argKeys: ['host', 'port', 'clientId', 'username', 'password'],
      args: { host: 'broker', port: 1883, clientId: 'c', username: 'u', password: '[REDACTED]' },
      reason: "tool 'mqttConnect' is not allowed by the policy (default deny)",
      upstream: null,
    });
    // `pin` is not a secret-looking name: the upstream's inputSchema marks it writeOnly.
    expect(all[2]).toMatchObject({ args: { user: 'ada', pin: '[REDACTED]' } });
    expect(all[4]).toMatchObject({ retryAfterMs: 60_000 });
  });
});

describe('gateway audit log', () => {
  it(verifies('gateway.audit.chain'), async () => {
    // A keyed chain, its key outside the log's directory, as the README sets it up.
    const keys = await mkdtemp(join(tmpdir(), 'gw-audit-key-'));
    try {
      const keyFile = join(keys, 'audit.key');
      const key = await createAuditKeyFile(keyFile);
      harness = await startGateway(
        {
          servers: { fx: { transport: 'http', url: `${upstream.url}/mcp`, policy: POLICY } },
          grants: { alice: { servers: ['fx'] } },
          audit: { path: 'audit.jsonl', keyFile },
        },
        { clock: new FakeClock(T0) },
      );
      const h = harness;
      const agent = await h.connect('fx', 'alice');
      for (let i = 0; i < 4; i++) await call(agent, 'sessionInfo');
      await h.gateway.close();
      const file = join(h.dir, 'audit.jsonl');
      const intact = await verifyAudit(file, ['--key', keyFile]);
      expect(intact).toEqual({
        code: 0,
        out: `${file}: ok: 4 rows, chain intact, keyed (key id ${key.id}), reaches its head checkpoint (seq 4)\n`,
      });
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      lines[2] = (lines[2] ?? '').replace('"decision":"allow"', '"decision":"deny"');
      await writeFile(file, `${lines.join('\n')}\n`);
      const tampered = await verifyAudit(file, ['--key', keyFile]);
      expect(tampered.code).toBe(1);
      expect(tampered.out).toMatch(/: broken at line 3: hash does not match the row content under the key/);
    } finally {
      await rm(keys, { recursive: true, force: true });
    }
  });

  /** A gateway with a keyed log, four rows written and the gateway closed; the key lives elsewhere. */
  async function keyedLog(keys: string) {
    const keyFile = join(keys, 'audit.key');
    await createAuditKeyFile(keyFile);
    const audit = { path: 'audit.jsonl', keyFile };
    harness = await startGateway(
      {
        servers: { fx: { transport: 'http', url: `${upstream.url}/mcp`, policy: POLICY } },
        grants: { alice: { servers: ['fx'] } },
        audit,
      },
      { clock: new FakeClock(T0) },
    );
    const h = harness;
    const agent = await h.connect('fx', 'alice');
    for (let i = 0; i < 4; i++) await call(agent, 'sessionInfo');
    await h.gateway.close();
    return { h, keyFile, audit, file: join(h.dir, 'audit.jsonl') };
  }

  it(verifies('gateway.audit.keyed'), async () => {
    const keys = await mkdtemp(join(tmpdir(), 'gw-audit-key-'));
    try {
      const { keyFile, file } = await keyedLog(keys);
      const text = await readFile(file, 'utf8');
      const lines = text.trim().split('\n');
      // The last row cut: what is left still chains, but no longer reaches the head.
      await writeFile(file, `${lines.slice(0, 3).join('\n')}\n`);
      const cut = await verifyAudit(file, ['--key', keyFile]);
      expect(cut.code).toBe(1);
      expect(cut.out).toContain(
        'broken at line 4: the log ends at seq 3 but its head checkpoint is at seq 4',
      );
      // A row edited and every hash after it recomputed, as someone without the key can.
      const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      (rows[1] as Record<string, unknown>).decision = 'deny';
      for (let i = 1; i < rows.length; i++) {
        const row = rows[i] as Record<string, unknown>;
        row.prev = (rows[i - 1] as Record<string, unknown>).hash;
        const { hash: _old, ...rest } = row;
        row.hash = rowHash(rest);
      }
      await writeFile(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
      const rewritten = await verifyAudit(file, ['--key', keyFile]);
      expect(rewritten.code).toBe(1);
      expect(rewritten.out).toContain('broken at line 2: hash is a plain SHA-256, not the keyed hash');
    } finally {
      await rm(keys, { recursive: true, force: true });
    }
  });

  it(verifies('gateway.audit.restart-check'), async () => {
    const keys = await mkdtemp(join(tmpdir(), 'gw-audit-key-'));
    try {
      const { h, audit, file } = await keyedLog(keys);
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      await writeFile(file, `${lines.slice(0, 2).join('\n')}\n`);
      const config = resolveConfig(
        { servers: { fx: { transport: 'http', url: `${upstream.url}/mcp`, policy: POLICY } }, audit },
        { baseDir: h.dir },
      );
      await expect(createGateway({ config, logger: silent, watchPolicies: false })).rejects.toThrow(
        /the log ends at seq 2 but its head checkpoint is at seq 4/,
      );
      // It wrote nothing after the cut: seq 3 is not reused.
      expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(2);
    } finally {
      await rm(keys, { recursive: true, force: true });
    }
  });

  it(verifies('gateway.audit.shutdown'), async () => {
    const h = await audited();
    const agents = await Promise.all([h.connect('fx', 'alice'), h.connect('fx', 'alice')]);
    // Fifty calls answered, then five still running when the gateway shuts down.
    await Promise.all(Array.from({ length: 50 }, (_, i) => call(agents[i % 2] ?? agents[0]!, 'sessionInfo')));
    let started = 0;
    agents[0]?.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      if (n.params.data === 'slow started') started++;
    });
    const running = Array.from({ length: 5 }, () =>
      call(agents[0]!, 'slow', { ms: 60_000, steps: 1 }).catch(() => undefined),
    );
    await vi.waitFor(() => expect(started).toBe(5));
    await h.gateway.close();
    await Promise.all(running);
    const all = await rows(h);
    expect(all).toHaveLength(55);
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 55 }, (_, i) => i + 1));
    expect(
      all.filter((r) => r.tool === 'slow').map((r) => (r.upstream as { outcome: string }).outcome),
    ).toEqual(Array(5).fill('closed'));
    expect((await verifyAudit(join(h.dir, 'audit.jsonl'))).code).toBe(0);
  });
});
