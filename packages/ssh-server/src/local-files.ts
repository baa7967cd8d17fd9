/**
 * Local files for the `localPath` variants of uploadFile/downloadFile. Mcp Ssh read and wrote any
 * local path (`~/.ssh` included); here nothing local is touched unless `--files-root` is set, and
 * then only inside it:
 *  - a `localPath` is relative to the root (an absolute one must lie inside it); any `..` segment
 *    is refused outright;
 *  - the final file is opened with O_NOFOLLOW, and the opened descriptor's real path is checked to
 *    lie inside the root's real path, so a symlink anywhere on the way out of the root is refused.
 */
import { constants } from 'node:fs';
import { type FileHandle, lstat, open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { SshError } from './errors.js';

export interface LocalFiles {
  readonly root: string;
  /** Refuses a path that leads out of the root, before any transfer starts. */
  check(localPath: string): Promise<void>;
  read(localPath: string, maxBytes: number): Promise<Buffer>;
  write(localPath: string, data: Buffer): Promise<void>;
}

function inside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

export async function createLocalFiles(root: string): Promise<LocalFiles> {
  const realRoot = await realpath(root);

  function resolveInside(localPath: string): string {
    if (localPath.includes('\0')) throw new SshError('INVALID_INPUT', 'localPath contains a NUL byte');
    if (localPath.split(/[\\/]/).includes('..')) {
      throw new SshError(
        'PATH_OUTSIDE_ROOT',
        `localPath '${localPath}' contains '..', which is not allowed`,
        {
          localPath,
        },
      );
    }
    const full = resolve(realRoot, localPath);
    if (!inside(realRoot, full)) {
      throw new SshError('PATH_OUTSIDE_ROOT', `localPath '${localPath}' is outside the files root`, {
        localPath,
      });
    }
    return full;
  }

  /** The real path of an open descriptor (Linux /proc), checked against the root. */
  async function checkOpened(handle: FileHandle, localPath: string): Promise<void> {
    let real: string;
    try {
      real = await realpath(`/proc/self/fd/${handle.fd}`);
    } catch {
      return; // No /proc (not Linux): the O_NOFOLLOW open and the parent check below still apply.
    }
    if (!inside(realRoot, real)) {
      throw new SshError('PATH_OUTSIDE_ROOT', `localPath '${localPath}' leads outside the files root`, {
        localPath,
      });
    }
  }

  async function checkParent(full: string, localPath: string): Promise<void> {
    let realParent: string;
    try {
      realParent = await realpath(resolve(full, '..'));
    } catch (err) {
      throw new SshError(
        'LOCAL_IO_FAILED',
        `the directory of '${localPath}' does not exist`,
        { localPath },
        { cause: err },
      );
    }
    if (realParent !== realRoot && !inside(realRoot, realParent)) {
      throw new SshError('PATH_OUTSIDE_ROOT', `localPath '${localPath}' leads outside the files root`, {
        localPath,
      });
    }
  }

  function ioError(err: unknown, what: string, localPath: string): SshError {
    if (err instanceof SshError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') {
      return new SshError(
        'PATH_OUTSIDE_ROOT',
        `localPath '${localPath}' is a symbolic link, which is not followed`,
        {
          localPath,
        },
      );
    }
    return new SshError(
      'LOCAL_IO_FAILED',
      `could not ${what} '${localPath}' (${code ?? 'error'})`,
      { localPath },
      { cause: err },
    );
  }

  return {
    root: realRoot,
    async check(localPath) {
      const full = resolveInside(localPath);
      try {
        await checkParent(full, localPath);
        const stats = await lstat(full).catch(() => undefined);
        if (stats?.isSymbolicLink()) {
          throw new SshError(
            'PATH_OUTSIDE_ROOT',
            `localPath '${localPath}' is a symbolic link, which is not followed`,
            {
              localPath,
            },
          );
        }
      } catch (err) {
        throw ioError(err, 'use', localPath);
      }
    },
    async read(localPath, maxBytes) {
      const full = resolveInside(localPath);
      let handle: FileHandle | undefined;
      try {
        await checkParent(full, localPath);
        handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW);
        await checkOpened(handle, localPath);
        const stats = await handle.stat();
        if (!stats.isFile())
          throw new SshError('INVALID_INPUT', `localPath '${localPath}' is not a regular file`);
        if (stats.size > maxBytes) {
          throw new SshError(
            'TOO_LARGE',
            `local file '${localPath}' has ${stats.size} bytes; the limit is ${maxBytes}`,
            {
              localPath,
              size: stats.size,
              limit: maxBytes,
            },
          );
        }
        return await handle.readFile();
      } catch (err) {
        throw ioError(err, 'read', localPath);
      } finally {
        await handle?.close();
      }
    },
    async write(localPath, data) {
      const full = resolveInside(localPath);
      let handle: FileHandle | undefined;
      try {
        await checkParent(full, localPath);
        handle = await open(full, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
        await checkOpened(handle, localPath);
        const stats = await handle.stat();
        if (!stats.isFile())
          throw new SshError('INVALID_INPUT', `localPath '${localPath}' is not a regular file`);
        // Truncate only once the descriptor is known to be inside the root.
        await handle.truncate(0);
        await handle.write(data, 0, data.length, 0);
      } catch (err) {
        throw ioError(err, 'write', localPath);
      } finally {
        await handle?.close();
      }
    },
  };
}
