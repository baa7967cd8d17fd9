/** Checks an audit log's hash chain and names the first row that breaks it. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { GENESIS, rowHash } from './chain.js';

export type VerifyResult =
  | { ok: true; rows: number }
  | { ok: false; rows: number; line: number; reason: string };

export async function verifyAuditLog(path: string): Promise<VerifyResult> {
  const lines = createInterface({
    input: createReadStream(path, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let prev = GENESIS;
  let line = 0;
  let rows = 0;
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
    if (rest.prev !== prev) {
      return { ok: false, rows, line, reason: 'prev does not match the hash of the row before it' };
    }
    if (hash !== rowHash(rest)) {
      return { ok: false, rows, line, reason: 'hash does not match the row content' };
    }
    prev = hash;
    rows++;
  }
  return { ok: true, rows };
}
