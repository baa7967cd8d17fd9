/**
 * The audit chain's key: 32 random bytes, kept as 64 hex digits in a file of its own (mode 0600) that
 * must live outside the log's directory, or given in the environment (BASTION_GATEWAY_AUDIT_KEY).
 * Whoever holds it can write rows that verify, so it belongs with the gateway's other secrets, not
 * with the log.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ChainKey, keyIdOf } from './chain.js';

/** The environment variable that gives the key itself (hex), overriding the config's `keyFile`. */
export const AUDIT_KEY_ENV = 'BASTION_GATEWAY_AUDIT_KEY';
const KEY_BYTES = 32;

export class AuditKeyError extends Error {
  override readonly name = 'AuditKeyError';
}

/** Parses a key written as hex (at least 32 bytes); `source` names where it came from, for messages. */
export function parseAuditKey(text: string, source: string): ChainKey {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0 || hex.length < KEY_BYTES * 2) {
    throw new AuditKeyError(
      `${source}: an audit key is at least ${KEY_BYTES * 2} hex digits (bastion-gateway audit key create FILE)`,
    );
  }
  const bytes = Buffer.from(hex, 'hex');
  return { bytes, id: keyIdOf(bytes) };
}

export async function readAuditKeyFile(path: string): Promise<ChainKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AuditKeyError(`cannot read the audit key ${path}: ${(err as Error).message}`);
  }
  return parseAuditKey(text, path);
}

/** Writes a new random key to `path` (never over an existing file), readable by its owner only. */
export async function createAuditKeyFile(path: string): Promise<ChainKey> {
  const bytes = randomBytes(KEY_BYTES);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${bytes.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return { bytes, id: keyIdOf(bytes) };
}
