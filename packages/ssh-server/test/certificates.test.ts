/**
 * OpenSSH certificates without a network: certificates made by ssh-keygen, read and checked as
 * OpenSSH's client checks them, and the host-key policy's handling of them. The tiered tests in
 * packages/harness log in with certificates and verify host certificates against a real sshd.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CertificateError,
  certifiedKey,
  hostCertificateProblem,
  type OpenSshCertificate,
  parseCertificate,
  parseCertificateLine,
  parsePrivateKey,
} from '../src/certificates.js';
import { fingerprintOf, HostKeyPolicy, KnownHosts } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'bastion-certs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let made = 0;
/** A new key pair of `type` (ssh-keygen -t); returns its file path. */
function key(type: string): string {
  const path = join(dir, `k${++made}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', '', '-f', path], { stdio: 'ignore' });
  return path;
}

/** Signs `subject`'s public key with `ca`; returns the certificate line. */
function sign(ca: string, subject: string, ...options: string[]): string {
  execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', 'test-id', '-z', '42', ...options, `${subject}.pub`], {
    stdio: 'ignore',
  });
  return readFileSync(`${subject}-cert.pub`, 'utf8');
}

const blobOf = (line: string) => Buffer.from(line.trim().split(' ')[1] ?? '', 'base64');
const publicBlob = (path: string) => blobOf(readFileSync(`${path}.pub`, 'utf8'));
const now = Date.now();

const hostCa = key('ed25519');
const host = key('ed25519');
const good = parseCertificateLine(sign(hostCa, host, '-h', '-n', 'db.example,10.0.0.5', '-V', '-5m:+1h'));

describe('reading certificates', () => {
  it('reads the fields ssh-keygen wrote, and the key it certifies', () => {
    expect(good).toMatchObject({
      type: 'ssh-ed25519-cert-v01@openssh.com',
      keyType: 'ssh-ed25519',
      kind: 'host',
      keyId: 'test-id',
      serial: 42n,
      principals: ['db.example', '10.0.0.5'],
    });
    expect(good.publicKey.equals(publicBlob(host))).toBe(true);
    expect(good.signatureKey.equals(publicBlob(hostCa))).toBe(true);
    expect(Number(good.validBefore - good.validAfter)).toBe(65 * 60);
    // Named by the key it certifies, as OpenSSH names a certificate.
    expect(fingerprintOf(good.blob)).toBe(fingerprintOf(publicBlob(host)));
  });

  it('refuses what is not a whole certificate', () => {
    expect(() => parseCertificate(good.blob.subarray(0, good.blob.length - 5))).toThrow(CertificateError);
    expect(() => parseCertificate(Buffer.concat([good.blob, Buffer.from([0])]))).toThrow('trailing bytes');
    expect(() => parseCertificate(publicBlob(host))).toThrow('is not an OpenSSH certificate');
    expect(() => parseCertificateLine(readFileSync(`${host}.pub`, 'utf8'))).toThrow(CertificateError);
  });
});

describe('host certificates', () => {
  const check = (cert: OpenSshCertificate, name = 'db.example', cas = [publicBlob(hostCa)]) =>
    hostCertificateProblem(cert, name, cas, now);

  it('accepts a certificate that a trusted CA signed for the host, with ed25519, ECDSA and RSA CAs', () => {
    expect(check(good)).toBeUndefined();
    expect(check(good, 'DB.example')).toBeUndefined();
    expect(check(good, '10.0.0.5')).toBeUndefined();
    for (const type of ['ecdsa', 'rsa']) {
      const ca = key(type);
      const cert = parseCertificateLine(sign(ca, key('ed25519'), '-h', '-n', 'db.example'));
      expect(check(cert, 'db.example', [publicBlob(ca)])).toBeUndefined();
    }
  });

  it('refuses one from another CA, with a broken signature, for another host, for a user, or out of date', () => {
    expect(check(good, 'db.example', [publicBlob(key('ed25519'))])).toMatch(
      /CA that known_hosts does not trust/,
    );
    const tampered = Buffer.from(good.blob);
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    expect(check(parseCertificate(tampered))).toBe('has a CA signature that does not verify');
    expect(check(good, 'web.example')).toBe(
      'is not valid for web.example (principals: db.example, 10.0.0.5)',
    );
    const anyHost = parseCertificateLine(sign(hostCa, key('ed25519'), '-h'));
    expect(check(anyHost)).toMatch(/names no principal/);
    const user = parseCertificateLine(sign(hostCa, key('ed25519'), '-n', 'db.example'));
    expect(check(user)).toBe('is a user certificate, not a host certificate');
    const expired = parseCertificateLine(
      sign(hostCa, key('ed25519'), '-h', '-n', 'db.example', '-V', '20200101:20200102'),
    );
    expect(check(expired)).toMatch(/^has expired \(valid from 2020-01-01T00:00:00.000Z/);
    const future = parseCertificateLine(
      sign(hostCa, key('ed25519'), '-h', '-n', 'db.example', '-V', '+1d:+2d'),
    );
    expect(check(future)).toMatch(/^is not yet valid/);
  });

  it('asks for certificates only when known_hosts has a CA for the host, and never trusts one on first use', () => {
    const caLine = `@cert-authority db.example ${readFileSync(`${hostCa}.pub`, 'utf8').trim()}\n`;
    const policy = new HostKeyPolicy({ knownHosts: KnownHosts.fromText(caLine), trustOnFirstUse: true });
    const connect = policy.forConnect('db.example', 22);
    expect(connect.preferredKeyTypes[0]).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(connect.check(good.blob)).toMatchObject({
      accepted: true,
      source: 'known_hosts',
      firstUse: false,
      certificate: expect.stringContaining(`"test-id" (serial 42, principals db.example, 10.0.0.5`),
    });
    expect(policy.forConnect('web.example', 22).preferredKeyTypes).toEqual([]);
    expect(policy.forConnect('db.example', 22, fingerprintOf(good.blob)).preferredKeyTypes).toEqual([]);
    // Another host name under the same CA line pattern would need its own principal.
    const wildcard = KnownHosts.fromText(caLine.replace('db.example', '*.example'));
    expect(
      new HostKeyPolicy({ knownHosts: wildcard, trustOnFirstUse: true }).check('web.example', 22, good.blob),
    ).toMatchObject({ accepted: false, reason: expect.stringMatching(/not valid for web.example/) });
    // Without a CA line for the host a certificate is refused, not trusted on first use.
    const none = new HostKeyPolicy({ knownHosts: KnownHosts.fromText(''), trustOnFirstUse: true });
    expect(none.check('db.example', 22, good.blob)).toMatchObject({ accepted: false });
    const revoked = KnownHosts.fromText(
      `${caLine}@revoked * ${readFileSync(`${hostCa}.pub`, 'utf8').trim()}\n`,
    );
    expect(
      new HostKeyPolicy({ knownHosts: revoked, trustOnFirstUse: false }).check('db.example', 22, good.blob),
    ).toMatchObject({ accepted: false, reason: expect.stringMatching(/marked @revoked/) });
  });
});

describe('user certificates', () => {
  const userCa = key('ed25519');
  const user = key('ed25519');
  const line = sign(userCa, user, '-n', 'ci', '-V', '-5m:+1h');
  const privateKey = () => {
    const parsed = parsePrivateKey(readFileSync(user, 'utf8'), undefined);
    if (parsed instanceof Error) throw parsed;
    return parsed;
  };

  it('pairs a private key with its certificate: it signs as the key and shows the certificate', () => {
    const paired = certifiedKey(privateKey(), line, now);
    expect(paired.type).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(paired.getPublicSSH().equals(blobOf(line))).toBe(true);
    expect(paired.isPrivateKey()).toBe(true);
    const data = Buffer.from('session data');
    const signature = paired.sign(data);
    if (signature instanceof Error) throw signature;
    const plain = ssh2.utils.parseKey(readFileSync(`${user}.pub`, 'utf8'));
    if (plain instanceof Error || Array.isArray(plain)) throw new Error('the public key did not parse');
    expect(plain.verify(data, signature)).toBe(true);
  });

  it('refuses a certificate of another key, a host certificate, and one out of date', () => {
    const other = sign(userCa, key('ed25519'), '-n', 'ci');
    expect(() => certifiedKey(privateKey(), other, now)).toThrow('certifies another key than privateKey');
    const asHost = join(dir, 'as-host');
    execFileSync('cp', [`${user}.pub`, `${asHost}.pub`]);
    expect(() => certifiedKey(privateKey(), sign(userCa, asHost, '-h'), now)).toThrow(
      'is a host certificate',
    );
    expect(() => certifiedKey(privateKey(), line, now + 2 * 3600_000)).toThrow(/^has expired/);
  });
});
