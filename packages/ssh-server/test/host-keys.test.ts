import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  fingerprintOf,
  HostKeyPolicy,
  KnownHosts,
  KnownHostsError,
  normalizeFingerprint,
} from '../src/index.js';
import { ed25519, fingerprintOfPublic } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'bastion-known-hosts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blobOf = (line: string) => Buffer.from(line.split(' ')[1] ?? '', 'base64');

describe('host keys', () => {
  it('prints fingerprints exactly as ssh-keygen -lf does', () => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
    const line = readFileSync(join(dir, 'k.pub'), 'utf8');
    const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'k.pub')], {
      encoding: 'utf8',
    });
    expect(fingerprintOf(blobOf(line))).toBe(printed.split(' ')[1]);
  });

  it('accepts only well-formed SHA256 pins', () => {
    const good = fingerprintOfPublic(ed25519().public);
    expect(normalizeFingerprint(good)).toBe(good);
    expect(normalizeFingerprint(`${good}=`)).toBe(good);
    expect(normalizeFingerprint('MD5:12:34')).toBeUndefined();
    expect(normalizeFingerprint('SHA256:short')).toBeUndefined();
  });

  it('reads plain, [host]:port, wildcard, negated and ssh-keygen -H hashed known_hosts entries', () => {
    const [a, b, c, d] = [ed25519().public, ed25519().public, ed25519().public, ed25519().public];
    const file = join(dir, 'known_hosts');
    writeFileSync(
      file,
      [
        `plain.example ${a}`,
        `[port.example]:2222 ${b}`,
        `*.wild.example,!bad.wild.example ${c}`,
        `hashed.example ${d}`,
        `[hashed.example]:2200 ${d}`,
      ].join('\n'),
    );
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    expect(readFileSync(file, 'utf8')).toContain('|1|');
    const known = KnownHosts.fromFile(file);
    expect(known.lookup('plain.example', 22).keys.map(fingerprintOf)).toEqual([fingerprintOfPublic(a)]);
    expect(known.lookup('plain.example', 2222).keys).toEqual([]);
    expect(known.lookup('port.example', 2222).keys.map(fingerprintOf)).toEqual([fingerprintOfPublic(b)]);
    expect(known.lookup('x.wild.example', 22).keys.map(fingerprintOf)).toEqual([fingerprintOfPublic(c)]);
    expect(known.lookup('bad.wild.example', 22).keys).toEqual([]);
    expect(known.lookup('HASHED.example', 22).keys.map(fingerprintOf)).toEqual([fingerprintOfPublic(d)]);
    expect(known.lookup('hashed.example', 2200).keys.map(fingerprintOf)).toEqual([fingerprintOfPublic(d)]);
  });

  it('names every malformed line of a known_hosts file', () => {
    expect(() => KnownHosts.fromText('onlyonefield\nhost ssh-ed25519 AAAA\n@weird h k v', 'kh')).toThrow(
      KnownHostsError,
    );
    try {
      KnownHosts.fromText('onlyonefield\nhost ssh-ed25519 !!!\n', 'kh');
    } catch (err) {
      expect(String(err)).toMatch(/kh:1: expected/);
      expect(String(err)).toMatch(/kh:2: key does not decode/);
    }
  });

  it('decides in order: pin, known_hosts (also under TOFU), then trust on first use', () => {
    const [k1, k2] = [ed25519().public, ed25519().public].map(blobOf) as [Buffer, Buffer];
    const known = KnownHosts.fromText(
      `[listed]:22000 ssh-ed25519 ${k1.toString('base64')}\n@revoked * ssh-ed25519 ${k2.toString('base64')}`,
    );
    const policy = new HostKeyPolicy({ knownHosts: known, trustOnFirstUse: true });
    expect(policy.check('h', 1, k1, fingerprintOf(k1))).toMatchObject({ accepted: true, source: 'pinned' });
    expect(policy.check('h', 1, k2, fingerprintOf(k1))).toMatchObject({ accepted: false });
    expect(policy.check('listed', 22000, k1)).toMatchObject({ accepted: true, source: 'known_hosts' });
    const changed = policy.check('listed', 22000, Buffer.concat([k1.subarray(0, 20), k2.subarray(20)]));
    expect(changed.accepted).toBe(false);
    expect(policy.check('other', 22, k2)).toMatchObject({
      accepted: false,
      reason: expect.stringMatching(/@revoked/),
    });
    expect(policy.check('tofu', 22, k1)).toMatchObject({
      accepted: true,
      source: 'trust_on_first_use',
      firstUse: true,
    });
    expect(policy.check('tofu', 22, k1)).toMatchObject({ accepted: true, firstUse: false });
    const refused = policy.check('tofu', 22, Buffer.concat([k1.subarray(0, 20), Buffer.alloc(31)]));
    expect(refused).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('changed since it was first trusted'),
    });
    // Another port of the same host is another host:port.
    expect(policy.check('tofu', 2222, k2)).toMatchObject({ accepted: false });
  });

  it('refuses by default, naming the offered fingerprint and how to trust it', () => {
    const key = blobOf(ed25519().public);
    const decision = new HostKeyPolicy({ trustOnFirstUse: false }).check('h', 22, key);
    expect(decision.accepted).toBe(false);
    if (!decision.accepted) {
      expect(decision.reason).toContain(fingerprintOf(key));
      expect(decision.reason).toMatch(/hostFingerprint.*--known-hosts.*--trust-on-first-use/);
    }
  });
});
