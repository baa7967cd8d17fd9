/**
 * The audit log: JSON Lines, one row per decision, chained (chain.ts) and anchored by a head
 * checkpoint (head.ts). Rows are written through one append stream in the order they are recorded;
 * `close()` waits until every row has been handed to the operating system and the head records the
 * last one, so a clean shutdown loses none.
 *
 * Opening an existing log continues its chain only if its end still matches its head: the rows after
 * the head's row must chain from it, and the log must reach it. Otherwise the log was cut or rewritten
 * while the gateway was down, and `open` refuses (AuditChainError) rather than write on after it: the
 * operator keeps the log and its head as evidence and moves both aside to start a new chain. The one
 * repair it makes is a torn last line after the head (a crash in the middle of a write), which it cuts
 * off and reports.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { CallContext } from '../pipeline/context.js';
import { type ChainKey, GENESIS, rowHash } from './chain.js';
import { type Head, HeadError, HeadWriter, headPathFor, readHead } from './head.js';
import { redactArgs, scrubSecrets } from './redact.js';
import { type ChainTail, headProblem, walkChain } from './verify.js';

export interface AuditEntry {
  time: string;
  requestId: string | number;
  grant: string | null;
  session: string;
  server: string;
  method: string;
  tool: string;
  decision: string;
  rule: string;
  reason: string;
  retryAfterMs?: number;
  policyVersion: string | null;
  argKeys: string[];
  args: unknown;
  upstream: { outcome: string; latencyMs: number; code?: number } | null;
  /** The approval a call waited for or redeemed, or a decision row's approval (approvals, issue 12). */
  approval?: { id: string; status: string; decidedBy?: string };
  /** Who decided, on the rows of people's decisions (an approval, a tool pin). */
  decidedBy?: string;
}

/**
 * The row for one finished call. Argument values pass through `redactArgs` (by name and by the tool's
 * inputSchema), and the reason, which may quote an upstream's error text, is scrubbed of the secrets.
 */
export function auditEntryFor(ctx: CallContext, time: string): AuditEntry {
  const decision = ctx.decision ?? { decision: 'deny', rule: '(error)', reason: 'no decision' };
  const { value: args, secrets } = redactArgs(ctx.args, ctx.target.inputSchema(ctx.tool));
  return {
    time,
    requestId: ctx.requestId,
    grant: ctx.grant ?? ctx.principal?.id ?? null,
    session: ctx.sessionId,
    server: ctx.server,
    method: 'tools/call',
    tool: ctx.tool,
    decision: decision.decision,
    rule: decision.rule,
    reason: scrubSecrets(decision.reason, secrets),
    ...(decision.retryAfterMs === undefined ? {} : { retryAfterMs: decision.retryAfterMs }),
    policyVersion: ctx.policy?.version ?? null,
    argKeys: Object.keys(ctx.args),
    args,
    upstream: ctx.upstream ?? null,
    ...(ctx.approval === undefined ? {} : { approval: ctx.approval }),
  };
}

export interface AuditLogOptions {
  path: string;
  /** The chain's HMAC key; without one the chain is plain SHA-256 (tamper-evident to no one). */
  key?: ChainKey;
  /** Where the head checkpoint lives (default: beside the log). */
  headDir?: string;
  /** Told when the head cannot be written (the rows still are). */
  onHeadError?: (err: Error) => void;
}

/** The log's end does not match its head: it was cut or rewritten. The gateway does not start. */
export class AuditChainError extends Error {
  override readonly name = 'AuditChainError';
  constructor(path: string, problem: string) {
    super(
      `audit log ${path}: ${problem}. Not continuing this chain: keep the log and its head checkpoint as ` +
        'evidence (bastion-gateway audit verify shows where it breaks) and move both aside to start a new one',
    );
  }
}

const TAIL_BYTES = 1 << 20;

/** The offset just after the last newline (what is before it is whole rows), and the file's size. */
async function wholeRowsEnd(path: string): Promise<{ size: number; end: number } | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    let end = size;
    const buffer = Buffer.alloc(64 * 1024);
    while (end > 0) {
      const length = Math.min(buffer.length, end);
      await handle.read(buffer, 0, length, end - length);
      const newline = buffer.subarray(0, length).lastIndexOf(0x0a);
      if (newline >= 0) return { size, end: end - length + newline + 1 };
      end -= length;
    }
    return { size, end: 0 };
  } finally {
    await handle.close();
  }
}

async function* linesOf(path: string, start: number, end: number): AsyncIterable<string> {
  if (end <= start) return;
  const input = createReadStream(path, { encoding: 'utf8', start, end: end - 1 });
  yield* createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
}

/**
 * Checks the whole rows of `path` (up to `end`) against `head` and returns where the chain ends. Only
 * the last MiB is read when the head's row is in it; otherwise the whole log.
 */
async function checkTail(
  path: string,
  end: number,
  head: Head,
  key: ChainKey | undefined,
): Promise<ChainTail> {
  const from = Math.max(0, end - TAIL_BYTES);
  if (from > 0 && head.seq > 0) {
    const lines: string[] = [];
    for await (const line of linesOf(path, from, end)) lines.push(line);
    lines.shift(); // the first line of a chunk may be cut
    const at = lines.findIndex((l) => {
      try {
        return (JSON.parse(l) as { seq?: unknown }).seq === head.seq;
      } catch {
        return false;
      }
    });
    if (at >= 0) {
      const { hash, ...rest } = JSON.parse(lines[at] ?? '') as Record<string, unknown>;
      if (hash !== head.hash || rowHash(rest, key) !== hash) {
        throw new AuditChainError(path, `row ${head.seq} is not the row the head checkpoint recorded`);
      }
      const after = (async function* () {
        yield* lines.slice(at + 1);
      })();
      const walked = await walkChain(after, key, { seq: head.seq, hash: head.hash, line: 0 });
      if (!walked.ok)
        throw new AuditChainError(path, `a row after seq ${head.seq} is broken: ${walked.reason}`);
      return walked.tail;
    }
  }
  const walked = await walkChain(linesOf(path, 0, end), key, undefined, head.seq);
  if (!walked.ok) throw new AuditChainError(path, `line ${walked.line}: ${walked.reason}`);
  const problem = headProblem(head, walked.tail);
  if (problem !== undefined) throw new AuditChainError(path, problem);
  return walked.tail;
}

export class AuditLog {
  private prev: string;
  private seq: number;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly stream: WriteStream,
    readonly path: string,
    private readonly key: ChainKey | undefined,
    private readonly head: HeadWriter,
    last: { hash: string; seq: number },
    /** What opening found worth telling (a torn last line cut off). */
    readonly notices: ReadonlyArray<string>,
  ) {
    this.prev = last.hash;
    this.seq = last.seq;
  }

  get keyed(): boolean {
    return this.key !== undefined;
  }

  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const { path, key } = options;
    const headDir = options.headDir ?? dirname(path);
    await mkdir(dirname(path), { recursive: true });
    await mkdir(headDir, { recursive: true });
    const headPath = headPathFor(path, headDir);
    let head: Head | undefined;
    try {
      head = await readHead(headPath, key);
    } catch (err) {
      if (err instanceof HeadError) throw new AuditChainError(path, err.message);
      throw err;
    }
    const notices: string[] = [];
    const rows = await wholeRowsEnd(path);
    let last = { seq: 0, hash: GENESIS };
    if (rows === undefined || rows.size === 0) {
      if (head !== undefined && head.seq > 0) {
        throw new AuditChainError(
          path,
          `it is empty but its head checkpoint is at seq ${head.seq}: rows were removed`,
        );
      }
    } else {
      if (head === undefined) {
        throw new AuditChainError(
          path,
          `it has rows but no head checkpoint at ${headPath}, so rows removed from its end could not be told`,
        );
      }
      const tail = await checkTail(path, rows.end, head, key);
      last = { seq: tail.seq, hash: tail.hash };
      if (rows.end < rows.size) {
        // Bytes after the last newline: a row torn by a crash mid-write, never anchored by the head.
        await truncate(path, rows.end);
        notices.push(`cut off a torn last line (${rows.size - rows.end} bytes) left by a crash`);
      }
    }
    const writer = new HeadWriter(headPath, path, key, options.onHeadError ?? (() => undefined));
    await writer.writeNow(last.seq, last.hash);
    const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    await once(stream, 'open');
    return new AuditLog(stream, path, key, writer, last, notices);
  }

  /** Appends one row; synchronous, so rows are chained and written in the order they are recorded. */
  append(entry: AuditEntry): void {
    if (this.closed !== undefined) throw new Error('audit log is closed');
    const seq = ++this.seq;
    const row: Record<string, unknown> = { seq, ...entry, prev: this.prev };
    const hash = rowHash(row, this.key);
    this.prev = hash;
    // The head moves only once the row is with the operating system, so it never runs ahead of the log.
    this.stream.write(`${JSON.stringify({ ...row, hash })}\n`, (err) => {
      if (!err) this.head.update(seq, hash);
    });
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await new Promise<void>((resolve, reject) => {
        this.stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
      });
      await this.head.flush();
    })();
    return this.closed;
  }
}
