/**
 * `bastion sandbox` as a person sees it: the banner's client configurations work as printed, the
 * live feed prints a line per call, SIGTERM stops it; anonymous access only when asked for; and
 * start-up problems (a busy port, flags that do not go together) end with a clear message and
 * nothing left running.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it, vi } from 'vitest';
import { HARNESS_BIN } from '../src/bench/processes.js';
import { verifies } from '../src/requirements/index.js';
import {
  call,
  descendantsOf,
  gatewayClient,
  REPO_ROOT,
  runHarnessBin,
  startSandboxChild,
  stillRunning,
} from './sandbox-support.js';

// Each test starts `bastion sandbox` as a user would (node, tsx, every server): slow on a loaded machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

interface HttpServerConfig {
  url: string;
  headers?: Record<string, string>;
}

/** The JSON block printed after the line that starts with `heading`. */
function jsonAfter(text: string, heading: string): { mcpServers: Record<string, HttpServerConfig> } {
  const start = text.indexOf(heading);
  if (start < 0) throw new Error(`no '${heading}' in:\n${text}`);
  const from = text.indexOf('\n{', start) + 1;
  const to = text.indexOf('\n}\n', from) + 2;
  return JSON.parse(text.slice(from, to)) as { mcpServers: Record<string, HttpServerConfig> };
}

describe('bastion sandbox for a person', () => {
  it(verifies('sandbox.print.client-configs'), async () => {
    const child = spawn(process.execPath, [HARNESS_BIN, 'sandbox', '--port', '0'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const waiters = new Set<() => void>();
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      for (const w of waiters) w();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m === null) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} in:\n${out}\n${err}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    try {
      await waitFor(/Live decisions/);
      const token = out.match(/Grant token\s+(bgw_\S+)/)?.[1];
      expect(token).toBeDefined();
      expect(out).toMatch(/SSH host\s+127\.0\.0\.1:\d+\s+user agent, password pw-\S+/);
      expect(out).toMatch(/MQTT broker\s+127\.0\.0\.1:\d+/);

      // The Streamable HTTP clients' block, used as printed.
      const servers = jsonAfter(out, 'Clients that speak Streamable HTTP').mcpServers;
      for (const name of ['bastion-mqtt', 'bastion-ssh']) {
        const config = servers[name];
        expect(config?.headers?.Authorization).toBe(`Bearer ${token}`);
        const client = new Client({ name: 'pasted-config', version: '1.0.0' });
        await client.connect(
          new StreamableHTTPClientTransport(new URL(config?.url ?? ''), {
            requestInit: { headers: config?.headers },
          }),
        );
        expect((await client.listTools()).tools.length).toBeGreaterThan(0);
        await client.close();
      }
      // MQTTX's block: the legacy SSE URL, with the same token.
      const mqttx = jsonAfter(out, 'MQTTX').mcpServers['bastion-mqtt'];
      expect(mqttx?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/servers\/mqtt\/sse$/);
      const sse = new Client({ name: 'mqttx-like', version: '1.0.0' });
      await sse.connect(
        new SSEClientTransport(new URL(mqttx?.url ?? ''), {
          requestInit: { headers: mqttx?.headers },
          eventSourceInit: {
            fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, ...mqttx?.headers } }),
          },
        }),
      );
      const status = await call(sse, 'mqttStatus', {});
      expect(status.isError, status.text).toBe(false);
      await sse.close();
      // The call shows in the live feed as one line.
      await waitFor(/\d\d:\d\d:\d\d {2}mqtt {2}mqttStatus\s+allow\s+\/tools\/mqttStatus\s+\d+\.\d ms/);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('Stopped: every server, target and timer is closed.');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it(verifies('sandbox.auth.token'), async () => {
    const sandbox = await startSandboxChild(['--port', '0', '--anonymous']);
    try {
      expect(sandbox.info.anonymous).toBe(true);
      const anonymous = await gatewayClient(sandbox.info.gateway.servers.mqtt.mcp, undefined);
      expect((await call(anonymous, 'mqttStatus', {})).isError).toBe(false);
      await anonymous.close();
      const decision = await sandbox.waitForEvent((e) => e.event === 'decision' && e.tool === 'mqttStatus');
      expect(decision).toMatchObject({ decision: 'allow', grant: 'anonymous' });
      // The token still works beside it.
      const granted = await gatewayClient(sandbox.info.gateway.servers.ssh.mcp, sandbox.info.token);
      expect((await call(granted, 'listConnections', {})).isError).toBe(false);
      await granted.close();
    } finally {
      await sandbox.stop();
    }
  });

  it('refuses a busy port with a message, after stopping everything it had started', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, [HARNESS_BIN, 'sandbox', '--port', String(port)], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      const pid = child.pid ?? 0;
      const seen = new Map<number, ReturnType<typeof descendantsOf>[number]>();
      // The embedded tier starts no process; anything it would start is watched for while it runs.
      const watch = setInterval(() => {
        for (const p of descendantsOf(pid)) seen.set(p.pid, p);
      }, 20);
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      clearInterval(watch);
      expect(code).toBe(2);
      expect(stderr).toContain(`port ${port} is in use: pass --port with another port (0 picks a free one)`);
      expect([...seen.values()].filter(stillRunning)).toEqual([]);
    } finally {
      busy.close();
    }
  });

  it('refuses a policy that cannot load before starting anything, naming the problem', async () => {
    const result = await runHarnessBin(['sandbox', '--port', '0', '--policy', 'no-such-policy.json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /the policy cannot be used:\n.*no-such-policy\.json: \(document\): cannot read: ENOENT/,
    );
  });

  it('refuses --ssh-shell outside the embedded tier, saying whose shell runs there', async () => {
    const result = await runHarnessBin(['sandbox', '--tier', 'process', '--ssh-shell', 'host']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "--ssh-shell applies to the embedded tier only; in the process tier commands run in the real shell of this machine's sshd logins",
    );
    const bad = await runHarnessBin(['sandbox', '--tier', 'vm']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("argument 'vm' is invalid");
  });
});
