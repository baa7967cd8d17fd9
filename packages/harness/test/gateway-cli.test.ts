/** `bastion-gateway` as a user runs it: serve over HTTP and stdio, grant create, schema, refusals. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { BASTION_BINS } from '../src/targets/mcp-process.js';
import { call, MQTT_POLICY_TEXT, policyOf, stdioFixture, textOf } from './gateway-fixtures/harness.js';

const run = promisify(execFile);
let dir: string;
const children: ChildProcess[] = [];
const clients: Client[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-cli-'));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
  await rm(dir, { recursive: true, force: true });
});

async function grantCreate(label: string, ...servers: string[]) {
  const { stdout } = await run(process.execPath, [
    BASTION_BINS.gateway,
    'grant',
    'create',
    label,
    ...servers.flatMap((s) => ['--server', s]),
  ]);
  const token = /^\s+(bgw_\S+)$/m.exec(stdout)?.[1] ?? '';
  const entry = JSON.parse(stdout.slice(stdout.indexOf('{'))) as Record<
    string,
    { tokenSha256: string; servers: string[] }
  >;
  return { stdout, token, entry };
}

async function writeConfig(config: unknown): Promise<string> {
  const path = join(dir, 'gateway.json');
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** Starts the gateway bin and waits for its `listening` log line. */
async function serve(configPath: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BASTION_BINS.gateway, '--config', configPath, '--port', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stderr! });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    if (entry.msg === 'listening' && entry.url) return { child, url: entry.url };
  }
  throw new Error(`gateway exited (${child.exitCode}) before listening`);
}

async function runToExit(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BASTION_BINS.gateway, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

// Each test starts the bin (tsx) once or more: generous headroom for a loaded CI machine.
describe('bastion-gateway command line', { timeout: 90_000 }, () => {
  it(verifies('gateway.cli.grant-create'), async () => {
    const { stdout, token, entry } = await grantCreate('alice', 'mqtt', 'ssh');
    expect(token).toMatch(/^bgw_[A-Za-z0-9_-]{43}$/);
    expect(stdout).toContain('shown once');
    expect(entry).toEqual({
      alice: { tokenSha256: createHash('sha256').update(token).digest('hex'), servers: ['mqtt', 'ssh'] },
    });
    expect((await grantCreate('alice')).token).not.toBe(token);
  });

  it(verifies('gateway.cli.serve'), async () => {
    const { token, entry } = await grantCreate('alice', 'fx');
    await writeFile(join(dir, 'mqtt-policy.json'), MQTT_POLICY_TEXT);
    const config = await writeConfig({
      servers: { fx: stdioFixture({ policy: './mqtt-policy.json' }) },
      grants: entry,
      audit: './audit.jsonl',
    });
    const { child, url } = await serve(config);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const agent = new Client({ name: 'cli-test', version: '1' });
    clients.push(agent);
    await agent.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/servers/fx/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    expect((await agent.listTools()).tools.map((t) => t.name)).toEqual(['mqttDisconnect']);
    expect(policyOf(await call(agent, 'mqttConnect', { host: 'h', port: 1, clientId: 'c' }))?.rule).toBe(
      '(default deny)',
    );
    expect(textOf(await call(agent, 'mqttDisconnect'))).toBe('Successfully disconnected from MQTT broker');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await agent.close();
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    const rows = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n');
    expect(rows).toHaveLength(2);
  });

  it(verifies('gateway.cli.stdio'), async () => {
    const config = await writeConfig({
      servers: {
        fx: stdioFixture({ policy: { version: '1', default: 'deny', tools: { sessionInfo: {} } } }),
      },
    });
    const agent = new Client({ name: 'desktop', version: '1' });
    clients.push(agent);
    await agent.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          BASTION_BINS.gateway,
          '--stdio',
          '--config',
          config,
          '--server',
          'fx',
          '--log-level',
          'silent',
        ],
        stderr: 'ignore',
      }),
    );
    expect(agent.getServerVersion()?.name).toBe('fixture-upstream');
    expect((await agent.listTools()).tools.map((t) => t.name)).toEqual(['sessionInfo']);
    expect((await call(agent, 'sessionInfo')).structuredContent).toMatchObject({ calls: 1 });
    expect(policyOf(await call(agent, 'executeCommand', { connectionId: 'c', command: 'id' }))?.rule).toBe(
      '(default deny)',
    );
  });

  /** A policy file with two problems, and an inline policy with one. */
  async function badPolicies() {
    await writeFile(
      join(dir, 'bad-policy.json'),
      JSON.stringify({
        version: '1',
        default: 'deny',
        tools: { a: { limits: [{ counter: 'c', window: 'week', max: 1 }], denyIf: [] } },
      }),
    );
    return {
      fx: stdioFixture({ policy: './bad-policy.json' }),
      inline: stdioFixture({ policy: { version: '2', default: 'deny' } }),
    };
  }

  it(verifies('gateway.config.validated'), async () => {
    const config = await writeConfig({
      servers: await badPolicies(),
      grants: { alice: { tokenSha256: 'nothex', servers: ['fx'] } },
    });
    const shape = await runToExit(['--config', config]);
    expect(shape.code).toBe(2);
    expect(shape.stderr).toContain('/grants/alice/tokenSha256');
  });

  it(verifies('gateway.policy.problems'), async () => {
    const servers = await badPolicies();
    const config = await writeConfig({ servers });
    const policies = await runToExit(['--config', config]);
    expect(policies.code).toBe(2);
    expect(policies.stderr).toContain('/servers/inline/policy/version');
    await writeConfig({ servers: { fx: servers.fx } });
    const file = await runToExit(['--config', config]);
    expect(file.code).toBe(2);
    // Every problem of the file, each with its pointer.
    expect(file.stderr).toContain('bad-policy.json#/tools/a/limits/0/window');
    expect(file.stderr).toContain('bad-policy.json#/tools/a/denyIf: unknown key');
  });

  it(verifies('gateway.cli.refuse-bad-policy'), async () => {
    const config = await writeConfig({
      servers: {
        fx: stdioFixture({
          policy: {
            version: '1',
            default: 'deny',
            tools: {
              mqttPublish: { deny_if: [{ path: 'args.topik', op: 'glob', value: '$SYS/#', syntax: 'mqtt' }] },
              executeCommand: { require: [{ path: 'args.cwd.base', op: 'exists' }] },
            },
          },
        }),
      },
    });
    const { code, stderr } = await runToExit(['--config', config]);
    expect(code).toBe(2);
    expect(stderr).toContain(
      "/tools/mqttPublish/deny_if/0/path: tool 'mqttPublish' has no argument 'args.topik' in its inputSchema",
    );
    expect(stderr).toContain(
      "/tools/executeCommand/require/0/path: tool 'executeCommand' has no argument 'args.cwd.base'",
    );
  });

  it(verifies('gateway.cli.upstream-cannot-start'), async () => {
    const missing = `bastion-no-such-command-${process.pid}`;
    const config = await writeConfig({
      servers: {
        fx: { transport: 'stdio', command: missing, args: [], policy: { version: '1', default: 'allow' } },
      },
    });
    const saysSo = (stderr: string) =>
      stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; server?: string; command?: string })
        .some((entry) => entry.level >= 50 && entry.server === 'fx' && entry.command === missing);
    // Checking is the default, and --check says it: both refuse to start.
    for (const args of [
      ['--config', config],
      ['--config', config, '--check'],
    ]) {
      const { code, stderr } = await runToExit([...args, '--port', '0']);
      expect(code).toBe(2);
      expect(saysSo(stderr)).toBe(true);
    }
    // Without the check the gateway serves, but the line is there before it listens.
    const child = spawn(
      process.execPath,
      [BASTION_BINS.gateway, '--config', config, '--port', '0', '--no-check'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(child);
    let before = '';
    for await (const line of createInterface({ input: child.stderr! })) {
      if ((JSON.parse(line) as { msg?: string }).msg === 'listening') break;
      before += `${line}\n`;
    }
    expect(saysSo(before)).toBe(true);
  });

  it(verifies('gateway.config.json-schema'), async () => {
    const { stdout } = await run(process.execPath, [BASTION_BINS.gateway, 'schema']);
    const published = await readFile(
      join(BASTION_BINS.gateway, '..', '..', 'gateway-config.schema.json'),
      'utf8',
    );
    expect(JSON.parse(stdout)).toEqual(JSON.parse(published));
    const schema = JSON.parse(published) as {
      properties: Record<string, unknown>;
      $defs: Record<string, unknown>;
    };
    expect(Object.keys(schema.properties)).toEqual([
      '$schema',
      'servers',
      'grants',
      'anonymous',
      'audit',
      'admin',
      'approvals',
      'pins',
      'limits',
      'counters',
      'replicaId',
      'tracing',
    ]);
    expect(Object.keys(schema.$defs)).toContain('GatewayPolicy');
  });
});
