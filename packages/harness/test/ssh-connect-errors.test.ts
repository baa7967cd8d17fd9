/**
 * Every way connect can fail, seen by the official SDK client after it has listed the tools: it then
 * checks each result's structuredContent against connect's output schema and throws (-32602) on a
 * mismatch, so an error result must carry a shape the schema accepts.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { freePort } from '../src/targets/process.js';
import { sshHostProviders } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import {
  callTool,
  connectArgs,
  LogCapture,
  type SshServerUnderTest,
  startSshMcpServer,
} from './ssh-support.js';

describeEachTier('ssh-server connect errors', sshHostProviders, (ctx) => {
  const logs = new LogCapture();
  const servers: SshServerUnderTest[] = [];

  /** A session whose client has listed the tools, so that it validates every structured result. */
  const session = async (input: Parameters<typeof startSshMcpServer>[0] = {}): Promise<Client> => {
    const server = await startSshMcpServer(input, logs);
    servers.push(server);
    const client = await server.session();
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === 'connect')?.outputSchema).toBeDefined();
    return client;
  };

  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it(verifies('ssh.connect.error-schema'), async () => {
    const target = ctx.target();
    const args = connectArgs(target, 'key');
    const client = await session({ maxConnectionsPerSession: 1 });
    const otherPin = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const codes: Record<string, unknown> = {};
    const attempts: Record<string, Record<string, unknown>> = {
      'no credentials': { ...args, privateKey: undefined },
      'agent without --ssh-agent': { ...args, privateKey: undefined, agent: true },
      'wrong pin': { ...args, hostFingerprint: otherPin },
      'wrong password': { ...args, privateKey: undefined, password: 'not-the-password' },
      'closed port': { ...args, port: await freePort() },
      'wrong pin on a jump host': { ...args, jumpHosts: [{ ...args, hostFingerprint: otherPin }] },
      'malformed pin': { ...args, hostFingerprint: 'MD5:00' },
    };
    for (const [what, attempt] of Object.entries(attempts)) {
      // callTool throws if the result does not match the output schema.
      const result = await callTool(client, 'connect', attempt);
      expect(result.isError, what).toBe(true);
      codes[what] = result.structured.code;
    }
    expect(codes).toEqual({
      'no credentials': 'INVALID_INPUT',
      'agent without --ssh-agent': 'INVALID_INPUT',
      'wrong pin': 'HOST_KEY_REJECTED',
      'wrong password': 'AUTH_FAILED',
      'closed port': 'CONNECT_FAILED',
      'wrong pin on a jump host': 'HOST_KEY_REJECTED',
      // Rejected by the input schema: an error without structuredContent.
      'malformed pin': undefined,
    });

    const ok = await callTool(client, 'connect', args);
    expect(ok.isError, ok.text).toBe(false);
    const overLimit = await callTool(client, 'connect', args);
    expect(overLimit.structured).toMatchObject({ code: 'TOO_MANY_CONNECTIONS', limit: 1 });

    const fenced = await callTool(await session({ allowHosts: 'elsewhere.example:22' }), 'connect', args);
    expect(fenced.structured).toMatchObject({
      code: 'HOST_NOT_ALLOWED',
      host: target.host,
      port: target.port,
    });
  });
});
