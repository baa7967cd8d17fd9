/**
 * `bastion-gateway audit verify FILE...`: one line per log. Several logs at once because each gateway
 * replica writes its own (named by replica id), all under one key; each is held to its own head
 * checkpoint, `<log name>.head`, beside it or in one directory for all.
 */
import { basename, dirname } from 'node:path';
import type { ChainKey } from './chain.js';
import { headPathFor } from './head.js';
import { verifyAuditLog } from './verify.js';

export interface VerifyReport {
  file: string;
  status: 'ok' | 'broken' | 'unreadable';
  text: string;
}

export interface VerifyLogsOptions {
  key?: ChainKey;
  /** The heads' directory; null: beside each log; false: do not check heads. */
  headDir: string | null | false;
}

export async function verifyAuditLogs(
  files: ReadonlyArray<string>,
  options: VerifyLogsOptions,
): Promise<VerifyReport[]> {
  const names = files.map((f) => basename(f));
  const reports: VerifyReport[] = [];
  for (const file of files) {
    if (typeof options.headDir === 'string' && names.filter((n) => n === basename(file)).length > 1) {
      reports.push({
        file,
        status: 'broken',
        text: `${file}: another log of the same name shares ${options.headDir}: their head checkpoints would be one file`,
      });
      continue;
    }
    const headPath = options.headDir === false ? null : headPathFor(file, options.headDir ?? dirname(file));
    try {
      const result = await verifyAuditLog(file, { headPath, ...(options.key ? { key: options.key } : {}) });
      if (!result.ok) {
        const where = result.line === undefined ? 'broken' : `broken at line ${result.line}`;
        reports.push({
          file,
          status: 'broken',
          text: `${file}: ${where}: ${result.reason} (${result.rows} rows verified before it)`,
        });
        continue;
      }
      const keyed = result.keyed
        ? `keyed (key id ${options.key?.id})`
        : 'NOT keyed (anyone who can write the file could have rewritten it)';
      const unanchored = result.headSeq === null ? 0 : result.rows - result.headSeq;
      const head =
        result.headSeq === null
          ? 'head not checked'
          : `reaches its head checkpoint (seq ${result.headSeq})${unanchored > 0 ? `, ${unanchored} later rows not yet anchored` : ''}`;
      reports.push({
        file,
        status: 'ok',
        text: `${file}: ok: ${result.rows} rows, chain intact, ${keyed}, ${head}`,
      });
    } catch (err) {
      reports.push({ file, status: 'unreadable', text: `${file}: cannot read: ${(err as Error).message}` });
    }
  }
  return reports;
}
