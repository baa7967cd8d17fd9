/**
 * The sandbox's live feed of the gateway's decisions, read from its audit log as rows are appended.
 * The gateway has no in-process decision listener; its audit log (one JSON row per decision, written
 * in order) is the record of every call, so the feed follows the file.
 */
import { type FileHandle, open } from 'node:fs/promises';

export interface DecisionEvent {
  time: string;
  server: string;
  tool: string;
  decision: string;
  rule: string;
  reason: string;
  retryAfterMs?: number;
  grant: string | null;
  /** The upstream's outcome and the time it took; absent for a call the gateway refused. */
  upstream?: { outcome: string; latencyMs: number };
}

interface AuditRow {
  time?: unknown;
  server?: unknown;
  tool?: unknown;
  decision?: unknown;
  rule?: unknown;
  reason?: unknown;
  retryAfterMs?: unknown;
  grant?: unknown;
  upstream?: { outcome?: unknown; latencyMs?: unknown } | null;
}

function eventOf(row: AuditRow): DecisionEvent | undefined {
  if (typeof row.server !== 'string' || typeof row.tool !== 'string' || typeof row.decision !== 'string') {
    return undefined;
  }
  const upstream = row.upstream;
  return {
    time: typeof row.time === 'string' ? row.time : new Date().toISOString(),
    server: row.server,
    tool: row.tool,
    decision: row.decision,
    rule: typeof row.rule === 'string' ? row.rule : '',
    reason: typeof row.reason === 'string' ? row.reason : '',
    ...(typeof row.retryAfterMs === 'number' ? { retryAfterMs: row.retryAfterMs } : {}),
    grant: typeof row.grant === 'string' ? row.grant : null,
    ...(upstream && typeof upstream.outcome === 'string' && typeof upstream.latencyMs === 'number'
      ? { upstream: { outcome: upstream.outcome, latencyMs: upstream.latencyMs } }
      : {}),
  };
}

export interface AuditFollower {
  /** Reads what was appended since the last read (also done on a timer). */
  poll(): Promise<void>;
  /** Reads the rest, then stops. */
  close(): Promise<void>;
}

/**
 * Follows the audit log at `path` from its current end, calling `onEvent` for each new row. Polls
 * every `intervalMs`: cheap (one fstat), and unlike fs.watch the same on every platform.
 */
export async function followAuditLog(
  path: string,
  onEvent: (event: DecisionEvent) => void,
  intervalMs = 100,
): Promise<AuditFollower> {
  const handle: FileHandle = await open(path, 'r');
  let offset = (await handle.stat()).size;
  let partial = '';
  let reading: Promise<void> | undefined;
  let closed = false;

  const readOnce = async () => {
    const { size } = await handle.stat();
    while (offset < size) {
      const buffer = Buffer.alloc(Math.min(size - offset, 1 << 20));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      const lines = (partial + buffer.toString('utf8', 0, bytesRead)).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        try {
          const event = eventOf(JSON.parse(line) as AuditRow);
          if (event !== undefined) onEvent(event);
        } catch {
          // Not a row (a torn write is completed by the next read, as `partial`).
        }
      }
    }
  };
  const poll = () => {
    reading ??= readOnce()
      .catch(() => {})
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  const timer = setInterval(() => void poll(), intervalMs);
  timer.unref();

  return {
    poll,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await reading;
      await readOnce().catch(() => {});
      await handle.close();
    },
  };
}
