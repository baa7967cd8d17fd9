/**
 * Every bastion-ssh tool, success and error paths, through the official clients' own callTool: the v1
 * client (2025-11-25) and the v2 client in both eras, over real HTTP, against each tier's SSH host.
 * The error paths are the nine that once reached every official client as a thrown -32602 because
 * their results failed the tools' output schemas.
 */
import { randomBytes } from 'node:crypto';
import type { McpHttpHost } from '@bastion/mcp-http';
import { errorDataOf } from '@bastion/mcp-http/kit';
import { createSshServerShared, parseConfig, startSshHttpServer } from '@bastion/ssh-server';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import {
  CLIENT_KINDS,
  type ClientKind,
  connectOfficialClient,
  type OfficialClient,
  resultText,
} from '../src/suites/official-clients.js';
import { PASSWORD_LOGIN_SKIP, sshHostProviders } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { connectArgs } from './ssh-support.js';

const TOKEN_A = 'harness-ssh-token-a-0123456789';
const TOKEN_B = 'harness-ssh-token-b-0123456789';
const logger = pino({ level: 'silent' });

async function startServer(input: Parameters<typeof parseConfig>[0]): Promise<McpHttpHost> {
  const config = parseConfig({
    transport: 'http',
    port: 0,
    authToken: [TOKEN_A, TOKEN_B],
    logLevel: 'silent',
    ...input,
  });
  return startSshHttpServer(config, { logger, shared: await createSshServerShared(config) });
}

describeEachTier('bastion-ssh through every official client', sshHostProviders, (ctx) => {
  let host: McpHttpHost;
  let fenced: McpHttpHost;
  const open: OfficialClient[] = [];
  beforeAll(async () => {
    host = await startServer({});
    fenced = await startServer({ allowHosts: 'only.example:22' });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
  });
  afterAll(async () => {
    await host?.close();
    await fenced?.close();
  });

  async function client(kind: ClientKind, token = TOKEN_A, server = host) {
    const c = await connectOfficialClient(kind, { url: `${server.url}/mcp`, token });
    open.push(c);
    return c;
  }

  const remote = (name: string) =>
    `${ctx.target().scratchDir}/clients-${name}-${randomBytes(4).toString('hex')}`;

  for (const kind of CLIENT_KINDS) {
    describe(kind, () => {
      it(verifies('ssh.clients.success-paths'), async () => {
        const c = await client(kind);
        const connected = await c.callTool('connect', connectArgs(ctx.target(), 'key'));
        expect(connected.isError, resultText(connected)).toBeFalsy();
        const id = connected.structuredContent?.connectionId as string;
        const run = await c.callTool('exec', { connectionId: id, command: 'echo through-clients' });
        expect(run.structuredContent).toMatchObject({ stdout: 'through-clients\n', exitCode: 0 });
        const listed = await c.callTool('listConnections');
        expect(listed.structuredContent).toMatchObject({
          connections: [{ connectionId: id, state: 'ready' }],
        });
        const path = remote(kind);
        const up = await c.callTool('uploadFile', {
          connectionId: id,
          remotePath: path,
          content: 'hello sftp',
        });
        expect(up.structuredContent).toMatchObject({ bytes: 10 });
        const down = await c.callTool('downloadFile', { connectionId: id, remotePath: path });
        expect(down.structuredContent).toMatchObject({ content: 'hello sftp' });
        expect((await c.callTool('disconnect', { connectionId: id })).structuredContent).toEqual({
          connectionId: id,
          disconnected: true,
        });
      });

      it(verifies('ssh.clients.error-paths'), async (test) => {
        const t = ctx.target();
        const c = await client(kind);
        // A wrong or missing host-key pin: refused, and the text names the key the host offered.
        const { hostFingerprint: _pin, ...unpinned } = connectArgs(t, 'key');
        const missing = await c.callTool('connect', unpinned);
        expect(errorDataOf(missing)?.code).toBe('HOST_KEY_REJECTED');
        expect(resultText(missing)).toContain(t.hostKey.fingerprint);
        const wrong = await c.callTool('connect', {
          ...unpinned,
          hostFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        });
        expect(errorDataOf(wrong)?.code).toBe('HOST_KEY_REJECTED');
        expect(resultText(wrong)).toContain(t.hostKey.fingerprint);
        // A host the server does not allow.
        const fencedClient = await client(kind, TOKEN_A, fenced);
        expect(errorDataOf(await fencedClient.callTool('connect', connectArgs(t, 'key')))?.code).toBe(
          'HOST_NOT_ALLOWED',
        );
        // exec on an unknown connection, then on one that was disconnected; disconnect twice.
        expect(errorDataOf(await c.callTool('exec', { connectionId: 'nope', command: 'true' }))?.code).toBe(
          'UNKNOWN_CONNECTION',
        );
        const id = (await c.callTool('connect', connectArgs(t, 'key'))).structuredContent
          ?.connectionId as string;
        const missingFile = await c.callTool('downloadFile', {
          connectionId: id,
          remotePath: remote('absent'),
        });
        expect(errorDataOf(missingFile)?.code).toBe('SFTP_FAILED');
        const missingDir = await c.callTool('uploadFile', {
          connectionId: id,
          remotePath: `${remote('no-such-dir')}/file.txt`,
          content: 'x',
        });
        expect(errorDataOf(missingDir)?.code).toBe('SFTP_FAILED');
        const failing = await c.callTool('exec', { connectionId: id, command: 'echo out; exit 3' });
        expect(errorDataOf(failing)?.code).toBe('NONZERO_EXIT');
        expect(failing.structuredContent).toMatchObject({ stdout: 'out\n', exitCode: 3 });
        await c.callTool('disconnect', { connectionId: id });
        expect(errorDataOf(await c.callTool('exec', { connectionId: id, command: 'true' }))?.code).toBe(
          'UNKNOWN_CONNECTION',
        );
        expect(errorDataOf(await c.callTool('disconnect', { connectionId: id }))?.code).toBe(
          'UNKNOWN_CONNECTION',
        );
        // A wrong password, where the tier has a password login.
        if (t.passwordLogin === undefined) test.skip(PASSWORD_LOGIN_SKIP);
        const badPassword = await c.callTool('connect', {
          ...connectArgs(t, 'password'),
          password: `wrong-${randomBytes(8).toString('hex')}`,
        });
        expect(errorDataOf(badPassword)?.code).toBe('AUTH_FAILED');
      });
    });
  }

  it(verifies('ssh.eras.identity-isolation'), async () => {
    const a = await client('v2-2026', TOKEN_A);
    const a2 = await client('v2-2026', TOKEN_A);
    const b = await client('v2-2026', TOKEN_B);
    const id = (await a.callTool('connect', connectArgs(ctx.target(), 'key'))).structuredContent
      ?.connectionId as string;
    expect(
      (await a2.callTool('exec', { connectionId: id, command: 'echo same-identity' })).structuredContent,
    ).toMatchObject({ stdout: 'same-identity\n' });
    expect(errorDataOf(await b.callTool('exec', { connectionId: id, command: 'id' }))?.code).toBe(
      'UNKNOWN_CONNECTION',
    );
    expect((await b.callTool('listConnections')).structuredContent).toEqual({ connections: [] });
  });
});
