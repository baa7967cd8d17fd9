/**
 * Host-key verification. ssh2 accepts any host key unless `hostVerifier` is set (the defect of Mcp
 * Ssh), so every connection here, and every jump host on the way, goes through
 * `HostKeyPolicy.forConnect(...).check`, and a key is accepted only when it matches, in this order:
 *   0. a key marked `@revoked` in known_hosts is refused whatever else says;
 *   1. the `hostFingerprint` the caller pinned; but a pin that contradicts the keys on record for the
 *      host (known_hosts, or the key trusted on first use for this endpoint) is refused unless the
 *      operator allowed overrides (`--allow-fingerprint-override`): the pin comes from the agent, the
 *      record from the operator, and an agent talked into a wrong pin must not bypass the record;
 *   2. the `--known-hosts` file (known-hosts.ts); a host listed there with other keys is refused even
 *      under TOFU, and so is one trusted there only through `@cert-authority` (see below);
 *   3. trust on first use, when enabled: the first key seen at an endpoint (endpoint.ts: the address
 *      reached, not the spelling of the name) is pinned for the server's lifetime and a different key
 *      later is refused.
 * A refusal names the offered fingerprint so that a person can check and pin it.
 *
 * Host certificates (`@cert-authority` lines): only when known_hosts has a CA for the host are the
 * `*-cert-v01@openssh.com` host-key algorithms asked for (first, as OpenSSH does), and a certificate
 * the server then shows is accepted only when it vouches for the host (certificates.ts:
 * hostCertificateProblem); it never falls back to TOFU. ssh2 1.17 could not negotiate them at all;
 * the patch in patches/ (pnpm-workspace.yaml) adds the algorithms and checks the key exchange's
 * signature with the certified key. A host trusted only through a CA that shows no certificate is
 * refused with that reason.
 */
import { createHash } from 'node:crypto';
import {
  CertificateError,
  describeCertificate,
  hostCertificateProblem,
  isCertificateBlob,
  parseCertificate,
} from './certificates.js';
import { endpointName } from './endpoint.js';
import { type KnownHosts, type KnownHostsMatch, keyTypeOf } from './known-hosts.js';

export {
  KnownHosts,
  KnownHostsError,
  type KnownHostsMatch,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
} from './known-hosts.js';

/**
 * `SHA256:` + unpadded base64 of the SHA-256 of the key blob: what `ssh-keygen -lf` prints. A
 * certificate is fingerprinted by the key it certifies, as OpenSSH does (sshkey_fingerprint).
 */
export function fingerprintOf(keyBlob: Buffer): string {
  let blob = keyBlob;
  if (isCertificateBlob(keyBlob)) {
    try {
      blob = parseCertificate(keyBlob).publicKey;
    } catch {
      // A malformed certificate is refused by the check; its blob still needs a name in messages.
    }
  }
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** Canonical form of a pinned fingerprint (padding dropped), or undefined if malformed. */
export function normalizeFingerprint(value: string): string | undefined {
  const trimmed = value.trim();
  if (!FINGERPRINT_PATTERN.test(trimmed)) return undefined;
  return trimmed.replace(/=+$/, '');
}

/** Host-key algorithms that can present a key of this type (to ask the server for the pinned one). */
export function algorithmsForKeyType(type: string): string[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  if (type === RSA_CERT) return ['rsa-sha2-512-cert-v01@openssh.com', 'rsa-sha2-256-cert-v01@openssh.com'];
  return [type];
}

const RSA_CERT = 'ssh-rsa-cert-v01@openssh.com';

/** Host certificate types asked for, first, when known_hosts has a CA for the host (OpenSSH's order). */
const CERTIFICATE_KEY_TYPES = [
  'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  RSA_CERT,
];

export type TrustSource = 'pinned' | 'known_hosts' | 'trust_on_first_use';

export type HostKeyDecision =
  | {
      accepted: true;
      source: TrustSource;
      firstUse: boolean;
      /** The pin was accepted against this record, because the operator allows overrides. */
      overrode?: 'known_hosts' | 'trust_on_first_use';
      /** The host certificate that vouched for the key (known_hosts' @cert-authority), in words. */
      certificate?: string;
    }
  | { accepted: false; reason: string };

export interface HostKeyPolicyOptions {
  knownHosts?: KnownHosts | undefined;
  trustOnFirstUse: boolean;
  /** Let a `hostFingerprint` win over known_hosts or a TOFU pin listing other keys (off: refused). */
  allowFingerprintOverride?: boolean | undefined;
}

export interface HostKeyCheck {
  /** Key types to prefer, so the server presents the key on record (none when a fingerprint is pinned). */
  preferredKeyTypes: string[];
  check(key: Buffer): HostKeyDecision;
}

interface ConnectFacts {
  /** The host as the caller wrote it: what a host certificate's principals must name. */
  host: string;
  /** `host:port` as the caller wrote it, for messages. */
  hostName: string;
  endpoint: string;
  pinned: string | undefined;
  known: KnownHostsMatch | undefined;
}

/**
 * Decides about host keys for the whole server: shared by every MCP session, so that a key pinned on
 * first use in one session binds all the others for the server's lifetime.
 */
export class HostKeyPolicy {
  /** Keys trusted on first use, by endpoint. */
  private readonly firstUse = new Map<string, Buffer>();

  constructor(private readonly options: HostKeyPolicyOptions) {}

  /**
   * The host-key handling of one connect to host:port. known_hosts is looked up once (an HMAC per
   * hashed entry) and the result serves both the preferred key types and the check. `endpoint` is
   * where the connection really goes (endpoint.ts); without it, host:port as written.
   */
  forConnect(host: string, port: number, pinnedFingerprint?: string, endpoint?: string): HostKeyCheck {
    const facts: ConnectFacts = {
      host,
      hostName: `${host}:${port}`,
      endpoint: endpoint ?? endpointName(host, port),
      pinned: pinnedFingerprint,
      // Looked up with a pin too: a revoked key and a contradicted record still count.
      known: this.options.knownHosts?.lookup(host, port),
    };
    if (pinnedFingerprint !== undefined) {
      return { preferredKeyTypes: [], check: (key) => this.decide(key, facts) };
    }
    const types = new Set(facts.known?.certAuthorities.length ? CERTIFICATE_KEY_TYPES : []);
    for (const type of facts.known?.keyTypes ?? []) types.add(type);
    const tofu = this.firstUse.get(facts.endpoint);
    const tofuType = tofu ? keyTypeOf(tofu) : undefined;
    if (tofuType) types.add(tofuType);
    return { preferredKeyTypes: [...types], check: (key) => this.decide(key, facts) };
  }

  /** A one-off decision, outside a connect. */
  check(
    host: string,
    port: number,
    key: Buffer,
    pinnedFingerprint?: string,
    endpoint?: string,
  ): HostKeyDecision {
    return this.forConnect(host, port, pinnedFingerprint, endpoint).check(key);
  }

  private decide(key: Buffer, facts: ConnectFacts): HostKeyDecision {
    const { hostName, known } = facts;
    const offered = fingerprintOf(key);
    if (known?.revoked.some((k) => k.equals(key))) {
      return {
        accepted: false,
        reason: `host key ${offered} of ${hostName} is marked @revoked in known_hosts`,
      };
    }
    if (facts.pinned !== undefined) return this.decidePinned(offered, facts);
    if (isCertificateBlob(key)) return this.decideCertificate(key, offered, facts);
    if (known && known.keys.length > 0) {
      if (known.keys.some((k) => k.equals(key)))
        return { accepted: true, source: 'known_hosts', firstUse: false };
      return {
        accepted: false,
        reason: `host key of ${hostName} does not match its known_hosts entries (${known.keys.map(fingerprintOf).join(', ')}); the server offered ${offered}. It may have changed, or someone may be intercepting the connection`,
      };
    }
    if (known && known.certAuthorities.length > 0) {
      return {
        accepted: false,
        reason: `${hostName} is trusted in known_hosts only through @cert-authority (${known.certAuthorities.map(fingerprintOf).join(', ')}), but it showed no host certificate, only its plain key ${offered}. Give the host a certificate (sshd HostCertificate), or add that key to known_hosts or pin it with hostFingerprint once it is checked`,
      };
    }
    if (this.options.trustOnFirstUse) {
      const seen = this.firstUse.get(facts.endpoint);
      if (seen === undefined) {
        this.firstUse.set(facts.endpoint, Buffer.from(key));
        return { accepted: true, source: 'trust_on_first_use', firstUse: true };
      }
      if (seen.equals(key)) return { accepted: true, source: 'trust_on_first_use', firstUse: false };
      return {
        accepted: false,
        reason: `host key of ${hostName} (endpoint ${facts.endpoint}) changed since it was first trusted (${fingerprintOf(seen)}); the server offered ${offered}`,
      };
    }
    return {
      accepted: false,
      reason: `host key of ${hostName} is not trusted: the server offered ${offered}. Check it out of band, then pass it as hostFingerprint, add the host to the --known-hosts file, or start the server with --trust-on-first-use`,
    };
  }

  /** A host certificate, asked for because known_hosts has a CA for the host: it passes or is refused. */
  private decideCertificate(key: Buffer, offered: string, facts: ConnectFacts): HostKeyDecision {
    const { hostName, known } = facts;
    const refuse = (why: string): HostKeyDecision => ({
      accepted: false,
      reason: `host certificate of ${hostName} (key ${offered}) ${why}`,
    });
    try {
      const cert = parseCertificate(key);
      // @revoked may name the certified key or the CA, as in OpenSSH.
      const revoked = known?.revoked.find((k) => k.equals(cert.publicKey) || k.equals(cert.signatureKey));
      if (revoked !== undefined)
        return refuse(`involves ${fingerprintOf(revoked)}, marked @revoked in known_hosts`);
      const problem = hostCertificateProblem(cert, facts.host, known?.certAuthorities ?? [], Date.now());
      if (problem !== undefined) return refuse(problem);
      const ca = fingerprintOf(cert.signatureKey);
      return {
        accepted: true,
        source: 'known_hosts',
        firstUse: false,
        certificate: `${describeCertificate(cert)} signed by @cert-authority ${ca}`,
      };
    } catch (err) {
      if (err instanceof CertificateError) return refuse(err.message);
      throw err;
    }
  }

  private decidePinned(offered: string, facts: ConnectFacts): HostKeyDecision {
    const { hostName, pinned } = facts;
    if (offered !== pinned) {
      return {
        accepted: false,
        reason: `host key of ${hostName} does not match the pinned hostFingerprint ${pinned}; the server offered ${offered}`,
      };
    }
    // The record the pin would override: known_hosts first, else a key trusted on first use here.
    const knownKeys = facts.known?.keys.map(fingerprintOf) ?? [];
    const tofu = this.firstUse.get(facts.endpoint);
    const record =
      knownKeys.length > 0
        ? { kind: 'known_hosts' as const, keys: knownKeys, what: 'its known_hosts entries' }
        : tofu !== undefined
          ? {
              kind: 'trust_on_first_use' as const,
              keys: [fingerprintOf(tofu)],
              what: `the key trusted on first use at ${facts.endpoint}`,
            }
          : undefined;
    if (record === undefined || record.keys.includes(pinned)) {
      return { accepted: true, source: 'pinned', firstUse: false };
    }
    if (this.options.allowFingerprintOverride === true) {
      return { accepted: true, source: 'pinned', firstUse: false, overrode: record.kind };
    }
    return {
      accepted: false,
      reason: `the pinned hostFingerprint ${pinned} of ${hostName} contradicts ${record.what} (${record.keys.join(', ')}); the server offered ${offered}. A pin may not override the server's records unless the operator starts it with --allow-fingerprint-override`,
    };
  }
}
