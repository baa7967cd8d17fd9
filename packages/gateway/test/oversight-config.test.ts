import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { ConsoleAuth } from '../src/console/auth.js';
import { createAdminToken, createGrantToken } from '../src/grants.js';
import { PolicyLoadError } from '../src/policy/problems.js';
import { MemoryStateStore } from '../src/store/memory-store.js';

const SERVERS = { up: { transport: 'http', url: 'http://127.0.0.1:1/mcp' } };

function resolved(admin: unknown, grants: Record<string, unknown> = {}) {
  return resolveConfig({ servers: SERVERS, grants, admin }, { baseDir: '/tmp' });
}

function problemsOf(admin: unknown, grants: Record<string, unknown> = {}) {
  try {
    resolved(admin, grants);
  } catch (err) {
    if (err instanceof PolicyLoadError) return err.problems.map((p) => p.pointer);
    throw err;
  }
  throw new Error('expected problems');
}

const ann = createAdminToken();
const bob = createAdminToken();

describe('the admin entry', () => {
  it('is one admin (named "admin" unless given a name) or several accounts', () => {
    expect(resolved({ tokenSha256: ann.tokenSha256 }).admin).toEqual({
      accounts: [{ name: 'admin', tokenSha256: ann.tokenSha256 }],
    });
    expect(resolved({ tokenSha256: ann.tokenSha256, name: 'ops', url: 'https://gw.example/' }).admin).toEqual(
      {
        accounts: [{ name: 'ops', tokenSha256: ann.tokenSha256 }],
        url: 'https://gw.example',
      },
    );
    const accounts = [
      { name: 'ann', tokenSha256: ann.tokenSha256 },
      { name: 'bob', tokenSha256: bob.tokenSha256 },
    ];
    expect(resolved({ accounts }).admin).toEqual({ accounts });
  });

  it('refuses neither or both forms, shared names or tokens, and a grant token', () => {
    expect(problemsOf({})).toEqual(['/admin']);
    expect(
      problemsOf({ tokenSha256: ann.tokenSha256, accounts: [{ name: 'a', tokenSha256: bob.tokenSha256 }] }),
    ).toEqual(['/admin']);
    expect(
      problemsOf({
        accounts: [
          { name: 'ann', tokenSha256: ann.tokenSha256 },
          { name: 'ann', tokenSha256: bob.tokenSha256 },
          { name: 'cy', tokenSha256: ann.tokenSha256 },
        ],
      }),
    ).toEqual(['/admin/accounts/1/name', '/admin/accounts/2/tokenSha256']);
    const grant = createGrantToken();
    expect(
      problemsOf(
        { tokenSha256: grant.tokenSha256 },
        { ci: { tokenSha256: grant.tokenSha256, servers: ['up'] } },
      ),
    ).toEqual(['/admin/tokenSha256']);
    expect(problemsOf({ accounts: [] })).toEqual(['/admin/accounts']);
  });
});

/** A request carrying the cookie of a Set-Cookie header. */
const withCookie = (setCookie: string) =>
  ({ headers: { cookie: setCookie.split(';')[0] } }) as unknown as IncomingMessage;

describe('console sign-in with several admins', () => {
  it("knows each admin by their token, and ends a session once its admin's token leaves the config", async () => {
    const store = new MemoryStateStore();
    const accounts = [
      { name: 'ann', tokenSha256: ann.tokenSha256 },
      { name: 'bob', tokenSha256: bob.tokenSha256 },
    ];
    const auth = new ConsoleAuth(accounts, store, false);
    expect(auth.adminFor(ann.token)?.name).toBe('ann');
    expect(auth.adminFor(bob.token)?.name).toBe('bob');
    expect(auth.adminFor(createAdminToken().token)).toBeUndefined();
    expect(auth.adminFor('')).toBeUndefined();

    const annCookie = await auth.login({ name: 'ann', tokenSha256: ann.tokenSha256 });
    const bobCookie = await auth.login({ name: 'bob', tokenSha256: bob.tokenSha256 });
    expect((await auth.session(withCookie(annCookie)))?.admin).toBe('ann');
    expect((await auth.session(withCookie(bobCookie)))?.admin).toBe('bob');

    // The same store (another replica, or after a restart) with bob's account taken out.
    const after = new ConsoleAuth([accounts[0] as (typeof accounts)[0]], store, false);
    expect((await after.session(withCookie(annCookie)))?.admin).toBe('ann');
    expect(await after.session(withCookie(bobCookie))).toBeUndefined();
    // And with ann's token replaced by a new one under the same name.
    const replaced = new ConsoleAuth(
      [{ name: 'ann', tokenSha256: createAdminToken().tokenSha256 }],
      store,
      false,
    );
    expect(await replaced.session(withCookie(annCookie))).toBeUndefined();
    await store.close();
  });
});
