/**
 * The sandbox as a new user starts it shows the approval loop: the console's URL and admin token
 * are printed, uploadFile needs approval, and an approval in the console lets the retried call
 * through to the SSH server.
 */
import { afterEach, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { banner } from '../src/sandbox/print.js';
import {
  connectOversightAgent,
  consoleApi,
  errorCode,
  pendingApproval,
  textOf,
} from './oversight-fixtures.js';
import { type SandboxChild, startSandboxChild } from './sandbox-support.js';

let sandbox: SandboxChild | undefined;
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

it(verifies('sandbox.console'), async () => {
  sandbox = await startSandboxChild(['--port', '0', '--tier', 'embedded']);
  const { info } = sandbox;
  expect(info.console.url).toBe(`${info.gateway.url}/console`);
  expect(info.console.token).toMatch(/^bga_/);
  const printed = banner(info);
  expect(printed).toContain(info.console.url);
  expect(printed).toContain(info.console.token);

  const agent = await connectOversightAgent(info.gateway.servers.ssh.mcp, info.token, 'v1');
  try {
    const args = { connectionId: 'not-connected', path: 'notes.txt', content: 'hello' };
    const asked = await agent.callTool('uploadFile', args);
    expect(errorCode(asked)).toBe('APPROVAL_REQUIRED');
    expect(textOf(asked)).toContain(`${info.console.url}/approvals/`);
    const api = consoleApi(info.gateway.url, info.console.token);
    const pending = await pendingApproval(api, 'uploadFile');
    expect((await api.decide(String(pending.id), 'approve', 'trying the sandbox')).status).toBe(200);
    // Approved: the call reaches the SSH server, which answers for itself (no such connection here).
    const done = await agent.callTool('uploadFile', args);
    expect(errorCode(done)).not.toBe('APPROVAL_REQUIRED');
    expect(textOf(done)).not.toContain('[APPROVAL REQUIRED]');
    expect(textOf(done)).not.toContain('[POLICY DENIED]');
  } finally {
    await agent.close();
  }
});
