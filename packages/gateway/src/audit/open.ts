/**
 * Opens the configured audit log for a gateway: reads the chain's key, checks the log's end against
 * its head (refusing a log that was cut or rewritten), and says what it found. One call for the
 * forwarding core, so it does not need to know how the log is anchored.
 */
import type { Logger } from 'pino';
import type { AuditConfig } from '../config.js';
import { readAuditKeyFile } from './key.js';
import { AuditLog } from './log.js';

export async function openAuditLog(config: AuditConfig, logger: Logger): Promise<AuditLog> {
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
