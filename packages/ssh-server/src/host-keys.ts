/**
 * Host-key verification. ssh2 accepts any host key unless `hostVerifier` is set (the defect of Mcp
 * Ssh), so every connection here goes through `HostKeyPolicy.forConnect(...).check`, and a key is
 * accepted only when it matches, in this order:
 *   1. the `hostFingerprint` the caller pinned (then nothing else is consulted);
 *   2. the `--known-hosts` file (OpenSSH format: plain, `[host]:port`, wildcards, hashed `|1|` names,
 *      `@revoked`); a host listed there with other keys is refused even under TOFU;
 *   3. trust on first use, when enabled: the first key seen for host:port is pinned for the server's
 *      lifetime and a different key later is refused.
 * A refusal names the offered fingerprint so that a person can check and pin it.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** `SHA256:` + unpadded base64 of the SHA-256 of the key blob: what `ssh-keygen -lf` prints. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** Canonical form of a pinned fingerprint (padding dropped), or undefined if malformed. */
export function normalizeFingerprint(value: string): string | undefined {
  const trimmed = value.trim();
  if (!FINGERPRINT_PATTERN.test(trimmed)) return undefined;
  return trimmed.replace(/=+$/, '');
}

/** The key type named inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, ...). */
export function keyTypeOf(keyBlob: Buffer): string | undefined {
  if (keyBlob.length < 4) return undefined;
  const len = keyBlob.readUInt32BE(0);
  if (len > 64 || keyBlob.length < 4 + len) return undefined;
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

/** Host-key algorithms that can present a key of this type (to ask the server for the pinned one). */
export function algorithmsForKeyType(type: string): string[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [type];
}

interface HostPattern {
  negated: boolean;
  regex: RegExp;
}

interface KnownHostEntry {
  marker: 'revoked' | undefined;
  /** Host patterns, compiled once when the file is read (empty for a hashed name). */
  patterns: HostPattern[];
  hashed: { salt: Buffer; hash: Buffer } | undefined;
  keyType: string;
  key: Buffer;
}

/** The name OpenSSH looks up for host:port: `host`, or `[host]:port` when the port is not 22. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

function compilePattern(raw: string): HostPattern {
  const negated = raw.startsWith('!');
  return { negated, regex: globToRegExp(negated ? raw.slice(1) : raw) };
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped.replace(/\[/g, '\\[').replace(/\]/g, '\\]')}$`, 'i');
}

function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hashed) {
    const digest = createHmac('sha1', entry.hashed.salt).update(name).digest();
    return digest.equals(entry.hashed.hash);
  }
  let matched = false;
  for (const { negated, regex } of entry.patterns) {
    if (regex.test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export class KnownHostsError extends Error {}

/** Parses an OpenSSH known_hosts text. Unparseable lines are reported, not silently skipped. */
export function parseKnownHosts(text: string, source = 'known_hosts'): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority')
        return; // CA-signed host certificates are not supported; ignored.
      else {
        problems.push(`${source}:${index + 1}: unknown marker ${m}`);
        return;
      }
    }
    const [hosts, keyType, keyB64] = fields;
    if (hosts === undefined || keyType === undefined || keyB64 === undefined) {
      problems.push(`${source}:${index + 1}: expected "hosts keytype key"`);
      return;
    }
    const key = Buffer.from(keyB64, 'base64');
    if (key.length === 0 || keyTypeOf(key) !== keyType) {
      problems.push(`${source}:${index + 1}: key does not decode as ${keyType}`);
      return;
    }
    let hashed: KnownHostEntry['hashed'];
    if (hosts.startsWith('|1|')) {
      const [salt, hash] = hosts.slice(3).split('|');
      if (salt === undefined || hash === undefined) {
        problems.push(`${source}:${index + 1}: malformed hashed host name`);
        return;
      }
      hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    }
    entries.push({
      marker,
      patterns: hashed ? [] : hosts.split(',').map(compilePattern),
      hashed,
      keyType,
      key,
    });
  });
  if (problems.length > 0) throw new KnownHostsError(`invalid known_hosts file:\n${problems.join('\n')}`);
  return entries;
}

export interface KnownHostsMatch {
  keys: Buffer[];
  /** The type of each of `keys`, in the same order. */
  keyTypes: string[];
  revoked: Buffer[];
}

export class KnownHosts {
  private constructor(
    private readonly entries: KnownHostEntry[],
    readonly source: string,
  ) {}

  static fromText(text: string, source = 'known_hosts'): KnownHosts {
    return new KnownHosts(parseKnownHosts(text, source), source);
  }

  static fromFile(path: string): KnownHosts {
    return KnownHosts.fromText(readFileSync(path, 'utf8'), path);
  }

  /** Keys listed for host:port (revoked ones separately). */
  lookup(host: string, port: number): KnownHostsMatch {
    const name = knownHostsName(host, port);
    const keys: Buffer[] = [];
    const keyTypes: string[] = [];
    const revoked: Buffer[] = [];
    for (const entry of this.entries) {
      if (entry.marker === 'revoked') {
        // A revoked key is refused whichever host presents it.
        revoked.push(entry.key);
        continue;
      }
      if (entryMatches(entry, name)) {
        keys.push(entry.key);
        keyTypes.push(entry.keyType);
      }
    }
    return { keys, keyTypes, revoked };
  }
}

export type TrustSource = 'pinned' | 'known_hosts' | 'trust_on_first_use';

export type HostKeyDecision =
  | { accepted: true; source: TrustSource; firstUse: boolean }
  | { accepted: false; reason: string };

export interface HostKeyPolicyOptions {
  knownHosts?: KnownHosts | undefined;
  trustOnFirstUse: boolean;
}

export interface HostKeyCheck {
  /** Key types to prefer, so the server presents the key on record (none when a fingerprint is pinned). */
  preferredKeyTypes: string[];
  check(key: Buffer): HostKeyDecision;
}

/**
 * Decides about host keys for the whole server: shared by every MCP session, so that a key pinned on
 * first use in one session binds all the others for the server's lifetime.
 */
export class HostKeyPolicy {
  private readonly firstUse = new Map<string, Buffer>();

  constructor(private readonly options: HostKeyPolicyOptions) {}

  /**
   * The host-key handling of one connect to host:port. known_hosts is looked up once (an HMAC per
   * hashed entry) and the result serves both the preferred key types and the check.
   */
  forConnect(host: string, port: number, pinnedFingerprint?: string): HostKeyCheck {
    if (pinnedFingerprint !== undefined) {
      return {
        preferredKeyTypes: [],
        check: (key) => this.decide(host, port, key, pinnedFingerprint, undefined),
      };
    }
    const known = this.options.knownHosts?.lookup(host, port);
    const types = new Set(known?.keyTypes);
    const tofu = this.firstUse.get(knownHostsName(host, port));
    const tofuType = tofu ? keyTypeOf(tofu) : undefined;
    if (tofuType) types.add(tofuType);
    return {
      preferredKeyTypes: [...types],
      check: (key) => this.decide(host, port, key, undefined, known),
    };
  }

  /** A one-off decision, outside a connect. */
  check(host: string, port: number, key: Buffer, pinnedFingerprint?: string): HostKeyDecision {
    return this.forConnect(host, port, pinnedFingerprint).check(key);
  }

  private decide(
    host: string,
    port: number,
    key: Buffer,
    pinnedFingerprint: string | undefined,
    known: KnownHostsMatch | undefined,
  ): HostKeyDecision {
    const offered = fingerprintOf(key);
    const hostName = `${host}:${port}`;
    if (pinnedFingerprint !== undefined) {
      if (offered === pinnedFingerprint) return { accepted: true, source: 'pinned', firstUse: false };
      return {
        accepted: false,
        reason: `host key of ${hostName} does not match the pinned hostFingerprint ${pinnedFingerprint}; the server offered ${offered}`,
      };
    }
    if (known?.revoked.some((k) => k.equals(key))) {
      return {
        accepted: false,
        reason: `host key ${offered} of ${hostName} is marked @revoked in known_hosts`,
      };
    }
    if (known && known.keys.length > 0) {
      if (known.keys.some((k) => k.equals(key)))
        return { accepted: true, source: 'known_hosts', firstUse: false };
      return {
        accepted: false,
        reason: `host key of ${hostName} does not match its known_hosts entries (${known.keys.map(fingerprintOf).join(', ')}); the server offered ${offered}. It may have changed, or someone may be intercepting the connection`,
      };
    }
    if (this.options.trustOnFirstUse) {
      const name = knownHostsName(host, port);
      const seen = this.firstUse.get(name);
      if (seen === undefined) {
        this.firstUse.set(name, Buffer.from(key));
        return { accepted: true, source: 'trust_on_first_use', firstUse: true };
      }
      if (seen.equals(key)) return { accepted: true, source: 'trust_on_first_use', firstUse: false };
      return {
        accepted: false,
        reason: `host key of ${hostName} changed since it was first trusted (${fingerprintOf(seen)}); the server offered ${offered}`,
      };
    }
    return {
      accepted: false,
      reason: `host key of ${hostName} is not trusted: the server offered ${offered}. Check it out of band, then pass it as hostFingerprint, add the host to the --known-hosts file, or start the server with --trust-on-first-use`,
    };
  }
}
