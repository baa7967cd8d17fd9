/**
 * Grant tokens: random bearer tokens handed out once, stored only as their SHA-256. Lookups compare
 * digests with timingSafeEqual against every grant, so the time taken says nothing about which grant
 * (or how much of a hash) matched.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { GrantConfig } from './config.js';

export const TOKEN_PREFIX = 'bgw_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function createGrantToken(): { token: string; tokenSha256: string } {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, tokenSha256: hashToken(token) };
}

/** The grant a token belongs to, if any. */
export function findGrant(grants: Iterable<GrantConfig>, token: string): GrantConfig | undefined {
  const presented = Buffer.from(hashToken(token), 'hex');
  let found: GrantConfig | undefined;
  for (const grant of grants) {
    const stored = Buffer.from(grant.tokenSha256, 'hex');
    // Every grant is compared, match or not.
    if (stored.length === presented.length && timingSafeEqual(stored, presented) && found === undefined) {
      found = grant;
    }
  }
  return found;
}

/** The config entry to paste for a new grant. */
export function grantConfigEntry(
  label: string,
  tokenSha256: string,
  servers: string[],
): Record<string, unknown> {
  return { [label]: { tokenSha256, servers } };
}
