import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalFiles, SshError } from '../src/index.js';

const base = mkdtempSync(join(tmpdir(), 'bastion-files-root-'));
const root = join(base, 'root');
mkdirSync(join(root, 'sub'), { recursive: true });
writeFileSync(join(base, 'outside.txt'), 'outside');
writeFileSync(join(root, 'inside.txt'), 'inside');
symlinkSync(join(base, 'outside.txt'), join(root, 'link-out'));
symlinkSync(base, join(root, 'dir-link-out'));
symlinkSync(join(root, 'inside.txt'), join(root, 'link-in'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return err instanceof SshError ? err.code : String(err);
  }
}

describe('files root', () => {
  it('reads and writes inside the root, relative or absolute', async () => {
    const files = await createLocalFiles(root);
    expect((await files.read('inside.txt', 100)).toString()).toBe('inside');
    expect((await files.read(join(root, 'inside.txt'), 100)).toString()).toBe('inside');
    await files.write('sub/new.txt', Buffer.from('new'));
    expect(readFileSync(join(root, 'sub/new.txt'), 'utf8')).toBe('new');
    await files.write('sub/new.txt', Buffer.from('x'));
    expect(readFileSync(join(root, 'sub/new.txt'), 'utf8')).toBe('x');
  });

  it("refuses '..', absolute paths outside, and symlinks that lead out (or any symlink as the file)", async () => {
    const files = await createLocalFiles(root);
    for (const path of [
      '../outside.txt',
      'sub/../../outside.txt',
      join(base, 'outside.txt'),
      'link-out',
      'dir-link-out/outside.txt',
      'link-in',
      '/etc/passwd',
    ]) {
      expect([path, await codeOf(files.read(path, 100))]).toEqual([path, 'PATH_OUTSIDE_ROOT']);
      expect([path, await codeOf(files.write(path, Buffer.from('pwned')))]).toEqual([
        path,
        'PATH_OUTSIDE_ROOT',
      ]);
      expect([path, await codeOf(files.check(path))]).toEqual([path, 'PATH_OUTSIDE_ROOT']);
    }
    expect(readFileSync(join(base, 'outside.txt'), 'utf8')).toBe('outside');
  });

  it('refuses a file over the limit and a missing directory with clear codes', async () => {
    const files = await createLocalFiles(root);
    expect(await codeOf(files.read('inside.txt', 3))).toBe('TOO_LARGE');
    expect(await codeOf(files.read('missing.txt', 3))).toBe('LOCAL_IO_FAILED');
    expect(await codeOf(files.write('no/such/dir/x', Buffer.from('')))).toBe('LOCAL_IO_FAILED');
    expect(await codeOf(files.read('sub', 100))).toBe('INVALID_INPUT');
  });
});
