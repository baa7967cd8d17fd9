/**
 * `bastion sandbox` end to end, as a user runs it, once per tier: started as a child process, an SDK
 * client through its gateway reads the simulated devices' telemetry, runs commands on the SSH host,
 * runs into the policy's rate limit, sees the edited policy reloaded; then SIGINT stops everything.
 * The policy is the default one with the exec limit lowered, so the limit is reached in a few calls.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { DEFAULT_POLICY } from '../src/cli/sandbox.js';
import { verifies } from '../src/requirements/index.js';
import { type SandboxTier, tierAvailability } from '../src/sandbox/targets.js';
import { canConnect } from '../src/targets/process.js';
import { describeEachTier, type TargetProvider } from '../src/testing/tiers.js';
import {
  call,
  commandOf,
  descendantsOf,
  gatewayClient,
  type SandboxChild,
  startSandboxChild,
  stillRunning,
} from './sandbox-support.js';

// Each test starts `bastion sandbox` as a user would (node, tsx, every server): slow on a loaded machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

const EXEC_LIMIT = 3;

const dir = mkdtempSync(join(tmpdir(), 'bastion-sandbox-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function policyWithExecLimit(max: number): string {
  const policy = JSON.parse(readFileSync(DEFAULT_POLICY, 'utf8')) as {
    tools: Record<string, { limits?: Array<{ max: number }> }>;
  };
  const limit = policy.tools.exec?.limits?.[0];
  if (limit === undefined) throw new Error('the default policy has no exec limit');
  limit.max = max;
  return `${JSON.stringify(policy, null, 2)}\n`;
}

const providers: TargetProvider<SandboxChild>[] = (['embedded', 'process', 'container'] as SandboxTier[]).map(
  (tier) => ({
    kind: 'sandbox',
    tier,
    availability: () => tierAvailability(tier),
    start: () => {
      const policy = join(dir, `policy-${tier}.json`);
      writeFileSync(policy, policyWithExecLimit(EXEC_LIMIT));
      return startSandboxChild(['--port', '0', '--tier', tier, '--policy', policy]);
    },
  }),
);

interface Message {
  topic: string;
  payload: string;
  retain: boolean;
}

describeEachTier('bastion sandbox end to end', providers, (ctx) => {
  let mqtt: Client;
  let ssh: Client;
  let connectionId: string;
  const sandbox = () => ctx.target();
  const exec = (command: string) =>
    call<{ stdout: string; exitCode: number | null; policy?: { rule: string; retryAfterMs: number } }>(
      ssh,
      'exec',
      { connectionId, command, cwd: sandbox().info.ssh.filesDir },
    );

  beforeAll(async () => {
    const { info } = sandbox();
    mqtt = await gatewayClient(info.gateway.servers.mqtt.mcp, info.token);
    ssh = await gatewayClient(info.gateway.servers.ssh.mcp, info.token);
  });
  afterAll(async () => {
    await mqtt?.close();
    await ssh?.close();
  });

  it(verifies('sandbox.start.ready', 'sandbox.tier.real'), async () => {
    const { info } = sandbox();
    expect(info.tier).toBe(ctx.tier);
    const shells: Record<string, string> = { embedded: 'simulated', process: 'sshd', container: 'container' };
    expect(info.shell).toBe(shells[ctx.tier]);
    expect(info.token).toMatch(/^bgw_/);
    expect(info.gateway.servers.mqtt.mcp).toBe(`http://127.0.0.1:${info.gateway.port}/servers/mqtt/mcp`);
    expect(info.gateway.servers.ssh.sse).toBe(`http://127.0.0.1:${info.gateway.port}/servers/ssh/sse`);
    expect(await canConnect(info.broker.port, info.broker.host)).toBe(true);
    expect(await canConnect(info.ssh.port, info.ssh.host)).toBe(true);
    expect(info.ssh.password ?? info.ssh.privateKeyFile).toBeDefined();
    const tools = await mqtt.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['mqttConnect', 'mqttReadMessages']),
    );
  });

  it(verifies('sandbox.auth.token'), async () => {
    const { info } = sandbox();
    await expect(gatewayClient(info.gateway.servers.mqtt.mcp, undefined)).rejects.toThrow(/Unauthorized/);
    await expect(gatewayClient(info.gateway.servers.ssh.mcp, 'bgw_not-the-token')).rejects.toThrow(
      /Unauthorized/,
    );
    // The MCP servers behind the gateway do not take the agent's calls directly either.
    await expect(gatewayClient(`${info.upstreams.mqtt}/mcp`, info.token)).rejects.toThrow(/Unauthorized/);
  });

  it(verifies('sandbox.telemetry'), async () => {
    const { info } = sandbox();
    const connected = await call(mqtt, 'mqttConnect', {
      host: info.broker.host,
      port: info.broker.port,
      clientId: `sandbox-e2e-${ctx.tier}`,
    });
    expect(connected.isError, connected.text).toBe(false);
    const subscribed = await call(mqtt, 'mqttSubscribe', { topic: `${info.telemetry.prefix}/#` });
    expect(subscribed.isError, subscribed.text).toBe(false);
    const status = await call<{ messages: Message[] }>(mqtt, 'mqttReadMessages', {
      topic: `${info.telemetry.prefix}/device-1/status`,
      waitMs: 10_000,
    });
    expect(status.structured.messages[0]).toMatchObject({ payload: 'online', retain: true });
    // Live readings: two in a row, each a JSON reading.
    for (let i = 0; i < 2; i++) {
      const read = await call<{ messages: Message[] }>(mqtt, 'mqttReadMessages', {
        topic: `${info.telemetry.prefix}/device-1/temperature`,
        waitMs: 10_000,
        limit: 1,
      });
      const message = read.structured.messages[0];
      expect(message?.retain).toBe(false);
      const reading = JSON.parse(message?.payload ?? '{}') as { value: number; unit: string };
      expect(reading.unit).toBe('C');
      expect(typeof reading.value).toBe('number');
    }
    // A command, and the device's answer.
    const published = await call(mqtt, 'mqttPublish', {
      topic: `${info.telemetry.prefix}/device-1/command`,
      payload: '{"led": "on"}',
      qos: 1,
    });
    expect(published.isError, published.text).toBe(false);
    const reply = await call<{ messages: Message[] }>(mqtt, 'mqttReadMessages', {
      topic: `${info.telemetry.prefix}/device-1/command/reply`,
      waitMs: 10_000,
      limit: 1,
    });
    expect(JSON.parse(reply.structured.messages[0]?.payload ?? '{}')).toMatchObject({ ok: true, led: 'on' });
  });

  it(verifies('sandbox.ssh.seeded'), async () => {
    const { info } = sandbox();
    const connected = await call<{ connectionId: string }>(ssh, 'connect', {
      host: info.ssh.host,
      port: info.ssh.port,
      username: info.ssh.username,
      ...(info.ssh.password !== undefined
        ? { password: info.ssh.password }
        : { privateKey: readFileSync(info.ssh.privateKeyFile ?? '', 'utf8') }),
    });
    expect(connected.isError, connected.text).toBe(false);
    connectionId = connected.structured.connectionId;
    const readme = await exec('head -1 README.md; grep -c WARN logs/controller.log');
    expect(readme.isError, readme.text).toBe(false);
    expect(readme.structured.stdout).toBe('# Greenhouse controller (Bastion sandbox)\n1\n');
  });

  it(verifies('sandbox.shell.audit-redacted'), async () => {
    const { info } = sandbox();
    const opened = await call<{ shellId: string }>(ssh, 'openShell', { connectionId });
    expect(opened.isError, opened.text).toBe(false);
    const secret = `typed-secret-${randomBytes(9).toString('base64url')}`;
    const typed = await call(ssh, 'writeShell', {
      shellId: opened.structured.shellId,
      text: secret,
      keys: ['enter'],
    });
    expect(typed.isError, typed.text).toBe(false);
    await sandbox().waitForEvent((e) => e.event === 'decision' && e.tool === 'writeShell');
    const audit = readFileSync(info.auditPath, 'utf8');
    const row = audit.split('\n').find((line) => line.includes('"writeShell"'));
    expect(row).toContain('[REDACTED]');
    expect(audit).not.toContain(secret);
    expect((await call(ssh, 'closeShell', { shellId: opened.structured.shellId })).isError).toBe(false);
  });

  it(verifies('sandbox.policy.limit', 'sandbox.feed'), async () => {
    // Windows are aligned to the clock: a minute may turn between calls, so call until refused.
    let denied: Awaited<ReturnType<typeof exec>> | undefined;
    for (let i = 0; i < 3 * EXEC_LIMIT && denied === undefined; i++) {
      const result = await exec('echo ok');
      if (result.isError) denied = result;
      else expect(result.structured.stdout).toBe('ok\n');
    }
    expect(denied?.text).toMatch(/^\[POLICY DENIED\] rate limit reached: at most 3 call\(s\) per minute/);
    expect(denied?.error).toMatchObject({ code: 'POLICY_DENIED', rule: '/tools/exec/limits/0' });
    // A harmless tool is still allowed.
    expect((await call(mqtt, 'mqttStatus', {})).isError).toBe(false);

    const feed = sandbox();
    const deny = await feed.waitForEvent(
      (e) => e.event === 'decision' && e.tool === 'exec' && e.decision === 'deny',
    );
    expect(deny).toMatchObject({ server: 'ssh', rule: '/tools/exec/limits/0', grant: 'sandbox' });
    const allow = await feed.waitForEvent(
      (e) => e.event === 'decision' && e.tool === 'exec' && e.decision === 'allow',
    );
    expect(allow).toMatchObject({ server: 'ssh', upstream: { outcome: 'ok' } });
    expect(typeof (allow.upstream as { latencyMs: unknown }).latencyMs).toBe('number');
    const status = await feed.waitForEvent((e) => e.event === 'decision' && e.tool === 'mqttStatus');
    expect(status).toMatchObject({ server: 'mqtt', decision: 'allow' });
  });

  it(verifies('sandbox.policy.reload'), async () => {
    const policy = join(dir, `policy-${ctx.tier}.json`);
    const feed = sandbox();
    const seen = feed.events.length;
    writeFileSync(policy, '{ "version": "1", "default": ');
    const rejected = await feed.waitForEvent(
      (e) =>
        feed.events.indexOf(e) >= seen && e.event === 'policy' && e.kind === 'rejected' && e.server === 'ssh',
    );
    expect(rejected.problems).toBeDefined();
    // The previous policy stays in force: the harmless tools still answer.
    expect((await call(mqtt, 'mqttStatus', {})).isError).toBe(false);

    writeFileSync(policy, policyWithExecLimit(1000));
    await feed.waitForEvent(
      (e) =>
        feed.events.indexOf(e) >= seen && e.event === 'policy' && e.kind === 'applied' && e.server === 'ssh',
    );
    const after = await exec('echo allowed again');
    expect(after.isError, after.text).toBe(false);
    expect(after.structured.stdout).toBe('allowed again\n');
  });

  it(verifies('sandbox.stop.clean'), async () => {
    const { info, child } = sandbox();
    await mqtt.close();
    await ssh.close();
    const pid = child.pid ?? 0;
    const started = descendantsOf(pid);
    if (ctx.tier === 'process') {
      // mosquitto and sshd are children of the sandbox.
      expect(started.length).toBeGreaterThanOrEqual(2);
    }
    const ports = [
      info.gateway.port,
      info.broker.port,
      info.ssh.port,
      ...Object.values(info.upstreams).map((u) => Number(new URL(u).port)),
    ];
    const how = await sandbox().interrupt('SIGINT');
    expect(how, sandbox().stderr()).toEqual({ code: 0, signal: null });
    expect(sandbox().events.at(-1)).toEqual({ event: 'stopped' });
    expect(started.filter(stillRunning).map((p) => ({ ...p, cmd: commandOf(p.pid) }))).toEqual([]);
    for (const port of ports) expect(await canConnect(port), `port ${port}`).toBe(false);
    expect(existsSync(info.workDir)).toBe(false);
  });
});
