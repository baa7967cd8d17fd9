/**
 * OpenSSH known_hosts files (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): plain names, `[host]:port`,
 * wildcards and `!` negations, hashed `|1|salt|hash` names, and the `@revoked` and
 * `@cert-authority` markers. Lines that do not parse are reported, never silently skipped.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The key type named inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, ...). */
export function keyTypeOf(keyBlob: Buffer): string | undefined {
  if (keyBlob.length < 4) return undefined;
  const len = keyBlob.readUInt32BE(0);
  if (len > 64 || keyBlob.length < 4 + len) return undefined;
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

interface HostPattern {
  negated: boolean;
  regex: RegExp;
}

interface KnownHostEntry {
  marker: 'revoked' | 'cert-authority' | undefined;
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

const MARKERS: Record<string, KnownHostEntry['marker']> = {
  '@revoked': 'revoked',
  '@cert-authority': 'cert-authority',
};

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
      const m = fields.shift() ?? '';
      marker = MARKERS[m];
      if (marker === undefined) {
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
  /** Keys of `@cert-authority` lines whose patterns match the host: CAs trusted to sign its host certificates. */
  certAuthorities: Buffer[];
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

  /** Keys listed for host:port (revoked ones and certificate authorities separately). */
  lookup(host: string, port: number): KnownHostsMatch {
    const name = knownHostsName(host, port);
    const match: KnownHostsMatch = { keys: [], keyTypes: [], revoked: [], certAuthorities: [] };
    for (const entry of this.entries) {
      if (entry.marker === 'revoked') {
        // A revoked key is refused whichever host presents it.
        match.revoked.push(entry.key);
      } else if (entryMatches(entry, name)) {
        if (entry.marker === 'cert-authority') match.certAuthorities.push(entry.key);
        else {
          match.keys.push(entry.key);
          match.keyTypes.push(entry.keyType);
        }
      }
    }
    return match;
  }
}
