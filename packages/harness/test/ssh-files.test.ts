/**
 * SFTP upload and download against a real SSH host in every tier, and the confinement of local
 * paths to --files-root.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { sshHostProviders } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import {
  callTool,
  connectArgs,
  connectOrFail,
  LogCapture,
  leakedSecrets,
  resultsSeen,
  type SshServerUnderTest,
  startSshMcpServer,
} from './ssh-support.js';

interface Download {
  bytes: number;
  encoding: 'utf8' | 'base64';
  content: string;
  code?: string;
}

describeEachTier('ssh-server files', sshHostProviders, (ctx) => {
  const logs = new LogCapture();
  let outside: string;
  let root: string;
  let confined: SshServerUnderTest;
  let unconfined: SshServerUnderTest;
  let client: Client;
  let connectionId: string;
  const remote = (name: string) => `${ctx.target().scratchDir}/${name}`;

  beforeAll(async () => {
    outside = mkdtempSync(join(tmpdir(), 'bastion-ssh-files-'));
    root = join(outside, 'root');
    mkdirSync(root);
    writeFileSync(join(outside, 'secret.txt'), 'outside the root');
    confined = await startSshMcpServer({ filesRoot: root }, logs);
    unconfined = await startSshMcpServer({}, logs);
    client = await confined.session();
    connectionId = await connectOrFail(client, connectArgs(ctx.target(), 'key'));
  });
  afterAll(async () => {
    await confined?.close();
    await unconfined?.close();
    if (outside !== undefined) rmSync(outside, { recursive: true, force: true });
  });

  it(verifies('ssh.sftp.round-trip'), async () => {
    const binary = Buffer.concat([Buffer.from([0, 255, 0xc3, 0x28, 10, 13]), randomBytes(200_000)]);
    const up = await callTool(client, 'uploadFile', {
      connectionId,
      remotePath: remote('blob.bin'),
      content: binary.toString('base64'),
      encoding: 'base64',
      mode: '0640',
    });
    expect(up.isError, up.text).toBe(false);
    expect(up.structured).toMatchObject({ bytes: binary.length });
    const down = await callTool<Download>(client, 'downloadFile', {
      connectionId,
      remotePath: remote('blob.bin'),
      maxBytes: 1_000_000,
    });
    expect(down.structured.encoding).toBe('base64');
    expect(Buffer.from(down.structured.content, 'base64').equals(binary)).toBe(true);
    const mode = await callTool(client, 'exec', {
      connectionId,
      command: `stat -c %a '${remote('blob.bin')}'`,
    });
    expect(mode.structured.stdout).toBe('640\n');

    const text = '\ufeffhéllo wörld\n';
    await callTool(client, 'uploadFile', { connectionId, remotePath: remote('t.txt'), content: text });
    const back = await callTool<Download>(client, 'downloadFile', {
      connectionId,
      remotePath: remote('t.txt'),
    });
    expect(back.structured).toMatchObject({ encoding: 'utf8', content: text });

    const tooBig = await callTool<Download>(client, 'downloadFile', {
      connectionId,
      remotePath: remote('blob.bin'),
      maxBytes: 1000,
    });
    expect(tooBig.isError).toBe(true);
    expect(tooBig.structured.code).toBe('FILE_TOO_LARGE');
    const missing = await callTool<Download>(client, 'downloadFile', {
      connectionId,
      remotePath: remote('nope'),
    });
    expect(missing.isError).toBe(true);
    expect(missing.structured.code).toBe('SFTP_FAILED');
  });

  it(verifies('ssh.files-root.confined'), async () => {
    const payload = randomBytes(4096);
    writeFileSync(join(root, 'in.bin'), payload);
    const up = await callTool(client, 'uploadFile', {
      connectionId,
      remotePath: remote('from-local'),
      localPath: 'in.bin',
    });
    expect(up.isError, up.text).toBe(false);
    const down = await callTool(client, 'downloadFile', {
      connectionId,
      remotePath: remote('from-local'),
      localPath: 'out.bin',
    });
    expect(down.isError, down.text).toBe(false);
    expect(readFileSync(join(root, 'out.bin')).equals(payload)).toBe(true);

    symlinkSync(join(outside, 'secret.txt'), join(root, 'link-out'));
    symlinkSync(outside, join(root, 'dir-out'));
    const refusedUploads = {
      dotdot: '../secret.txt',
      nestedDotdot: 'a/../../secret.txt',
      absolute: join(outside, 'secret.txt'),
      symlink: 'link-out',
      symlinkDir: 'dir-out/secret.txt',
    };
    for (const [label, localPath] of Object.entries(refusedUploads)) {
      const result = await callTool(client, 'uploadFile', {
        connectionId,
        remotePath: remote(label),
        localPath,
      });
      expect([label, result.isError, result.structured.code]).toEqual([label, true, 'PATH_OUTSIDE_ROOT']);
      expect(result.text).not.toContain('outside the root.'); // the outside file's content
    }
    for (const [label, localPath] of Object.entries({
      ...refusedUploads,
      absolute: join(outside, 'new.txt'),
    })) {
      const result = await callTool(client, 'downloadFile', {
        connectionId,
        remotePath: remote('from-local'),
        localPath,
      });
      expect([label, result.isError, result.structured.code]).toEqual([label, true, 'PATH_OUTSIDE_ROOT']);
    }
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('outside the root');

    // Without --files-root, no local path is used at all.
    const other = await unconfined.session();
    const id = await connectOrFail(other, connectArgs(ctx.target(), 'key'));
    const off = await callTool(other, 'uploadFile', {
      connectionId: id,
      remotePath: remote('x'),
      localPath: 'in.bin',
    });
    expect(off.structured.code).toBe('LOCAL_FILES_DISABLED');
    const offDown = await callTool(other, 'downloadFile', {
      connectionId: id,
      remotePath: remote('from-local'),
      localPath: 'x',
    });
    expect(offDown.structured.code).toBe('LOCAL_FILES_DISABLED');
  });

  it(verifies('ssh.secrets.never-logged'), () => {
    const target = ctx.target();
    expect(leakedSecrets([logs.text(), target.logs(), ...resultsSeen], target.secrets())).toEqual([]);
  });
});
