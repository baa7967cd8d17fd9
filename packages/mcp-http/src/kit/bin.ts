/**
 * What every Bastion server's `bin.ts` shares: a JSON logger on stderr that redacts secrets (stdout
 * of a stdio server carries MCP messages and nothing else), signal handling with a clean stop, a
 * process that survives an unforeseen error in one call, config problems named by their flags, and
 * one "listening" line.
 */
import { type Logger, pino } from 'pino';
import type { z } from 'zod';

/** Field names whose values are secrets wherever they appear in a log line. */
export const SECRET_FIELDS = [
  'password',
  'passphrase',
  'privateKey',
  'authToken',
  'token',
  'secret',
  'key',
  'stdin',
  'input',
] as const;

export function createBinLogger(name: string, level: string): Logger {
  const paths = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);
  return pino({ name, level, redact: { paths, censor: '[redacted]' } }, pino.destination(2));
}

export interface ProcessHandlers {
  /** Stops everything; the process exits with `code` after it. */
  stop(why: string, code?: number): Promise<void>;
}

/**
 * SIGINT/SIGTERM stop cleanly (a second signal exits at once); an uncaught exception or rejection
 * is logged and the process goes on: one failed call must not end every agent's session.
 */
export function installProcessHandlers(logger: Logger, close: () => Promise<void>): ProcessHandlers {
  let stopping: Promise<void> | undefined;
  const stop = (why: string, code = 0): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ why }, 'shutting down');
      try {
        await close();
      } catch (err) {
        logger.error({ err }, 'error while shutting down');
        code = code || 1;
      }
      process.exit(code);
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping !== undefined) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      void stop(signal);
    });
  }
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (the process goes on)'));
  process.on('unhandledRejection', (err) =>
    logger.error({ err }, 'unhandled rejection (the process goes on)'),
  );
  return { stop };
}

/** The one line a server logs once it serves: where, and over what. */
export function logListening(
  logger: Logger,
  details: { transport: 'stdio' } | { transport: 'http'; url: string; endpoints: string[] },
): void {
  logger.info(details, 'listening');
}

/** `maxBufferedMessages` -> `--max-buffered-messages`, unless `flags` names it otherwise. */
export function flagOf(key: string, flags: Readonly<Record<string, string>> = {}): string {
  return flags[key] ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Every problem of a config, one per line, each naming the flag a person would fix. */
export function describeConfigIssues(
  issues: ReadonlyArray<z.core.$ZodIssue>,
  flags: Readonly<Record<string, string>> = {},
): string {
  return issues
    .map((issue) => {
      const [key, ...rest] = issue.path.map(String);
      const where =
        key === undefined
          ? 'options'
          : `${flagOf(key, flags)}${rest.length > 0 ? ` (${rest.join('.')})` : ''}`;
      return `${where}: ${issue.message}`;
    })
    .join('\n');
}
