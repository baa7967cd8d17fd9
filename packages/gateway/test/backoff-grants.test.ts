import { describe, expect, it } from 'vitest';
import type { GrantConfig } from '../src/config.js';
import { createGrantToken, hashToken, indexGrants } from '../src/grants.js';
import { Backoff } from '../src/upstream/backoff.js';

describe('backoff', () => {
  it('doubles up to the maximum with jitter between half and all of each step', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect([low.next(), low.next(), low.next(), low.next(), low.next()]).toEqual([50, 100, 200, 400, 500]);
    const high = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect([high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([
      100, 200, 400, 800, 1000,
    ]);
    high.reset();
    expect(high.next()).toBe(100);
  });
});

describe('grant tokens', () => {
  it('creates random tokens and finds a grant by the hash of its token only', () => {
    const a = createGrantToken();
    const b = createGrantToken();
    expect(a.token).not.toBe(b.token);
    expect(a.tokenSha256).toBe(hashToken(a.token));
    const grants: GrantConfig[] = [
      { label: 'a', tokenSha256: a.tokenSha256, servers: new Set(), policies: new Map() },
      { label: 'b', tokenSha256: b.tokenSha256, servers: new Set(), policies: new Map() },
    ];
    const index = indexGrants(grants);
    expect(index.find(b.token)?.label).toBe('b');
    expect(index.find(b.tokenSha256)).toBeUndefined();
    expect(index.find(`${a.token}x`)).toBeUndefined();
  });
});
