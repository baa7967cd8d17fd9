/**
 * `bastion test` as a user runs it: the bin in a child process, pointed at a server or a gateway,
 * with its exit status, console summary, JUnit XML and JSON report.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HARNESS_BIN } from '../src/bench/processes.js';
import { CONTRACT_MQTT_POLICY } from '../src/suites/gateway/policies.js';
import { BINS, type RunningService, startOwnGateway, startOwnMqttServer } from '../src/suites/own-targets.js';
import { HARNESS_ROOT } from '../src/suites/paths.js';
import type { RunReport } from '../src/suites/report.js';
import { waitFor } from '../src/suites/wait.js';
import { freePort } from '../src/targets/process.js';
import { isAlive } from './bench-fixtures.js';
import { type MutantProxy, startMutantProxy } from './contract-fixtures/mutant-proxy.js';
import { commandOf, descendantsOf, runHarnessBin } from './sandbox-support.js';

/** The child's environment: ours without vitest's own variables or a target left in the environment. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('VITEST') || key === 'TEST' || key === 'NODE_ENV') continue;
    if (/^BASTION_(MQTT_SERVER|MQTT_BROKER|GATEWAY|CONFORMANCE)_/.test(key)) continue;
    env[key] = value;
  }
  return env;
}

const bastion = (args: string[]) => runHarnessBin(args, { env: childEnv(), cwd: HARNESS_ROOT });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bastion-cli-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const readReport = async (reportDir: string) =>
  JSON.parse(await readFile(join(reportDir, 'report.json'), 'utf8')) as RunReport;
const outcomeOf = (report: RunReport, id: string) => report.requirements.find((r) => r.id === id)?.outcome;

describe('bastion test', () => {
  const started: Array<{ stop(): Promise<void> } | MutantProxy> = [];
  afterEach(async () => {
    for (const s of started.splice(0).reverse()) await ('close' in s ? s.close() : s.stop());
  });

  it('refuses flags that do not go together, before running anything', async () => {
    const noPolicy = await bastion(['test', '--suite', 'gateway', '--gateway-url', 'http://127.0.0.1:1/mcp']);
    expect(noPolicy.code).toBe(2);
    expect(noPolicy.stderr).toContain('--gateway-url needs --policy FILE');
    const wrongSuite = await bastion(['test', '--suite', 'ssh', '--server-url', 'http://127.0.0.1:1/mcp']);
    expect(wrongSuite.code).toBe(2);
    expect(wrongSuite.stderr).toContain('--server-url goes with --suite mqtt or --suite conformance');
    const noSet = await bastion([
      'test',
      '--suite',
      'conformance',
      '--server-url',
      'http://127.0.0.1:1/mcp',
      '--baseline',
      'b.yml',
    ]);
    expect(noSet.code).toBe(2);
    expect(noSet.stderr).toContain('--baseline belongs to one requirement set');
    const unknown = await bastion(['test', '--suite', 'nonsense']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown suite 'nonsense'");
  }, 60_000);

  it('passes the MQTT contract against our own server given by URL, with reports', async () => {
    const server: RunningService = await startOwnMqttServer();
    started.push(server);
    const reportDir = join(dir, 'mqtt');
    const run = await bastion([
      'test',
      '--suite',
      'mqtt',
      '--server-url',
      `${server.baseUrl}/mcp`,
      '--tiers',
      'embedded',
      '--report',
      reportDir,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\[1\/1\] ✓ test\/contract-mqtt\.test\.ts {2}\d+ passed, 0 failed/);
    expect(run.stdout).toContain('Result: PASS');
    const report = await readReport(reportDir);
    expect(report.target).toEqual({ serverUrl: `${server.baseUrl}/mcp` });
    expect(report.exitCode).toBe(0);
    for (const id of ['mqtt.compat.tool-schema', 'mqtt.compat.connect-text', 'mqtt.compat.connect-failure']) {
      expect(report.requirements.find((r) => r.id === id)?.tiers, id).toMatchObject({ embedded: 'pass' });
    }
    const junit = await readFile(join(reportDir, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testsuites name="bastion test" tests="\d+" failures="0"/);
  }, 120_000);

  it('runs the official conformance suite against a server given by URL, judged by its baseline', async () => {
    const server: RunningService = await startOwnMqttServer();
    started.push(server);
    const reportDir = join(dir, 'conformance');
    const run = await bastion([
      'test',
      '--suite',
      'conformance',
      '--server-url',
      `${server.baseUrl}/mcp`,
      '--set',
      '2025-11-25',
      '--baseline',
      join(HARNESS_ROOT, 'conformance', 'bastion-mqtt.2025-11-25.yml'),
      '--report',
      reportDir,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const report = await readReport(reportDir);
    const names = report.tests.map((t) => t.name);
    expect(names).toContainEqual(expect.stringMatching(/> ping passes$/));
    expect(names).toContainEqual(
      expect.stringMatching(/> tools-call-image fails as expected: no fixture tool/),
    );
    expect(report.tests.every((t) => t.file === 'test/conformance-external.test.ts')).toBe(true);
  }, 120_000);

  it('stops what the tests started and exits 130 when interrupted', async () => {
    const child = spawn(process.execPath, [HARNESS_BIN, 'test', '--suite', 'conformance'], {
      env: childEnv(),
      cwd: HARNESS_ROOT,
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const pid = child.pid ?? 0;
    // Interrupt once the servers are up.
    const started = await waitFor(
      () => {
        const all = descendantsOf(pid);
        const up = (bin: string) => all.some((p) => commandOf(p.pid).includes(bin));
        return up('bastion-mqtt.js') || up('bastion-ssh.js') ? all : undefined;
      },
      'the conformance environment to start',
      60_000,
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    await waitFor(
      () => (started.every((p) => !isAlive(p.pid)) ? true : undefined),
      'every child to be gone',
      10_000,
    );
  }, 120_000);

  describe('--suite gateway against a gateway given by URL', () => {
    async function setUp() {
      const policyPath = join(dir, 'policy.json');
      await writeFile(policyPath, JSON.stringify(CONTRACT_MQTT_POLICY));
      const upstreamPort = await freePort();
      const upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;
      const upstreamCommand = `${process.execPath} ${BINS.mqtt} --transport http --port ${upstreamPort} --log-level warn`;
      return { policyPath, upstreamUrl, upstreamCommand };
    }
    const args = (
      gatewayUrl: string,
      token: string,
      s: Awaited<ReturnType<typeof setUp>>,
      reportDir: string,
    ) => [
      'test',
      '--suite',
      'gateway',
      '--gateway-url',
      gatewayUrl,
      '--token',
      token,
      '--policy',
      s.policyPath,
      '--upstream',
      s.upstreamUrl,
      '--upstream-command',
      s.upstreamCommand,
      '--report',
      reportDir,
    ];

    it('fails, naming the limit, on a gateway that admits one call too many', async () => {
      const s = await setUp();
      // The real gateway behind a proxy that lets one call over the limit through early in a window.
      const gateway = await startOwnGateway({ mqtt: { url: s.upstreamUrl, policy: CONTRACT_MQTT_POLICY } });
      started.push(gateway);
      const proxy = await startMutantProxy({
        gatewayUrl: gateway.endpoint('mqtt'),
        upstreamUrl: s.upstreamUrl,
        mutant: 'over-admit-early',
        windowMs: 1_000,
      });
      started.push(proxy);
      const reportDir = join(dir, 'over-admit');
      const run = await bastion(args(proxy.url, gateway.token, s, reportDir));
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stdout).toContain('Result: FAIL');
      expect(run.stdout).toMatch(/admitted (\d+)\/\d+ (of \d+ concurrent )?calls to '\w+'/);
      const report = await readReport(reportDir);
      expect(outcomeOf(report, 'gateway.limit.whole-window')).toBe('fail');
      for (const id of [
        'gateway.hide.list',
        'gateway.deny.default',
        'gateway.bypass.names',
        'gateway.reconnect.http-restart',
      ]) {
        expect(outcomeOf(report, id), id).toBe('pass');
      }
      // The token is in no report.
      expect(JSON.stringify(report)).not.toContain(gateway.token);
      expect(await readFile(join(reportDir, 'junit.xml'), 'utf8')).not.toContain(gateway.token);
    }, 180_000);

    it('passes the real bastion-gateway', async () => {
      const s = await setUp();
      const gateway = await startOwnGateway({ mqtt: { url: s.upstreamUrl, policy: CONTRACT_MQTT_POLICY } });
      started.push(gateway);
      const reportDir = join(dir, 'bastion-gateway');
      const run = await bastion(args(gateway.endpoint('mqtt'), gateway.token, s, reportDir));
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const report = await readReport(reportDir);
      expect(report.totals.failed).toBe(0);
      expect(report.totals.passed).toBeGreaterThanOrEqual(12);
    }, 180_000);
  });
});
