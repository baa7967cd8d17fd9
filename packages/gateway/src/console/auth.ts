/**
 * Who may use the console: the holder of the admin token (config `"admin": { "tokenSha256" }`),
 * never a grant token. The JSON API takes it as `Authorization: Bearer`; a person types it once
 * into the login page and gets a cookie session:
 *   - the cookie is HttpOnly, SameSite=Strict, scoped to `/console`, Secure when the gateway is
 *     reached over https; it holds a random id, and the session lives in the shared store (so any
 *     replica serves it) for at most `SESSION_MS`;
 *   - every form carries a CSRF token made from the session's own secret (@fastify/csrf: salted and
 *     HMAC'd, so a token from one page view is not the next one's), checked on every POST, on top of
 *     SameSite and the Host/Origin checks the gateway applies to every request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Tokens from '@fastify/csrf';
import { parseCookie, stringifySetCookie } from 'cookie';
import { z } from 'zod';
import type { RecordTable, StateStore } from '../store/store.js';

export const COOKIE = 'bastion_console';
export const SESSION_MS = 12 * 60 * 60_000;

const sessionSchema = z.object({ csrfSecret: z.string(), createdAt: z.number() });

export interface ConsoleSession {
  id: string;
  csrfSecret: string;
}

export class ConsoleAuth {
  private readonly want: Buffer;
  private readonly sessions: RecordTable<unknown>;
  private readonly tokens = Tokens();

  constructor(
    tokenSha256: string,
    store: StateStore,
    private readonly secure: boolean,
  ) {
    this.want = Buffer.from(tokenSha256, 'hex');
    this.sessions = store.table('console-sessions');
  }

  /** Whether `token` is the admin token (compared as SHA-256 digests, in constant time). */
  isAdminToken(token: string | undefined): boolean {
    if (token === undefined || token === '') return false;
    const got = createHash('sha256').update(token, 'utf8').digest();
    return got.length === this.want.length && timingSafeEqual(got, this.want);
  }

  /** A new session for someone who presented the admin token: its Set-Cookie header. */
  async login(): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.sessions.put(id, { csrfSecret: this.tokens.secretSync(), createdAt: Date.now() }, SESSION_MS);
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

  /** The session the request's cookie names, if it is still open. */
  async session(req: IncomingMessage): Promise<ConsoleSession | undefined> {
    const id = this.cookieOf(req);
    if (id === undefined) return undefined;
    const parsed = sessionSchema.safeParse(await this.sessions.get(id));
    return parsed.success ? { id, csrfSecret: parsed.data.csrfSecret } : undefined;
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
