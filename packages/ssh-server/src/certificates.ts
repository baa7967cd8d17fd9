/**
 * OpenSSH certificates (PROTOCOL.certkeys in openssh-portable): reading one, checking it, and pairing
 * a user certificate with the private key it certifies so that ssh2 logs in with it.
 *
 * A certificate blob is, in SSH wire encoding (RFC 4251 5):
 *   string type (`ssh-ed25519-cert-v01@openssh.com`...), string nonce, <the key's fields>,
 *   uint64 serial, uint32 type (1 user, 2 host), string key id, string valid principals,
 *   uint64 valid after, uint64 valid before, string critical options, string extensions,
 *   string reserved, string signature key (the CA's public key), string signature
 * and the signature covers every byte before its own field.
 *
 * Logging in with one needs the ssh2 patch in patches/ (see pnpm-workspace.yaml): ssh2 1.17 signs a
 * certificate login with the certificate's name in the signature blob, which sshd refuses.
 */
import { createPublicKey, verify } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';

const CERT_SUFFIX = '-cert-v01@openssh.com';

/** How many of the key's string fields follow the nonce, by the certified key's type. */
const KEY_FIELDS: Readonly<Record<string, number>> = {
  'ssh-rsa': 2,
  'ssh-dss': 4,
  'ssh-ed25519': 1,
  'ecdsa-sha2-nistp256': 2,
  'ecdsa-sha2-nistp384': 2,
  'ecdsa-sha2-nistp521': 2,
};

export interface OpenSshCertificate {
  /** e.g. `ssh-ed25519-cert-v01@openssh.com`. */
  type: string;
  /** The certified key's type, e.g. `ssh-ed25519`. */
  keyType: string;
  /** The certified key as a plain public-key blob (what the key alone would be). */
  publicKey: Buffer;
  serial: bigint;
  kind: 'user' | 'host';
  keyId: string;
  /** Empty means valid for any principal. */
  principals: string[];
  /** Seconds since the epoch; validBefore 2^64-1 means forever. */
  validAfter: bigint;
  validBefore: bigint;
  /** The packed critical options; none are defined for host certificates. */
  criticalOptions: Buffer;
  /** The CA's public-key blob. */
  signatureKey: Buffer;
  /** The CA's signature blob (string algorithm, string signature). */
  signature: Buffer;
  /** The bytes the signature covers. */
  signed: Buffer;
  /** The whole certificate blob. */
  blob: Buffer;
}

export class CertificateError extends Error {}

/** A cursor over SSH wire encoding that throws CertificateError past the end. */
class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CertificateError('the certificate is truncated');
  }
  bytes(): Buffer {
    this.need(4);
    const len = this.buf.readUInt32BE(this.pos);
    this.need(4 + len);
    const out = this.buf.subarray(this.pos + 4, this.pos + 4 + len);
    this.pos += 4 + len;
    return out;
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  uint64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  get done(): boolean {
    return this.pos === this.buf.length;
  }
}

function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** Parses a certificate blob; throws CertificateError saying what is wrong. */
export function parseCertificate(blob: Buffer): OpenSshCertificate {
  const r = new Reader(blob);
  const type = r.text();
  if (!type.endsWith(CERT_SUFFIX))
    throw new CertificateError(`${type || 'the blob'} is not an OpenSSH certificate`);
  const keyType = type.slice(0, -CERT_SUFFIX.length);
  const fields = KEY_FIELDS[keyType];
  if (fields === undefined) throw new CertificateError(`unsupported certificate type ${type}`);
  r.bytes(); // nonce
  const keyStart = r.pos;
  for (let i = 0; i < fields; i++) r.bytes();
  const publicKey = Buffer.concat([sshString(keyType), blob.subarray(keyStart, r.pos)]);
  const serial = r.uint64();
  const kindCode = r.uint32();
  if (kindCode !== 1 && kindCode !== 2) throw new CertificateError(`unknown certificate type ${kindCode}`);
  const keyId = r.text();
  const principalList = new Reader(r.bytes());
  const principals: string[] = [];
  while (!principalList.done) principals.push(principalList.text());
  const validAfter = r.uint64();
  const validBefore = r.uint64();
  const criticalOptions = r.bytes();
  r.bytes(); // extensions
  r.bytes(); // reserved
  const signatureKey = r.bytes();
  const signed = blob.subarray(0, r.pos);
  const signature = r.bytes();
  if (!r.done) throw new CertificateError('the certificate has trailing bytes');
  return {
    type,
    keyType,
    publicKey,
    serial,
    kind: kindCode === 1 ? 'user' : 'host',
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    signatureKey,
    signature,
    signed,
    blob,
  };
}

/** Parses a certificate line as ssh-keygen writes it (`<type> <base64> [comment]`, id_*-cert.pub). */
export function parseCertificateLine(text: string): OpenSshCertificate {
  const [type, b64] = text.trim().split(/\s+/);
  if (type === undefined || b64 === undefined || !/^[A-Za-z0-9+/]+=*$/.test(b64)) {
    throw new CertificateError(
      'expected the text of an OpenSSH certificate file: "<type>-cert-v01@openssh.com <base64>"',
    );
  }
  const cert = parseCertificate(Buffer.from(b64, 'base64'));
  if (cert.type !== type)
    throw new CertificateError(`the line says ${type} but the certificate is ${cert.type}`);
  return cert;
}

const FOREVER = 0xffff_ffff_ffff_ffffn;

function isoOf(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString();
}

/** The validity window in words, for messages. */
export function describeValidity(cert: OpenSshCertificate): string {
  if (cert.validAfter === 0n && cert.validBefore === FOREVER) return 'valid forever';
  const to = cert.validBefore === FOREVER ? 'forever' : isoOf(cert.validBefore);
  return `valid from ${isoOf(cert.validAfter)} to ${to}`;
}

/** Why the certificate is outside its validity window at `now` (ms since the epoch), or undefined. */
export function validityProblem(cert: OpenSshCertificate, now: number): string | undefined {
  const seconds = BigInt(Math.floor(now / 1000));
  if (seconds < cert.validAfter) return `is not yet valid (${describeValidity(cert)})`;
  if (seconds >= cert.validBefore) return `has expired (${describeValidity(cert)})`;
  return undefined;
}

/**
 * Checks a user certificate against the private key it is given with, and returns the key ssh2 logs
 * in with: the private key's signing, the certificate's name and blob. What only the server can
 * judge (its trusted CAs, the principals it maps to the user) is left to it.
 */
export function certifiedKey(privateKey: ParsedKey, certificateText: string, now: number): ParsedKey {
  const cert = parseCertificateLine(certificateText);
  if (cert.kind !== 'user')
    throw new CertificateError('is a host certificate; a login needs a user certificate');
  if (!cert.publicKey.equals(privateKey.getPublicSSH())) {
    throw new CertificateError(
      `certifies another key than privateKey (a ${cert.keyType} key; privateKey is ${privateKey.type})`,
    );
  }
  const problem = validityProblem(cert, now);
  if (problem !== undefined) throw new CertificateError(problem);
  // ssh2 (patched) takes a parsed key as privateKey; this one signs with the private key's PEM, which
  // it inherits, and shows the certificate in place of the plain public key.
  return Object.create(privateKey, {
    type: { value: cert.type, enumerable: true },
    getPublicSSH: { value: () => cert.blob },
  }) as ParsedKey;
}

/** The first key of a private-key text (OpenSSH's format holds one), or the parser's complaint. */
export function parsePrivateKey(text: string, passphrase: string | undefined): ParsedKey | Error {
  const parsed = ssh2.utils.parseKey(text, passphrase);
  if (parsed instanceof Error) return parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return key ?? new Error('no key in privateKey');
}

/** A short description of a certificate for messages: its id, serial and principals. */
export function describeCertificate(cert: OpenSshCertificate): string {
  const who = cert.principals.length === 0 ? 'any principal' : `principals ${cert.principals.join(', ')}`;
  return `certificate "${cert.keyId}" (serial ${cert.serial}, ${who}, ${describeValidity(cert)})`;
}

/** Whether a key blob is an OpenSSH certificate (by the type it names). */
export function isCertificateBlob(blob: Buffer): boolean {
  if (blob.length < 4) return false;
  const len = blob.readUInt32BE(0);
  return len <= 64 && blob.length >= 4 + len && blob.toString('latin1', 4, 4 + len).endsWith(CERT_SUFFIX);
}

/** Signature algorithms a CA may sign with: the hash each uses, and the CA key type it needs. */
const CA_SIGNATURES: Readonly<Record<string, { hash: string | null; keyType: string }>> = {
  'ssh-ed25519': { hash: null, keyType: 'ssh-ed25519' },
  'ecdsa-sha2-nistp256': { hash: 'sha256', keyType: 'ecdsa-sha2-nistp256' },
  'ecdsa-sha2-nistp384': { hash: 'sha384', keyType: 'ecdsa-sha2-nistp384' },
  'ecdsa-sha2-nistp521': { hash: 'sha512', keyType: 'ecdsa-sha2-nistp521' },
  // Not `ssh-rsa` (SHA-1): OpenSSH's CASignatureAlgorithms has refused it since 8.2.
  'rsa-sha2-256': { hash: 'sha256', keyType: 'ssh-rsa' },
  'rsa-sha2-512': { hash: 'sha512', keyType: 'ssh-rsa' },
};

const ECDSA_FIELD_BYTES: Readonly<Record<string, number>> = {
  'ecdsa-sha2-nistp256': 32,
  'ecdsa-sha2-nistp384': 48,
  'ecdsa-sha2-nistp521': 66,
};

/** An SSH mpint as a fixed-size unsigned big-endian integer (IEEE P1363 halves of an ECDSA signature). */
function fixedWidth(mpint: Buffer, width: number): Buffer {
  let start = 0;
  while (start < mpint.length - 1 && mpint[start] === 0) start++;
  const bytes = mpint.subarray(start);
  if (bytes.length > width) throw new CertificateError('the CA signature is malformed');
  return Buffer.concat([Buffer.alloc(width - bytes.length), bytes]);
}

/** Why the CA's signature over the certificate does not verify, or undefined when it does. */
export function caSignatureProblem(cert: OpenSshCertificate): string | undefined {
  const r = new Reader(cert.signature);
  const algorithm = r.text();
  let raw = r.bytes();
  const spec = CA_SIGNATURES[algorithm];
  if (spec === undefined) return `is signed with ${algorithm}, which is not accepted`;
  const caType = new Reader(cert.signatureKey).text();
  if (caType !== spec.keyType) return `has a ${algorithm} signature from a ${caType} CA key`;
  const caKey = ssh2.utils.parseKey(cert.signatureKey);
  if (caKey instanceof Error || Array.isArray(caKey)) return 'names a CA key that does not parse';
  const width = ECDSA_FIELD_BYTES[algorithm];
  const key = createPublicKey(caKey.getPublicPEM());
  if (width !== undefined) {
    // SSH writes an ECDSA signature as two mpints, r and s (RFC 5656 3.1.2).
    const halves = new Reader(raw);
    raw = Buffer.concat([fixedWidth(halves.bytes(), width), fixedWidth(halves.bytes(), width)]);
  }
  const ok = verify(
    spec.hash,
    cert.signed,
    width === undefined ? key : { key, dsaEncoding: 'ieee-p1363' },
    raw,
  );
  return ok ? undefined : 'has a CA signature that does not verify';
}

/**
 * Why a host certificate does not vouch for `host`, or undefined when it does, as OpenSSH's client
 * checks one (sshconnect.c check_host_cert, sshkey_cert_check_host): signed by one of the CAs
 * known_hosts trusts for the host (`@cert-authority`), with a signature that verifies; a host
 * certificate; `host` among its principals (an empty list is refused, as OpenSSH does for hosts);
 * inside its validity window; no critical option (none is defined for hosts). The key exchange's
 * signature by the certified key is checked by ssh2 (patched).
 */
export function hostCertificateProblem(
  cert: OpenSshCertificate,
  host: string,
  authorities: ReadonlyArray<Buffer>,
  now: number,
): string | undefined {
  if (!authorities.some((ca) => ca.equals(cert.signatureKey))) {
    return 'is signed by a CA that known_hosts does not trust for this host (@cert-authority)';
  }
  const signature = caSignatureProblem(cert);
  if (signature !== undefined) return signature;
  if (cert.kind !== 'host') return 'is a user certificate, not a host certificate';
  const name = host.toLowerCase();
  if (!cert.principals.some((p) => p.toLowerCase() === name)) {
    return cert.principals.length === 0
      ? 'names no principal (a host certificate must name the host)'
      : `is not valid for ${host} (principals: ${cert.principals.join(', ')})`;
  }
  const validity = validityProblem(cert, now);
  if (validity !== undefined) return validity;
  if (cert.criticalOptions.length > 0) return 'carries critical options, which no host certificate may';
  return undefined;
}
