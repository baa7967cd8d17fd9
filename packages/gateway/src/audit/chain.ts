/**
 * The audit log's hash chain. Each row carries `seq` (1, 2, 3, ... with no gaps), `prev` (the `hash`
 * of the row before it; 64 zeros for the first) and `hash`, computed over the row without `hash` in
 * canonical JSON (keys sorted at every level). So a changed, removed, inserted or reordered row breaks
 * the chain where it happened.
 *
 * With a key (a keyed chain), `hash` is an HMAC-SHA-256 under that key: someone who can write the file
 * but does not hold the key cannot compute the hash of an edited, forged or renumbered row, so no
 * rewrite after the fact verifies. Without a key it is a plain SHA-256, which anyone can recompute: it
 * finds accidents, not an editor. What the end of the log was is anchored separately (head.ts).
 */
import { createHash, createHmac } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

/** An HMAC key for the chain, and its public id (a hash of it, to tell keys apart in messages). */
export interface ChainKey {
  readonly bytes: Buffer;
  readonly id: string;
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash of a row (without its `hash`): HMAC-SHA-256 under `key`, or SHA-256 without one. */
export function rowHash(rowWithoutHash: Record<string, unknown>, key?: ChainKey): string {
  const hash = key === undefined ? createHash('sha256') : createHmac('sha256', key.bytes);
  return hash.update(canonicalJson(rowWithoutHash)).digest('hex');
}

/** A key's id: the start of a hash of it, safe to print and to store beside the log. */
export function keyIdOf(bytes: Buffer): string {
  return createHash('sha256').update('bastion-audit-key-id\n').update(bytes).digest('hex').slice(0, 16);
}
