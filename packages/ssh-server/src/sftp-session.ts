/**
 * An SFTP session of ssh2 as promises: whole-file writes and bounded reads in 32 KiB steps, stat, and
 * errors as SFTP_FAILED naming the path.
 */
import type { SFTPWrapper } from 'ssh2';
import { SshError } from './errors.js';

export interface SftpFile {
  size: number;
}

export interface SftpSession {
  writeFile(path: string, data: Buffer, mode: number | undefined): Promise<void>;
  /** Reads at most `limit + 1` bytes, so the caller can tell a file over the limit. */
  readFile(path: string, limit: number): Promise<Buffer>;
  stat(path: string): Promise<SftpFile>;
  close(): void;
}

export function wrapSftp(sftp: SFTPWrapper): SftpSession {
  sftp.on('error', () => {
    // Surfaced through the callbacks of the operation in progress.
  });
  const sftpError = (what: string, path: string, err: Error) =>
    new SshError(
      'SFTP_FAILED',
      `${what} ${path} failed: ${err.message}`,
      { remotePath: path },
      { cause: err },
    );
  const call = <T>(
    what: string,
    path: string,
    op: (cb: (err: Error | undefined | null, value?: T) => void) => void,
  ) =>
    new Promise<T>((resolve, reject) => {
      op((err, value) => (err ? reject(sftpError(what, path, err)) : resolve(value as T)));
    });

  return {
    async writeFile(path, data, mode) {
      const handle = await call<Buffer>('open', path, (cb) =>
        sftp.open(path, 'w', mode === undefined ? {} : { mode }, cb),
      );
      try {
        let offset = 0;
        while (offset < data.length) {
          const length = Math.min(32 * 1024, data.length - offset);
          await call<void>('write', path, (cb) => sftp.write(handle, data, offset, length, offset, cb));
          offset += length;
        }
        // The mode given to open applies only to a new file; an existing one is changed explicitly.
        if (mode !== undefined) await call<void>('chmod', path, (cb) => sftp.fchmod(handle, mode, cb));
      } finally {
        await call<void>('close', path, (cb) => sftp.close(handle, cb)).catch(() => {});
      }
    },
    async readFile(path, limit) {
      const handle = await call<Buffer>('open', path, (cb) => sftp.open(path, 'r', cb));
      try {
        const chunks: Buffer[] = [];
        let total = 0;
        while (total <= limit) {
          const want = Math.min(32 * 1024, limit + 1 - total);
          const buffer = Buffer.alloc(want);
          const read = await new Promise<number>((resolve, reject) => {
            sftp.read(handle, buffer, 0, want, total, (err, bytesRead) => {
              // ssh2 reports end of file as an error with code 1 (SSH_FX_EOF) or 0 bytes read.
              if (err && (err as Error & { code?: number }).code === 1) resolve(0);
              else if (err) reject(sftpError('read', path, err));
              else resolve(bytesRead);
            });
          });
          if (read === 0) break;
          chunks.push(buffer.subarray(0, read));
          total += read;
        }
        return Buffer.concat(chunks);
      } finally {
        await call<void>('close', path, (cb) => sftp.close(handle, cb)).catch(() => {});
      }
    },
    async stat(path) {
      const stats = await call<{ size: number }>('stat', path, (cb) => sftp.stat(path, cb));
      return { size: stats.size };
    },
    close() {
      sftp.end();
    },
  };
}
