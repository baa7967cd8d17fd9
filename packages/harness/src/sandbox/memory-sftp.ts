/**
 * The embedded SSH host's SFTP subsystem on the simulated shell's in-memory file system, so that a
 * file uploaded over SFTP is the file `cat` prints over exec, and the reverse. Relative paths start
 * in the login's home, as with OpenSSH's internal-sftp. The same subset of SFTP v3 as the host's
 * real-disk handler (targets/ssh/sftp-handler.ts): open/read/write/close, the stat family, setstat,
 * realpath, directories, remove, rename and readlink; symlink creation is refused (unsupported).
 *
 * The file system lives in a worker, so every operation is asynchronous. Requests are handled one
 * at a time, in the order they arrive, so a client that pipelines writes and then a close sees them
 * applied in that order. An open file is read into memory at OPEN and written back at CLOSE (and
 * FSETSTAT/FSTAT), which is how a write at an offset works on a store that has whole files only.
 */
import { posix } from 'node:path';
import type { FsStat } from 'just-bash';
// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
import ssh2, { type Attributes, type SFTPWrapper } from 'ssh2';
import type { SandboxFileSystem } from './simulated-shell.js';

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp;

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** A refusal with its SFTP status; anything else thrown becomes FAILURE (or NO_SUCH_FILE on ENOENT). */
class SftpStatus extends Error {
  constructor(
    readonly status: number,
    message = '',
  ) {
    super(message);
  }
}

function statusOf(err: unknown): number {
  if (err instanceof SftpStatus) return err.status;
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return STATUS_CODE.NO_SUCH_FILE;
  if (code === 'EACCES' || code === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

function attrsOf(stat: FsStat): Attributes {
  const type = stat.isSymbolicLink ? S_IFLNK : stat.isDirectory ? S_IFDIR : S_IFREG;
  const mtime = Math.floor(new Date(stat.mtime).getTime() / 1000);
  return { mode: type | (stat.mode & 0o7777), uid: 1000, gid: 1000, size: stat.size, atime: mtime, mtime };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An `ls -l` style line, which interactive `sftp` clients print as is. */
function longname(name: string, attrs: Attributes, user: string): string {
  const mode = attrs.mode ?? 0;
  const kind = (mode & 0o170000) === S_IFDIR ? 'd' : (mode & 0o170000) === S_IFLNK ? 'l' : '-';
  let perms = '';
  for (let shift = 6; shift >= 0; shift -= 3) {
    const bits = (mode >> shift) & 7;
    perms += `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  }
  const date = new Date((attrs.mtime ?? 0) * 1000);
  const when = `${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2)} ${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`;
  return `${kind}${perms}    1 ${user.padEnd(8)} ${user.padEnd(8)} ${String(attrs.size ?? 0).padStart(8)} ${when} ${name}`;
}

interface FileHandle {
  kind: 'file';
  path: string;
  data: Buffer;
  readable: boolean;
  writable: boolean;
  append: boolean;
  dirty: boolean;
  mode: number | undefined;
}

interface DirHandle {
  kind: 'dir';
  path: string;
  entries: string[];
}

export interface MemorySftpOptions {
  /** Shown as owner in directory listings. */
  user: string;
}

export function serveSftpOnFileSystem(
  sftp: SFTPWrapper,
  home: string,
  fs: SandboxFileSystem,
  options: MemorySftpOptions,
): void {
  const handles = new Map<number, FileHandle | DirHandle>();
  let nextHandle = 1;
  let queue: Promise<void> = Promise.resolve();
  const full = (path: string) => posix.resolve(home, path === '' ? '.' : path);
  const handleBuffer = (id: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id, 0);
    return b;
  };
  const idOf = (handle: Buffer) => (handle.length === 4 ? handle.readUInt32BE(0) : -1);
  const fileOf = (handle: Buffer): FileHandle => {
    const h = handles.get(idOf(handle));
    if (h?.kind !== 'file') throw new SftpStatus(STATUS_CODE.FAILURE, 'not an open file');
    return h;
  };
  const statOrUndefined = async (path: string) => {
    try {
      return await fs.stat(path);
    } catch (err) {
      if (statusOf(err) === STATUS_CODE.NO_SUCH_FILE) return undefined;
      throw err;
    }
  };
  const requireDirectory = async (path: string) => {
    const stat = await statOrUndefined(path);
    if (stat === undefined) throw new SftpStatus(STATUS_CODE.NO_SUCH_FILE);
    if (!stat.isDirectory) throw new SftpStatus(STATUS_CODE.FAILURE, 'not a directory');
  };
  const flush = async (h: FileHandle) => {
    if (h.dirty) {
      await fs.writeFile(h.path, new Uint8Array(h.data));
      h.dirty = false;
    }
    if (h.mode !== undefined) {
      await fs.chmod(h.path, h.mode & 0o7777);
      h.mode = undefined;
    }
  };
  /** Runs request handlers one after another, answering with the status of anything thrown. */
  const serve = (reqid: number, fn: () => Promise<void>) => {
    queue = queue.then(async () => {
      try {
        await fn();
      } catch (err) {
        try {
          sftp.status(reqid, statusOf(err), err instanceof SftpStatus ? err.message : undefined);
        } catch {
          // The channel is gone.
        }
      }
    });
  };

  sftp.on('error', () => {
    // The client went away; what it wrote through open handles is flushed below.
  });
  sftp.on('close', () => {
    queue = queue.then(async () => {
      for (const h of handles.values()) if (h.kind === 'file') await flush(h).catch(() => {});
      handles.clear();
    });
  });

  sftp.on('OPEN', (reqid, filename, flags, attrs) =>
    serve(reqid, async () => {
      const path = full(filename);
      const stat = await statOrUndefined(path);
      const create = (flags & OPEN_MODE.CREAT) !== 0;
      if (stat === undefined) {
        if (!create) throw new SftpStatus(STATUS_CODE.NO_SUCH_FILE);
        await requireDirectory(posix.dirname(path));
      } else {
        if (create && (flags & OPEN_MODE.EXCL) !== 0)
          throw new SftpStatus(STATUS_CODE.FAILURE, 'file exists');
        if (stat.isDirectory) throw new SftpStatus(STATUS_CODE.FAILURE, 'is a directory');
      }
      const truncate = stat === undefined || (flags & OPEN_MODE.TRUNC) !== 0;
      const data = truncate ? Buffer.alloc(0) : Buffer.from(await fs.readFileBuffer(path));
      const handle: FileHandle = {
        kind: 'file',
        path,
        data,
        readable: (flags & OPEN_MODE.READ) !== 0,
        writable: (flags & OPEN_MODE.WRITE) !== 0,
        append: (flags & OPEN_MODE.APPEND) !== 0,
        // A created or truncated file exists (empty) once opened, as on a disk.
        dirty: truncate,
        mode: stat === undefined ? attrs.mode : undefined,
      };
      await flush(handle);
      const id = nextHandle++;
      handles.set(id, handle);
      sftp.handle(reqid, handleBuffer(id));
    }),
  );
  sftp.on('READ', (reqid, handle, offset, length) =>
    serve(reqid, async () => {
      const h = fileOf(handle);
      if (!h.readable) throw new SftpStatus(STATUS_CODE.PERMISSION_DENIED, 'not open for reading');
      if (offset >= h.data.length) return sftp.status(reqid, STATUS_CODE.EOF);
      sftp.data(reqid, h.data.subarray(offset, Math.min(h.data.length, offset + length)));
    }),
  );
  sftp.on('WRITE', (reqid, handle, offset, data) =>
    serve(reqid, async () => {
      const h = fileOf(handle);
      if (!h.writable) throw new SftpStatus(STATUS_CODE.PERMISSION_DENIED, 'not open for writing');
      const at = h.append ? h.data.length : offset;
      const end = at + data.length;
      if (end > h.data.length) {
        const grown = Buffer.alloc(end);
        h.data.copy(grown);
        h.data = grown;
      }
      data.copy(h.data, at);
      h.dirty = true;
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('FSTAT', (reqid, handle) =>
    serve(reqid, async () => {
      const h = handles.get(idOf(handle));
      if (h === undefined) throw new SftpStatus(STATUS_CODE.FAILURE, 'no such handle');
      if (h.kind === 'file') await flush(h);
      sftp.attrs(reqid, attrsOf(await fs.stat(h.path)));
    }),
  );
  sftp.on('FSETSTAT', (reqid, handle, attrs) =>
    serve(reqid, async () => {
      const h = fileOf(handle);
      if (attrs.size !== undefined) {
        const resized = Buffer.alloc(attrs.size);
        h.data.copy(resized, 0, 0, Math.min(attrs.size, h.data.length));
        h.data = resized;
        h.dirty = true;
      }
      if (attrs.mode !== undefined) h.mode = attrs.mode;
      await flush(h);
      if (attrs.mtime !== undefined) await fs.utimes(h.path, new Date(), new Date(attrs.mtime * 1000));
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('CLOSE', (reqid, handle) =>
    serve(reqid, async () => {
      const id = idOf(handle);
      const h = handles.get(id);
      if (h === undefined) throw new SftpStatus(STATUS_CODE.FAILURE, 'no such handle');
      handles.delete(id);
      if (h.kind === 'file') await flush(h);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('STAT', (reqid, path) =>
    serve(reqid, async () => sftp.attrs(reqid, attrsOf(await fs.stat(full(path))))),
  );
  sftp.on('LSTAT', (reqid, path) =>
    serve(reqid, async () => sftp.attrs(reqid, attrsOf(await fs.lstat(full(path))))),
  );
  sftp.on('SETSTAT', (reqid, path, attrs) =>
    serve(reqid, async () => {
      const p = full(path);
      const stat = await fs.stat(p);
      if (attrs.size !== undefined) {
        if (stat.isDirectory) throw new SftpStatus(STATUS_CODE.FAILURE, 'is a directory');
        const old = Buffer.from(await fs.readFileBuffer(p));
        const resized = Buffer.alloc(attrs.size);
        old.copy(resized, 0, 0, Math.min(attrs.size, old.length));
        await fs.writeFile(p, new Uint8Array(resized));
      }
      if (attrs.mode !== undefined) await fs.chmod(p, attrs.mode & 0o7777);
      if (attrs.mtime !== undefined) await fs.utimes(p, new Date(), new Date(attrs.mtime * 1000));
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('REALPATH', (reqid, path) =>
    serve(reqid, async () => {
      const p = full(path);
      sftp.name(reqid, [{ filename: p, longname: p, attrs: {} as Attributes }]);
    }),
  );
  sftp.on('READLINK', (reqid, path) =>
    serve(reqid, async () => {
      const target = await fs.readlink(full(path));
      sftp.name(reqid, [{ filename: target, longname: target, attrs: {} as Attributes }]);
    }),
  );
  sftp.on('SYMLINK', (reqid) => serve(reqid, async () => sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED)));
  sftp.on('OPENDIR', (reqid, path) =>
    serve(reqid, async () => {
      const p = full(path);
      await requireDirectory(p);
      const id = nextHandle++;
      handles.set(id, { kind: 'dir', path: p, entries: await fs.readdir(p) });
      sftp.handle(reqid, handleBuffer(id));
    }),
  );
  sftp.on('READDIR', (reqid, handle) =>
    serve(reqid, async () => {
      const h = handles.get(idOf(handle));
      if (h?.kind !== 'dir') throw new SftpStatus(STATUS_CODE.FAILURE, 'not an open directory');
      const batch = h.entries.splice(0, 64);
      if (batch.length === 0) return sftp.status(reqid, STATUS_CODE.EOF);
      const names = [];
      for (const filename of batch) {
        const attrs = attrsOf(await fs.lstat(posix.join(h.path, filename)));
        names.push({ filename, longname: longname(filename, attrs, options.user), attrs });
      }
      sftp.name(reqid, names);
    }),
  );
  sftp.on('REMOVE', (reqid, path) =>
    serve(reqid, async () => {
      const p = full(path);
      const stat = await fs.lstat(p);
      if (stat.isDirectory) throw new SftpStatus(STATUS_CODE.FAILURE, 'is a directory');
      await fs.rm(p);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('MKDIR', (reqid, path, attrs) =>
    serve(reqid, async () => {
      const p = full(path);
      if ((await statOrUndefined(p)) !== undefined) throw new SftpStatus(STATUS_CODE.FAILURE, 'exists');
      await requireDirectory(posix.dirname(p));
      await fs.mkdir(p);
      if (attrs.mode !== undefined) await fs.chmod(p, attrs.mode & 0o7777);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('RMDIR', (reqid, path) =>
    serve(reqid, async () => {
      const p = full(path);
      await requireDirectory(p);
      if ((await fs.readdir(p)).length > 0) throw new SftpStatus(STATUS_CODE.FAILURE, 'directory not empty');
      await fs.rm(p);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('RENAME', (reqid, from, to) =>
    serve(reqid, async () => {
      const source = full(from);
      const target = full(to);
      await fs.lstat(source);
      // SFTP v3: renaming onto an existing name fails (OpenSSH's posix-rename extension aside).
      if ((await statOrUndefined(target)) !== undefined)
        throw new SftpStatus(STATUS_CODE.FAILURE, 'target exists');
      await requireDirectory(posix.dirname(target));
      await fs.mv(source, target);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
}
