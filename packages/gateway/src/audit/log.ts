/**
 * The audit log: JSON Lines, one row per decision, hash-chained (chain.ts). Rows are written through
 * one append stream in the order they are recorded; `close()` waits until every row has been handed
 * to the operating system, so a clean shutdown loses none. Opening an existing log continues its chain.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CallContext } from '../pipeline/context.js';
import { GENESIS, rowHash } from './chain.js';
import { redact } from './redact.js';

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
}

/** The row for one finished call. Argument values pass through `redact`. */
export function auditEntryFor(ctx: CallContext, time: string): AuditEntry {
  const decision = ctx.decision ?? { decision: 'deny', rule: '(error)', reason: 'no decision' };
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
    reason: decision.reason,
    ...(decision.retryAfterMs === undefined ? {} : { retryAfterMs: decision.retryAfterMs }),
    policyVersion: ctx.policy?.version ?? null,
    argKeys: Object.keys(ctx.args),
    args: redact(ctx.args, ctx.target.secretArgs(ctx.tool)),
    upstream: ctx.upstream ?? null,
  };
}

/** Reads the last complete row of an existing log, to continue its chain. */
async function lastRow(path: string): Promise<{ hash: string; seq: number } | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    const chunk = Math.min(size, 1 << 20);
    const buffer = Buffer.alloc(chunk);
    await handle.read(buffer, 0, chunk, size - chunk);
    const lines = buffer
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const row = JSON.parse(lines[i] ?? '') as { hash?: unknown; seq?: unknown };
        if (typeof row.hash === 'string')
          return { hash: row.hash, seq: typeof row.seq === 'number' ? row.seq : 0 };
      } catch {
        // A torn last line (a crash mid-write): `audit verify` will point at it; chain from the row before.
      }
    }
    return undefined;
  } finally {
    await handle.close();
  }
}

export class AuditLog {
  private prev: string;
  private seq: number;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly stream: WriteStream,
    readonly path: string,
    last: { hash: string; seq: number } | undefined,
  ) {
    this.prev = last?.hash ?? GENESIS;
    this.seq = last?.seq ?? 0;
  }

  static async open(path: string): Promise<AuditLog> {
    await mkdir(dirname(path), { recursive: true });
    const last = await lastRow(path);
    const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    await once(stream, 'open');
    return new AuditLog(stream, path, last);
  }

  /** Appends one row; synchronous, so rows are chained and written in the order they are recorded. */
  append(entry: AuditEntry): void {
    if (this.closed !== undefined) throw new Error('audit log is closed');
    this.seq++;
    const row: Record<string, unknown> = { seq: this.seq, ...entry, prev: this.prev };
    const hash = rowHash(row);
    this.prev = hash;
    this.stream.write(`${JSON.stringify({ ...row, hash })}\n`);
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve, reject) => {
      this.stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    return this.closed;
  }
}
