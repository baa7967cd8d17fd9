/**
 * Every grant the gateway honours: those of the config file, and those made in the console, less
 * those revoked in the console. Console grants and revocations live in the shared store (tables
 * `grants` and `grant-revocations`), so every replica honours the same; each process keeps a copy
 * to look tokens up synchronously on every request, read again every `pollMs` (and at once after
 * a change made here). A revoked config grant stays revoked until its entry is removed from the file
 * (and the revocation in the console lifted by making a new grant).
 *
 * Tokens are looked up by their SHA-256, as grants.ts explains.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { GrantConfig } from './config.js';
import { createGrantToken, hashToken } from './grants.js';
import type { RecordTable, StateStore } from './store/store.js';

const storedGrantSchema = z.object({
  tokenSha256: z.string().regex(/^[0-9a-f]{64}$/),
  servers: z.array(z.string()),
  createdAt: z.string(),
  createdBy: z.string(),
});
const revocationSchema = z.object({ revokedAt: z.string(), revokedBy: z.string() });

export interface GrantListing {
  label: string;
  servers: string[];
  source: 'config' | 'console';
  createdAt?: string;
  createdBy?: string;
  revokedAt?: string;
  revokedBy?: string;
}

export const GRANT_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class GrantBookError extends Error {
  override readonly name = 'GrantBookError';
}

export class GrantBook {
  private readonly stored: RecordTable<unknown>;
  private readonly revocations: RecordTable<unknown>;
  private byDigest = new Map<string, GrantConfig>();
  private byLabel = new Map<string, GrantConfig>();
  private listing: GrantListing[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly configured: ReadonlyMap<string, GrantConfig>,
    store: StateStore,
    private readonly servers: ReadonlySet<string>,
    private readonly logger: Logger,
    private readonly pollMs = 2_000,
  ) {
    this.stored = store.table('grants');
    this.revocations = store.table('grant-revocations');
    this.index(new Map(), new Map());
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.logger.warn({ err }, 'could not read the grants'));
    }, this.pollMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** The grant a bearer token belongs to, if it is honoured. */
  find(token: string): GrantConfig | undefined {
    return this.byDigest.get(hashToken(token));
  }

  get(label: string): GrantConfig | undefined {
    return this.byLabel.get(label);
  }

  list(): GrantListing[] {
    return this.listing;
  }

  /** A new grant: its token is returned once, and only its SHA-256 kept. */
  async create(
    label: string,
    servers: ReadonlyArray<string>,
    by: string,
  ): Promise<{ token: string; grant: GrantListing }> {
    if (!GRANT_LABEL.test(label))
      throw new GrantBookError('a label is 1 to 64 letters, digits, ".", "_" or "-"');
    if (label === 'anonymous' || label === 'local')
      throw new GrantBookError(`the label '${label}' is reserved`);
    if (servers.length === 0) throw new GrantBookError('a grant reaches at least one server');
    const unknown = servers.find((s) => !this.servers.has(s));
    if (unknown !== undefined) throw new GrantBookError(`no server named '${unknown}'`);
    await this.refresh();
    if (this.listing.some((g) => g.label === label))
      throw new GrantBookError(
        `a grant named '${label}' exists (or did: labels of revoked grants are not reused)`,
      );
    const { token, tokenSha256 } = createGrantToken();
    const record = {
      tokenSha256,
      servers: [...new Set(servers)],
      createdAt: new Date().toISOString(),
      createdBy: by,
    };
    await this.stored.put(label, record);
    await this.refresh();
    return {
      token,
      grant: {
        label,
        servers: record.servers,
        source: 'console',
        createdAt: record.createdAt,
        createdBy: by,
      },
    };
  }

  async revoke(label: string, by: string): Promise<GrantListing> {
    await this.refresh();
    const found = this.listing.find((g) => g.label === label);
    if (found === undefined) throw new GrantBookError(`no grant named '${label}'`);
    if (found.revokedAt !== undefined) return found;
    await this.revocations.put(label, { revokedAt: new Date().toISOString(), revokedBy: by });
    await this.refresh();
    return this.listing.find((g) => g.label === label) ?? found;
  }

  /** Reads console grants and revocations from the store, and rebuilds the lookups. */
  async refresh(): Promise<void> {
    const stored = new Map<string, z.infer<typeof storedGrantSchema>>();
    for (const label of await this.stored.keys()) {
      const parsed = storedGrantSchema.safeParse(await this.stored.get(label));
      if (parsed.success && !this.configured.has(label)) stored.set(label, parsed.data);
    }
    const revoked = new Map<string, z.infer<typeof revocationSchema>>();
    for (const label of await this.revocations.keys()) {
      const parsed = revocationSchema.safeParse(await this.revocations.get(label));
      if (parsed.success) revoked.set(label, parsed.data);
    }
    this.index(stored, revoked);
  }

  private index(
    stored: ReadonlyMap<string, z.infer<typeof storedGrantSchema>>,
    revoked: ReadonlyMap<string, z.infer<typeof revocationSchema>>,
  ): void {
    const byDigest = new Map<string, GrantConfig>();
    const byLabel = new Map<string, GrantConfig>();
    const listing: GrantListing[] = [];
    const add = (grant: GrantConfig, entry: GrantListing) => {
      const revocation = revoked.get(grant.label);
      listing.push(revocation === undefined ? entry : { ...entry, ...revocation });
      if (revocation !== undefined) return;
      byDigest.set(grant.tokenSha256.toLowerCase(), grant);
      byLabel.set(grant.label, grant);
    };
    for (const grant of this.configured.values())
      add(grant, { label: grant.label, servers: [...grant.servers], source: 'config' });
    for (const [label, record] of stored) {
      const grant: GrantConfig = {
        label,
        tokenSha256: record.tokenSha256,
        servers: new Set(record.servers.filter((s) => this.servers.has(s))),
        policies: new Map(),
      };
      add(grant, {
        label,
        servers: record.servers,
        source: 'console',
        createdAt: record.createdAt,
        createdBy: record.createdBy,
      });
    }
    this.byDigest = byDigest;
    this.byLabel = byLabel;
    this.listing = listing.sort((a, b) => a.label.localeCompare(b.label));
  }
}
