/**
 * End to end: agents -> bastion-gateway -> the real bastion-ssh (over stdio, and over HTTP with its own
 * bearer token) -> a real SSH host in each tier, under POLICY.md's SSH policy verbatim. An "operator"
 * grant has a policy of its own that lets it connect and run commands, to show conditions, secrets and
 * the audit log on real calls.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyAuditLog } from '@bastion/gateway';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { BASTION_BINS, type McpServerProcess, startSshServerProcess } from '../src/targets/mcp-process.js';
import { type SshHostTarget, sshHostProviders } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { AGENT_KINDS } from './gateway-fixtures/agents.js';
import {
  call,
  FakeClock,
  type GatewayHarness,
  policyOf,
  reconnects,
  SSH_POLICY_TEXT,
  startGateway,
  textOf,
} from './gateway-fixtures/harness.js';
import { pidsWithEnv } from './gateway-fixtures/processes.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 30);

const OPERATOR_POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    connect: {},
    exec: {
      deny_if: [{ path: 'args.command', op: 'regex', value: '\\b(sudo|rm|shutdown)\\b' }],
      on_deny: 'no privileged or destructive commands',
    },
    disconnect: {},
  },
};

/** Rules on what bastion-ssh's own inputSchema defaults and on paths, decided before anything is forwarded. */
const GUARDED_POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    connect: { deny_if: [{ path: 'args.port', op: 'eq', value: 22 }] },
    downloadFile: { deny_if: [{ path: 'args.remotePath', op: 'glob', value: '/etc/**' }] },
    exec: { require: [{ path: 'args.cwd', op: 'glob', value: '/tmp/**' }] },
  },
};

describeEachTier('gateway in front of bastion-ssh', sshHostProviders, (ctx) => {
  // Every transport of the server, with every official client (v1, and v2 in both eras).
  for (const [kind, agentKind] of (['stdio', 'http'] as const).flatMap((k) =>
    AGENT_KINDS.map((a) => [k, a] as const),
  )) {
    describe(`bastion-ssh over ${kind}, ${agentKind} client`, { timeout: 90_000 }, () => {
      const marker = randomUUID();
      const upstreamToken = randomBytes(16).toString('hex');
      const clock = new FakeClock(T0);
      let server: McpServerProcess | undefined;
      let h: GatewayHarness;
      let host: SshHostTarget;

      beforeAll(async () => {
        host = ctx.target();
        const upstream =
          kind === 'stdio'
            ? {
                transport: 'stdio',
                command: process.execPath,
                args: [BASTION_BINS.ssh, '--transport', 'stdio', '--log-level', 'warn'],
                env: { BASTION_E2E_MARKER: marker },
              }
            : await (async () => {
                server = await startSshServerProcess(['--auth-token', upstreamToken]);
                return {
                  transport: 'http',
                  url: `${server.url}/mcp`,
                  headers: { authorization: `Bearer ${upstreamToken}` },
                };
              })();
        h = await startGateway(
          {
            servers: { ssh: { ...upstream, policy: './ssh-policy.json' } },
            grants: {
              alice: { servers: ['ssh'] },
              bob: { servers: ['ssh'] },
              operator: { servers: ['ssh'], policy: { ssh: OPERATOR_POLICY } },
              guarded: { servers: ['ssh'], policy: { ssh: GUARDED_POLICY } },
            },
            audit: true,
            // POLICY.md's text, byte for byte.
            files: { 'ssh-policy.json': SSH_POLICY_TEXT },
          },
          { clock, agentKind },
        );
        expect(await h.gateway.checkUpstreams()).toEqual([{ server: 'ssh', state: 'ok', problems: [] }]);
      });
      afterAll(async () => {
        await h?.close();
        await server?.stop();
      });
      beforeEach(() => {
        clock.advance(60_000);
      });
      afterEach(async () => {
        await h.closeClients();
      });

      it(verifies('gateway.e2e.ssh', 'gateway.deny.default', 'gateway.hide.list'), async () => {
        const alice = await h.connect('ssh', 'alice');
        expect((await alice.listTools()).tools.map((t) => t.name)).toEqual(['disconnect']);
        const denied = await call(alice, 'connect', { host: host.host, port: host.port, username: 'x' });
        expect(policyOf(denied)).toMatchObject({ decision: 'deny', rule: '(default deny)' });
        expect(policyOf(await call(alice, 'exec', { connectionId: 'c', command: 'id' }))?.rule).toBe(
          '(default deny)',
        );
      });

      it(
        verifies(
          'gateway.e2e.ssh',
          'gateway.limit.fixed-window',
          'gateway.limit.per-grant',
          'gateway.limit.window-reset',
        ),
        async () => {
          const alice = await h.connect('ssh', 'alice');
          const bob = await h.connect('ssh', 'bob');
          // Each call reaches bastion-ssh (which has no such connection) and costs one unit.
          for (let i = 0; i < 30; i++) {
            const r = await call(alice, 'disconnect', { connectionId: `gone-${i}` });
            expect(policyOf(r)).toBeUndefined();
          }
          const over = await call(alice, 'disconnect', { connectionId: 'gone-30' });
          expect(policyOf(over)).toMatchObject({ rule: '/tools/disconnect/limits/0', retryAfterMs: 30_000 });
          expect(policyOf(await call(bob, 'disconnect', { connectionId: 'b' }))).toBeUndefined();
          clock.advance(30_000);
          expect(policyOf(await call(alice, 'disconnect', { connectionId: 'gone-31' }))).toBeUndefined();
        },
      );

      it(verifies('gateway.e2e.ssh', 'gateway.limit.exact-under-concurrency'), async () => {
        const agents = await Promise.all([h.connect('ssh', 'alice'), h.connect('ssh', 'alice')]);
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            call(agents[i % 2] ?? agents[0]!, 'disconnect', { connectionId: `p${i}` }),
          ),
        );
        expect(results.filter((r) => policyOf(r) === undefined)).toHaveLength(30);
        expect(results.filter((r) => policyOf(r)?.rule === '/tools/disconnect/limits/0')).toHaveLength(170);
      });

      it(
        verifies(
          'gateway.e2e.ssh',
          'gateway.conditions.deny-if',
          'gateway.audit.secrets',
          'gateway.audit.chain',
        ),
        async () => {
          const operator = await h.connect('ssh', 'operator');
          const login = host.passwordLogin;
          const secret = login?.password ?? host.keyLogin.privateKey;
          const connected = await call(operator, 'connect', {
            host: host.host,
            port: host.port,
            hostFingerprint: host.hostKey.fingerprint,
            ...(login === undefined
              ? { username: host.keyLogin.username, privateKey: host.keyLogin.privateKey }
              : { username: login.username, password: login.password }),
          });
          expect(connected.isError, textOf(connected)).toBeFalsy();
          const connectionId = (connected.structuredContent as { connectionId: string }).connectionId;
          const echo = await call(operator, 'exec', { connectionId, command: 'echo gateway-e2e' });
          expect((echo.structuredContent as { stdout: string }).stdout).toBe('gateway-e2e\n');
          const sudo = await call(operator, 'exec', { connectionId, command: 'sudo id' });
          expect(textOf(sudo)).toBe('[POLICY DENIED] no privileged or destructive commands');
          expect(policyOf(sudo)?.rule).toBe('/tools/exec/deny_if/0');
          expect((await call(operator, 'disconnect', { connectionId })).isError).toBeFalsy();

          const file = join(h.dir, 'audit.jsonl');
          await vi.waitFor(async () => expect(await readFile(file, 'utf8')).toContain('gateway-e2e'));
          const text = await readFile(file, 'utf8');
          for (const line of secret.split('\n').filter((l) => l.length >= 16))
            expect(text).not.toContain(line);
          expect(text).not.toContain(secret);
          expect(await verifyAuditLog(file)).toMatchObject({ ok: true });
          const lines = text.trim().split('\n');
          const at = lines.findIndex((l) => l.includes('"/tools/exec/deny_if/0"'));
          lines.splice(at, 1);
          const tampered = join(h.dir, 'tampered.jsonl');
          await writeFile(tampered, `${lines.join('\n')}\n`);
          expect(await verifyAuditLog(tampered)).toMatchObject({ ok: false, line: at + 1 });
        },
      );

      it(verifies('gateway.conditions.schema-defaults'), async () => {
        const guarded = await h.connect('ssh', 'guarded');
        // No port: bastion-ssh's inputSchema says `"default": 22`, so that is the port it would dial.
        const noPort = await call(guarded, 'connect', { host: host.host, username: 'nobody' });
        expect(policyOf(noPort)).toMatchObject({
          rule: '/tools/connect/deny_if/0',
          reason: 'denied because args.port eq 22',
        });
        if (host.port !== 22) {
          // With its port given, the call goes through to bastion-ssh (which then refuses the login).
          const withPort = await call(guarded, 'connect', {
            host: host.host,
            port: host.port,
            username: 'nobody',
          });
          expect(policyOf(withPort)).toBeUndefined();
        }
      });

      it(verifies('gateway.conditions.paths'), async () => {
        const guarded = await h.connect('ssh', 'guarded');
        for (const remotePath of [
          '/etc/passwd',
          '/tmp/../etc/passwd',
          '/proc/self/root/etc/passwd',
          '../../etc/passwd',
        ]) {
          const denied = await call(guarded, 'downloadFile', { connectionId: 'c', remotePath });
          expect(policyOf(denied)?.rule, remotePath).toBe('/tools/downloadFile/deny_if/0');
        }
        expect(
          textOf(await call(guarded, 'downloadFile', { connectionId: 'c', remotePath: 'etc/passwd' })),
        ).toMatch(/is relative: the remote resolves it against a directory the gateway does not know/);
        // Outside /etc it reaches bastion-ssh, which has no connection 'c'.
        expect(
          policyOf(await call(guarded, 'downloadFile', { connectionId: 'c', remotePath: '/tmp/x' })),
        ).toBeUndefined();
        for (const cwd of ['tmp', '/tmp/../etc', '/proc/1/root/tmp']) {
          const refused = await call(guarded, 'exec', { connectionId: 'c', command: 'id', cwd });
          expect(policyOf(refused)?.rule, cwd).toBe('/tools/exec/require/0');
        }
        expect(
          policyOf(await call(guarded, 'exec', { connectionId: 'c', command: 'id', cwd: '/tmp/./w' })),
        ).toBeUndefined();
      });

      it(
        verifies('gateway.e2e.ssh', 'gateway.reconnect.http-restart', 'gateway.reconnect.stdio-exit'),
        async () => {
          const alice = await h.connect('ssh', 'alice');
          expect(policyOf(await call(alice, 'disconnect', { connectionId: 'x' }))).toBeUndefined();
          const before = await reconnects(h, 'ssh');
          if (kind === 'http') {
            await server?.kill('SIGKILL');
            await server?.start();
          } else {
            const pids = await pidsWithEnv('BASTION_E2E_MARKER', marker);
            expect(pids.length).toBeGreaterThan(0);
            for (const pid of pids) process.kill(pid, 'SIGKILL');
          }
          // A 2026-era agent in front of a 2026-era HTTP server has no upstream connection to
          // re-establish (each request stands alone): only its next call tells the restart apart.
          if (!(kind === 'http' && agentKind === 'v2-2026'))
            await vi.waitFor(async () => expect(await reconnects(h, 'ssh')).toBeGreaterThan(before), {
              timeout: 20_000,
            });
          const after = await call(alice, 'disconnect', { connectionId: 'y' });
          expect(policyOf(after)).toBeUndefined();
          expect(textOf(after)).not.toMatch(/upstream/);
        },
      );
    });
  }
});
