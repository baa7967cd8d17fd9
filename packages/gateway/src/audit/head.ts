/**
 * The anchored head of an audit log: a small signed file, `<log name>.head`, in a directory of its own
 * choosing (by default beside the log), that records the `seq` and `hash` of the last row written.
 * A chain alone cannot show that rows were cut from its end (what is left still chains); the head
 * can: a log that ends before its head, or whose row at the head's `seq` has another hash, lost rows.
 *
 * The head is rewritten (write a temporary file, then rename it over the old one) after rows reach
 * the operating system, at most one write at a time: under load it trails the log by the rows written
 * during one head write, and those rows are the only ones a truncation could remove unnoticed. It is
 * signed with the chain's key (HMAC) when there is one; unkeyed, its "signature" is a plain hash.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type ChainKey, GENESIS, rowHash } from './chain.js';
import { AUDIT_KEY_ENV } from './key.js';

export interface Head {
  v: 1;
  /** The log file's name (not its directory: logs may be moved as a pair). */
  log: string;
  seq: number;
  hash: string;
  time: string;
  /** The id of the key the log is chained with; null for an unkeyed log. */
  keyId: string | null;
  sig: string;
}

export function headPathFor(logPath: string, headDir: string): string {
  return join(headDir, `${basename(logPath)}.head`);
}

export class HeadError extends Error {
  override readonly name = 'HeadError';
}

function sign(fields: Omit<Head, 'sig'>, key: ChainKey | undefined): string {
  return rowHash({ ...fields, kind: 'bastion-audit-head' }, key);
}

export function makeHead(logPath: string, seq: number, hash: string, key: ChainKey | undefined): Head {
  const fields: Omit<Head, 'sig'> = {
    v: 1,
    log: basename(logPath),
    seq,
    hash,
    time: new Date().toISOString(),
    keyId: key?.id ?? null,
  };
  return { ...fields, sig: sign(fields, key) };
}

/**
 * Reads and checks the head at `path`: undefined if there is none; HeadError if it is not a head, was
 * made with another key than `key` (or with one when `key` is undefined), or its signature is wrong.
 */
export async function readHead(path: string, key: ChainKey | undefined): Promise<Head | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new HeadError(`cannot read the head checkpoint ${path}: ${(err as Error).message}`);
  }
  let head: Head;
  try {
    head = JSON.parse(text) as Head;
  } catch {
    throw new HeadError(`the head checkpoint ${path} is not JSON`);
  }
  if (
    head === null ||
    typeof head !== 'object' ||
    head.v !== 1 ||
    !Number.isSafeInteger(head.seq) ||
    head.seq < 0 ||
    typeof head.hash !== 'string' ||
    typeof head.sig !== 'string'
  ) {
    throw new HeadError(`the head checkpoint ${path} is not a head checkpoint`);
  }
  const keyId = key?.id ?? null;
  if (head.keyId !== keyId) {
    throw new HeadError(
      head.keyId === null
        ? `the head checkpoint ${path} belongs to an unkeyed log, but a key was given`
        : keyId === null
          ? `the log is keyed (key id ${head.keyId}): give its key (--key FILE or ${AUDIT_KEY_ENV})`
          : `the log is keyed with key id ${head.keyId}, not with the given key (id ${keyId})`,
    );
  }
  const { sig, ...fields } = head;
  if (sig !== sign(fields, key)) {
    throw new HeadError(
      `the head checkpoint ${path} does not verify: it was edited, or made with another key`,
    );
  }
  return head;
}

/**
 * Keeps a log's head current: `update()` after each row reached the operating system; writes never
 * overlap, and the last update always gets written. `flush()` waits until it has.
 */
export class HeadWriter {
  private wanted: { seq: number; hash: string } | undefined;
  private writing: Promise<void> | undefined;
  private failure: Error | undefined;

  constructor(
    readonly path: string,
    private readonly logPath: string,
    private readonly key: ChainKey | undefined,
    private readonly onError: (err: Error) => void,
  ) {}

  update(seq: number, hash: string): void {
    this.wanted = { seq, hash };
    this.writing ??= this.drain();
  }

  /** Writes the head for `seq`/`hash` now (the start of a log, or one checked at open). */
  async writeNow(seq: number, hash: string): Promise<void> {
    this.update(seq, hash);
    await this.flush();
    if (this.failure !== undefined) throw this.failure;
  }

  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.wanted !== undefined) {
        const { seq, hash } = this.wanted;
        this.wanted = undefined;
        const head = makeHead(this.logPath, seq, hash, this.key);
        const temporary = `${this.path}.tmp`;
        try {
          await writeFile(temporary, `${JSON.stringify(head)}\n`, { mode: 0o600 });
          await rename(temporary, this.path);
          this.failure = undefined;
        } catch (err) {
          this.failure = err as Error;
          this.onError(err as Error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}

export const EMPTY_CHAIN = { seq: 0, hash: GENESIS } as const;
