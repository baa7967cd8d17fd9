/**
 * Who may use the console: the holder of an admin token (config `"admin": { "tokenSha256" }`, or
 * one per person in `"admin": { "accounts" }`), never a grant token. Each token names its admin,
 * who is then who decided in the audit rows. The JSON API takes it as `Authorization: Bearer`; a
 * person types it once into the login page and gets a cookie session:
 *   - the cookie is HttpOnly, SameSite=Strict, scoped to `/console`, Secure when the gateway is
 *     reached over https; it holds a random id, and the session lives in the shared store (so any
 *     replica serves it) for at most `SESSION_MS`, and only while its admin's token is still in the
 *     config (a token taken out of the config ends that person's sessions at once);
 *   - every form carries a CSRF token made from the session's own secret (@fastify/csrf: salted and
 *     HMAC'd, so a token from one page view is not the next one's), checked on every POST, on top of
 *     SameSite and the Host/Origin checks the gateway applies to every request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Tokens from '@fastify/csrf';
import { parseCookie, stringifySetCookie } from 'cookie';
import { z } from 'zod';
import type { AdminAccount } from '../oversight-config.js';
import type { RecordTable, StateStore } from '../store/store.js';

export const COOKIE = 'bastion_console';
export const SESSION_MS = 12 * 60 * 60_000;

const sessionSchema = z.object({
  csrfSecret: z.string(),
  createdAt: z.number(),
  /** The admin who signed in, and the digest of the token they signed in with. */
  admin: z.string(),
  tokenSha256: z.string(),
});

export interface ConsoleSession {
  id: string;
  csrfSecret: string;
  /** Who signed in (their account's name). */
  admin: string;
}

export class ConsoleAuth {
  private readonly accounts: ReadonlyArray<{ name: string; tokenSha256: string; digest: Buffer }>;
  private readonly sessions: RecordTable<unknown>;
  private readonly tokens = Tokens();

  constructor(
    accounts: ReadonlyArray<AdminAccount>,
    store: StateStore,
    private readonly secure: boolean,
  ) {
    this.accounts = accounts.map((a) => ({ ...a, digest: Buffer.from(a.tokenSha256, 'hex') }));
    this.sessions = store.table('console-sessions');
  }

  /**
   * The admin whose token `token` is, or undefined (digests compared in constant time, against
   * every account, so the time taken does not say which account came close).
   */
  adminFor(token: string | undefined): AdminAccount | undefined {
    if (token === undefined || token === '') return undefined;
    const got = createHash('sha256').update(token, 'utf8').digest();
    let found: AdminAccount | undefined;
    for (const account of this.accounts)
      if (got.length === account.digest.length && timingSafeEqual(got, account.digest)) found ??= account;
    return found === undefined ? undefined : { name: found.name, tokenSha256: found.tokenSha256 };
  }

  /** A new session for `admin`, who presented their token: its Set-Cookie header. */
  async login(admin: AdminAccount): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.sessions.put(
      id,
      {
        csrfSecret: this.tokens.secretSync(),
        createdAt: Date.now(),
        admin: admin.name,
        tokenSha256: admin.tokenSha256,
      },
      SESSION_MS,
    );
    return stringifySetCookie({
      name: COOKIE,
      value: id,
      httpOnly: true,
      sameSite: 'strict',
      path: '/console',
      secure: this.secure,
      maxAge: SESSION_MS / 1000,
    });
  }

  /** The session the request's cookie names, if it is still open and its admin still in the config. */
  async session(req: IncomingMessage): Promise<ConsoleSession | undefined> {
    const id = this.cookieOf(req);
    if (id === undefined) return undefined;
    const parsed = sessionSchema.safeParse(await this.sessions.get(id));
    if (!parsed.success) return undefined;
    const { csrfSecret, admin, tokenSha256 } = parsed.data;
    const current = this.accounts.some((a) => a.name === admin && a.tokenSha256 === tokenSha256);
    return current ? { id, csrfSecret, admin } : undefined;
  }

  /** Ends the session; the Set-Cookie header that clears the cookie. */
  async logout(req: IncomingMessage): Promise<string> {
    const id = this.cookieOf(req);
    if (id !== undefined) await this.sessions.delete(id);
    return stringifySetCookie({
      name: COOKIE,
      value: '',
      httpOnly: true,
      sameSite: 'strict',
      path: '/console',
      secure: this.secure,
      maxAge: 0,
    });
  }

  csrfToken(session: ConsoleSession): string {
    return this.tokens.create(session.csrfSecret);
  }

  checkCsrf(session: ConsoleSession, token: unknown): boolean {
    return typeof token === 'string' && token !== '' && this.tokens.verify(session.csrfSecret, token);
  }

  private cookieOf(req: IncomingMessage): string | undefined {
    const header = req.headers.cookie;
    if (header === undefined) return undefined;
    const value = parseCookie(header)[COOKIE];
    return value === undefined || value === '' ? undefined : value;
  }
}
