/**
 * The SFTP subsystem of the embedded SSH host, on the real file system: relative paths start in the
 * host's working directory (the user's "home"), as with OpenSSH's internal-sftp. Enough of SFTP v3
 * for file transfer clients: open/read/write/close, stat family, setstat, realpath, directories,
 * remove and rename.
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmdirSync,
  type Stats,
  statSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
import ssh2, { type Attributes, type SFTPWrapper } from 'ssh2';

const { STATUS_CODE, flagsToString } = ssh2.utils.sftp;

function statusOf(err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return STATUS_CODE.NO_SUCH_FILE;
  if (code === 'EACCES' || code === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

function attrsOf(stats: Stats): Attributes {
  return {
    mode: stats.mode,
    uid: stats.uid,
    gid: stats.gid,
    size: stats.size,
    atime: Math.floor(stats.atimeMs / 1000),
    mtime: Math.floor(stats.mtimeMs / 1000),
  };
}

interface OpenHandle {
  kind: 'file' | 'dir';
  fd?: number;
  path: string;
  entries?: string[];
}

export function serveSftp(sftp: SFTPWrapper, home: string): void {
  const handles = new Map<number, OpenHandle>();
  let next = 1;
  const full = (path: string) => resolve(home, path === '' ? '.' : path);
  const handleBuffer = (id: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id, 0);
    return b;
  };
  const lookup = (handle: Buffer) => (handle.length === 4 ? handles.get(handle.readUInt32BE(0)) : undefined);
  const attempt = (reqid: number, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      sftp.status(reqid, statusOf(err));
    }
  };

  sftp.on('error', () => {
    // The client went away; its handles are closed below.
  });
  sftp.on('close', () => {
    for (const h of handles.values()) if (h.fd !== undefined) closeSync(h.fd);
    handles.clear();
  });

  sftp.on('OPEN', (reqid, filename, flags, attrs) =>
    attempt(reqid, () => {
      const mode = flagsToString(flags);
      if (mode === null) {
        sftp.status(reqid, STATUS_CODE.FAILURE);
        return;
      }
      const fd = openSync(full(filename), mode, attrs.mode ?? 0o644);
      const id = next++;
      handles.set(id, { kind: 'file', fd, path: full(filename) });
      sftp.handle(reqid, handleBuffer(id));
    }),
  );
  sftp.on('READ', (reqid, handle, offset, length) =>
    attempt(reqid, () => {
      const h = lookup(handle);
      if (h?.fd === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE);
      const buffer = Buffer.alloc(length);
      const read = readSync(h.fd, buffer, 0, length, offset);
      if (read === 0) sftp.status(reqid, STATUS_CODE.EOF);
      else sftp.data(reqid, buffer.subarray(0, read));
    }),
  );
  sftp.on('WRITE', (reqid, handle, offset, data) =>
    attempt(reqid, () => {
      const h = lookup(handle);
      if (h?.fd === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE);
      writeSync(h.fd, data, 0, data.length, offset);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('FSTAT', (reqid, handle) =>
    attempt(reqid, () => {
      const h = lookup(handle);
      if (h === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE);
      sftp.attrs(reqid, attrsOf(h.fd === undefined ? statSync(h.path) : fstatSync(h.fd)));
    }),
  );
  sftp.on('FSETSTAT', (reqid, handle, attrs) =>
    attempt(reqid, () => {
      const h = lookup(handle);
      if (h?.fd === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE);
      if (attrs.mode !== undefined) fchmodSync(h.fd, attrs.mode);
      if (attrs.size !== undefined) ftruncateSync(h.fd, attrs.size);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('CLOSE', (reqid, handle) =>
    attempt(reqid, () => {
      const id = handle.length === 4 ? handle.readUInt32BE(0) : -1;
      const h = handles.get(id);
      if (h === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE);
      handles.delete(id);
      if (h.fd !== undefined) closeSync(h.fd);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('STAT', (reqid, path) => attempt(reqid, () => sftp.attrs(reqid, attrsOf(statSync(full(path))))));
  sftp.on('LSTAT', (reqid, path) => attempt(reqid, () => sftp.attrs(reqid, attrsOf(lstatSync(full(path))))));
  sftp.on('SETSTAT', (reqid, path, attrs) =>
    attempt(reqid, () => {
      if (attrs.mode !== undefined) chmodSync(full(path), attrs.mode);
      if (attrs.size !== undefined) truncateSync(full(path), attrs.size);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('REALPATH', (reqid, path) =>
    attempt(reqid, () => {
      const p = full(path);
      sftp.name(reqid, [{ filename: p, longname: p, attrs: {} as Attributes }]);
    }),
  );
  sftp.on('OPENDIR', (reqid, path) =>
    attempt(reqid, () => {
      const p = full(path);
      const entries = readdirSync(p);
      const id = next++;
      handles.set(id, { kind: 'dir', path: p, entries });
      sftp.handle(reqid, handleBuffer(id));
    }),
  );
  sftp.on('READDIR', (reqid, handle) =>
    attempt(reqid, () => {
      const h = lookup(handle);
      if (h?.entries === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE);
      const batch = h.entries.splice(0, 64);
      if (batch.length === 0) return sftp.status(reqid, STATUS_CODE.EOF);
      sftp.name(
        reqid,
        batch.map((filename) => {
          const attrs = attrsOf(lstatSync(join(h.path, filename)));
          return { filename, longname: filename, attrs };
        }),
      );
    }),
  );
  sftp.on('REMOVE', (reqid, path) =>
    attempt(reqid, () => {
      unlinkSync(full(path));
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('MKDIR', (reqid, path, attrs) =>
    attempt(reqid, () => {
      mkdirSync(full(path), { mode: attrs.mode ?? 0o755 });
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('RMDIR', (reqid, path) =>
    attempt(reqid, () => {
      rmdirSync(full(path));
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('RENAME', (reqid, from, to) =>
    attempt(reqid, () => {
      renameSync(full(from), full(to));
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
}
