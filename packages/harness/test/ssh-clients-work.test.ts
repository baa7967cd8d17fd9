/**
 * bastion-ssh's long-running work through the official clients' own callTool, in both eras: a
 * background job (start, wait for its end, read its output, and the unknown-job error) and a PTY
 * shell (open, type, read up to a marker, close, and the unknown-shell error), with the v1 client
 * and the v2 client in 2025-11-25 and pinned to 2026-07-28, over real HTTP.
 */
import type { McpHttpHost } from '@bastion/mcp-http';
import { errorDataOf } from '@bastion/mcp-http/kit';
import { createSshServerShared, parseConfig, startSshHttpServer } from '@bastion/ssh-server';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { CLIENT_KINDS, connectOfficialClient, type OfficialClient } from '../src/suites/official-clients.js';
import { sshHostProvidersWith } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { connectArgs } from './ssh-support.js';

const TOKEN = 'harness-ssh-work-token-0123456789';

describeEachTier(
  'bastion-ssh jobs and shells through every official client',
  sshHostProvidersWith('pty'),
  (ctx) => {
    let host: McpHttpHost;
    const open: OfficialClient[] = [];
    beforeAll(async () => {
      const config = parseConfig({ transport: 'http', port: 0, authToken: TOKEN, logLevel: 'silent' });
      host = await startSshHttpServer(config, {
        logger: pino({ level: 'silent' }),
        shared: await createSshServerShared(config),
      });
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
    });
    afterAll(() => host?.close());

    for (const kind of CLIENT_KINDS) {
      describe(kind, () => {
        it(verifies('ssh.clients.work-paths'), async () => {
          const c = await connectOfficialClient(kind, { url: `${host.url}/mcp`, token: TOKEN });
          open.push(c);
          const id = (await c.callTool('connect', connectArgs(ctx.target(), 'key'))).structuredContent
            ?.connectionId as string;

          const started = await c.callTool('startJob', {
            connectionId: id,
            command: 'echo job-out; echo job-err >&2',
          });
          expect(started.isError, JSON.stringify(started)).toBeFalsy();
          const jobId = started.structuredContent?.jobId as string;
          const ended = await c.callTool('jobStatus', { jobId, waitMs: 20_000 });
          expect(ended.structuredContent).toMatchObject({ state: 'finished', exitCode: 0 });
          const output = await c.callTool('readJobOutput', { jobId });
          expect(output.structuredContent).toMatchObject({ stdout: 'job-out\n', stderr: 'job-err\n' });
          expect(errorDataOf(await c.callTool('jobStatus', { jobId: 'nope' }))?.code).toBe('UNKNOWN_JOB');

          const shell = await c.callTool('openShell', { connectionId: id, rows: 24, cols: 80 });
          expect(shell.isError, JSON.stringify(shell)).toBeFalsy();
          const shellId = shell.structuredContent?.shellId as string;
          const typed = await c.callTool('writeShell', {
            shellId,
            text: 'echo shell-$((6*7))',
            keys: ['enter'],
          });
          expect(typed.isError, JSON.stringify(typed)).toBeFalsy();
          const read = await c.callTool('readShell', { shellId, waitMs: 20_000, until: 'shell-42' });
          expect(read.structuredContent?.output).toContain('shell-42');
          expect((await c.callTool('closeShell', { shellId })).isError).toBeFalsy();
          expect(errorDataOf(await c.callTool('readShell', { shellId }))?.code).toBe('UNKNOWN_SHELL');
        });
      });
    }
  },
);
