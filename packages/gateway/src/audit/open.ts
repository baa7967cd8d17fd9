/**
 * Opens the configured audit log for a gateway: reads the chain's key, checks the log's end against
 * its head (refusing a log that was cut or rewritten), and says what it found. One call for the
 * forwarding core, so it does not need to know how the log is anchored.
 */
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AuditConfig } from '../config.js';
import { readAuditKeyFile } from './key.js';
import { AuditLog } from './log.js';

/** A key others can read is a key others can sign with: say so (the gateway still starts). */
async function warnIfShared(path: string, logger: Logger): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) {
    logger.warn(
      { keyFile: path, mode: `0${(mode & 0o777).toString(8)}` },
      'the audit key can be read by others than its owner: whoever reads it can rewrite the log unnoticed',
    );
  }
}

export async function openAuditLog(config: AuditConfig, logger: Logger): Promise<AuditLog> {
  if (config.key?.kind === 'file') await warnIfShared(config.key.path, logger).catch(() => undefined);
  const key =
    config.key === undefined
      ? undefined
      : config.key.kind === 'env'
        ? config.key.key
        : await readAuditKeyFile(config.key.path);
  const log = await AuditLog.open({
    path: config.path,
    ...(key === undefined ? {} : { key }),
    headDir: config.headDir,
    onHeadError: (err) =>
      logger.error({ err, path: config.path }, 'could not write the audit head checkpoint'),
  });
  for (const notice of log.notices) logger.warn({ path: config.path }, `audit log: ${notice}`);
  if (key === undefined) {
    logger.warn(
      { path: config.path },
      'audit log is not keyed: anyone who can write it can rewrite it unnoticed (set audit.keyFile)',
    );
  }
  return log;
}
