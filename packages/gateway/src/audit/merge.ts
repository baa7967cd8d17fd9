/**
 * `bastion-gateway audit merge FILE...`: the rows of several audit logs (one per gateway replica) as
 * one stream ordered by time, each row tagged with the log it came from. The logs stay separate
 * chains (verify each with `audit verify`); this is the operator's view of what the replicas decided
 * together. Rows with the same time keep the order of the files given, then their seq.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';

/** What the merge needs of a row; every other field is passed on as it is. */
const rowSchema = z.looseObject({ time: z.string(), seq: z.number().int() });

export interface MergedRow {
  /** The log's file name (it names the replica: gateway.<replicaId>.jsonl). */
  log: string;
  time: string;
  seq: number;
  row: Record<string, unknown>;
}

export class AuditMergeError extends Error {}

async function readRows(file: string, index: number): Promise<Array<MergedRow & { index: number }>> {
  const rows: Array<MergedRow & { index: number }> = [];
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    let parsed: z.infer<typeof rowSchema>;
    try {
      parsed = rowSchema.parse(JSON.parse(text));
    } catch {
      throw new AuditMergeError(`${file}: line ${line} is not an audit row (run \`audit verify\` on it)`);
    }
    rows.push({ log: basename(file), time: parsed.time, seq: parsed.seq, row: parsed, index });
  }
  return rows;
}

/** Every row of every file, ordered by time (ISO 8601 UTC, so text order is time order). */
export async function mergeAuditLogs(files: ReadonlyArray<string>): Promise<MergedRow[]> {
  const all = (await Promise.all(files.map((file, i) => readRows(file, i)))).flat();
  const ms = new Map(all.map((r) => [r, Date.parse(r.time)]));
  all.sort((a, b) => (ms.get(a) as number) - (ms.get(b) as number) || a.index - b.index || a.seq - b.seq);
  return all.map(({ index: _index, ...row }) => row);
}
