/**
 * Checks an audit log: every row's `seq` follows the one before it with no gap (starting at 1), its
 * `prev` is the row before's `hash`, its `hash` is right (under the key, for a keyed log), and the log
 * reaches at least as far as its head checkpoint, with the same row there. Names the first problem.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type ChainKey, GENESIS, rowHash } from './chain.js';
import { type Head, HeadError, readHead } from './head.js';

export type VerifyResult =
  | {
      ok: true;
      rows: number;
      keyed: boolean;
      /** The head's seq, or null when the head was not checked (`headPath: null`). */
      headSeq: number | null;
    }
  | { ok: false; rows: number; line?: number; reason: string };

export interface VerifyOptions {
  /** The chain's key; without one the log must be an unkeyed (plain SHA-256) chain. */
  key?: ChainKey;
  /** The head checkpoint to hold the log to; null (the default): the chain alone. */
  headPath?: string | null;
}

/** Where a chain walk got to: the last good row, and the row at a wanted seq if it passed one. */
export interface ChainTail {
  rows: number;
  seq: number;
  hash: string;
  /** The hash of the row whose seq was asked for (`atSeq`), if the walk passed it. */
  hashAtSeq?: string;
}

export type WalkResult =
  | { ok: true; tail: ChainTail }
  | { ok: false; rows: number; line: number; reason: string };

/**
 * Walks the rows of `lines` from `start` (the genesis, or a known row to continue from), checking
 * seq, prev and hash. `atSeq` asks for the hash of the row with that seq on the way.
 */
export async function walkChain(
  lines: AsyncIterable<string>,
  key: ChainKey | undefined,
  start: { seq: number; hash: string; line: number } = { seq: 0, hash: GENESIS, line: 0 },
  atSeq?: number,
): Promise<WalkResult> {
  let { seq, hash: prev, line } = start;
  let rows = 0;
  let hashAtSeq: string | undefined;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return { ok: false, rows, line, reason: 'not valid JSON' };
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      return { ok: false, rows, line, reason: 'not a JSON object' };
    }
    const { hash, ...rest } = row;
    if (rest.seq !== seq + 1) {
      const found = typeof rest.seq === 'number' ? `seq ${rest.seq}` : 'no seq';
      return {
        ok: false,
        rows,
        line,
        reason: `${found} where ${seq + 1} was expected: rows are missing or out of order`,
      };
    }
    if (rest.prev !== prev) {
      return { ok: false, rows, line, reason: 'prev does not match the hash of the row before it' };
    }
    if (hash !== rowHash(rest, key)) {
      // An editor without the key can only recompute plain hashes: say so when that is what happened.
      const unkeyed = key !== undefined && hash === rowHash(rest);
      const reason = unkeyed
        ? 'hash is a plain SHA-256, not the keyed hash: the row was written without the key'
        : `hash does not match the row content${key === undefined ? '' : ' under the key'}`;
      return { ok: false, rows, line, reason };
    }
    seq++;
    prev = hash;
    rows++;
    if (seq === atSeq) hashAtSeq = hash;
  }
  return { ok: true, tail: { rows, seq, hash: prev, ...(hashAtSeq === undefined ? {} : { hashAtSeq }) } };
}

/** Whether a chain that ends at `tail` reaches `head`, and why not. */
export function headProblem(head: Head, tail: ChainTail): string | undefined {
  if (tail.seq < head.seq) {
    return `the log ends at seq ${tail.seq} but its head checkpoint is at seq ${head.seq}: rows were removed from its end`;
  }
  const atHead = head.seq === 0 ? GENESIS : tail.seq === head.seq ? tail.hash : tail.hashAtSeq;
  if (atHead !== head.hash) {
    return `row ${head.seq} is not the row the head checkpoint recorded: the log was rewritten`;
  }
  return undefined;
}

function readLines(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
}

export async function verifyAuditLog(path: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const { key } = options;
  // A log that cannot be read is an error of its own (thrown), not a missing head.
  await stat(path);
  let head: Head | undefined;
  if (options.headPath !== null && options.headPath !== undefined) {
    try {
      head = await readHead(options.headPath, key);
    } catch (err) {
      if (err instanceof HeadError) return { ok: false, rows: 0, reason: err.message };
      throw err;
    }
    if (head === undefined) {
      return {
        ok: false,
        rows: 0,
        reason: `no head checkpoint at ${options.headPath}: rows removed from the end could not be told`,
      };
    }
  }
  const walked = await walkChain(readLines(path), key, undefined, head?.seq);
  if (!walked.ok) return walked;
  const { tail } = walked;
  if (head !== undefined) {
    const problem = headProblem(head, tail);
    if (problem !== undefined) return { ok: false, rows: tail.rows, line: tail.rows + 1, reason: problem };
  }
  return { ok: true, rows: tail.rows, keyed: key !== undefined, headSeq: head?.seq ?? null };
}
