/**
 * The pins lock file (config `"pins": { "file": … }`): every server's pins as JSON, written by
 * `bastion-gateway pin` and by the gateway itself whenever a pin changes, so that pins survive a
 * restart of a gateway whose shared store does not (the in-memory one). Written atomically (a new
 * file renamed over the old), and watched: a `bastion-gateway pin --accept` run beside a running
 * gateway reaches it within moments.
 */
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type LockFile, lockFileSchema, type PinSet } from './records.js';

const COMMENT =
  'Tool pins of the Bastion gateway: what each upstream tool was accepted as. Written by ' +
  '`bastion-gateway pin` and by the gateway; accept changes in the console or with `bastion-gateway pin --accept`.';

export class LockFileError extends Error {
  override readonly name = 'LockFileError';
}

export async function readLockFile(path: string): Promise<LockFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LockFileError(`cannot read the pins file ${path}: ${(err as Error).message}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new LockFileError(`the pins file ${path} is not JSON: ${(err as Error).message}`);
  }
  const parsed = lockFileSchema.safeParse(document);
  if (!parsed.success)
    throw new LockFileError(
      `the pins file ${path} is not a pins file: ${parsed.error.issues[0]?.message ?? ''}`,
    );
  return parsed.data;
}

let writes = 0;

export async function writeLockFile(path: string, servers: Record<string, PinSet>): Promise<void> {
  const document: LockFile = { $comment: COMMENT, version: 1, servers };
  await mkdir(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${++writes}.tmp`);
  await writeFile(temporary, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o644 });
  await rename(temporary, path);
}

/** Calls `onChange` (debounced) when the file is written by someone; `close()` stops watching. */
export function watchLockFile(path: string, onChange: () => void, debounceMs = 100): { close(): void } {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      if (filename !== null && filename !== name) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
      timer.unref();
    });
  } catch {
    // A directory that cannot be watched: changes are picked up at the next start instead.
  }
  return {
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
