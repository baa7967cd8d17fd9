/**
 * The audit log's hash chain. Each row carries `prev` (the hash of the row before it; 64 zeros for
 * the first) and `hash`, the SHA-256 of the row without `hash` in canonical JSON (keys sorted at every
 * level), so a changed, removed, inserted or reordered row breaks the chain where it happened.
 */
import { createHash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function rowHash(rowWithoutHash: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(rowWithoutHash)).digest('hex');
}
