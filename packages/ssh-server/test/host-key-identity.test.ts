/**
 * The host-key policy's newer rules, decided without a network: pins against the records, endpoints
 * instead of spellings, `@cert-authority` lines; and the options and command line that turn the
 * agent features on. The tiered tests in packages/harness run the same rules against real sshd.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalAddress, endpointName, endpointThrough } from '../src/endpoint.js';
import { ConfigError, fingerprintOf, HostKeyPolicy, KnownHosts, parseConfig } from '../src/index.js';
import { ed25519 } from './support.js';

const blobOf = (line: string) => Buffer.from(line.split(' ')[1] ?? '', 'base64');
const newKey = () => blobOf(ed25519().public);
const line = (key: Buffer) => `ssh-ed25519 ${key.toString('base64')}`;

describe('host keys by endpoint', () => {
  it('writes one endpoint for every spelling of an address, and keeps names and other addresses apart', () => {
    expect(canonicalAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalAddress('[::FFFF:7f00:1]')).toBe('127.0.0.1');
    expect(canonicalAddress('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalAddress('Build.Example')).toBe('build.example');
    expect(endpointName('0::1', 22)).toBe('[::1]:22');
    expect(endpointName('127.0.0.1', 2222)).toBe('127.0.0.1:2222');
    expect(endpointThrough('192.0.2.1:22', 'LOCALHOST', 22)).toBe('localhost:22 via 192.0.2.1:22');
  });

  it('binds a key trusted on first use to the endpoint, whatever name reached it', () => {
    const [k1, k2] = [newKey(), newKey()];
    const policy = new HostKeyPolicy({ trustOnFirstUse: true });
    expect(policy.check('127.0.0.1', 22, k1, undefined, '127.0.0.1:22')).toMatchObject({ firstUse: true });
    // `localhost` that reached 127.0.0.1: the same endpoint, the same pin.
    expect(policy.check('localhost', 22, k1, undefined, '127.0.0.1:22')).toMatchObject({
      accepted: true,
      firstUse: false,
    });
    expect(policy.check('localhost', 22, k2, undefined, '127.0.0.1:22')).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('endpoint 127.0.0.1:22'),
    });
    // ::1 is another endpoint; so is localhost as a jump host sees it.
    expect(policy.check('::1', 22, k2, undefined, '[::1]:22')).toMatchObject({ firstUse: true });
    expect(policy.check('localhost', 22, k2, undefined, 'localhost:22 via 192.0.2.1:22')).toMatchObject({
      firstUse: true,
    });
  });
});

describe('pins against the records', () => {
  it('refuses a pin that contradicts known_hosts unless overrides are allowed, and never a revoked key', () => {
    const [recorded, actual, revoked] = [newKey(), newKey(), newKey()];
    const known = KnownHosts.fromText(`h ${line(recorded)}\n@revoked * ${line(revoked)}\n`);
    const strict = new HostKeyPolicy({ knownHosts: known, trustOnFirstUse: false });
    expect(strict.check('h', 22, actual, fingerprintOf(actual))).toMatchObject({
      accepted: false,
      reason: expect.stringMatching(/contradicts its known_hosts entries.*--allow-fingerprint-override/),
    });
    expect(strict.check('h', 22, recorded, fingerprintOf(recorded))).toMatchObject({
      accepted: true,
      source: 'pinned',
    });
    // A host with no record: the pin alone decides, as before.
    expect(strict.check('other', 22, actual, fingerprintOf(actual))).toMatchObject({ accepted: true });

    const lenient = new HostKeyPolicy({
      knownHosts: known,
      trustOnFirstUse: false,
      allowFingerprintOverride: true,
    });
    expect(lenient.check('h', 22, actual, fingerprintOf(actual))).toMatchObject({
      accepted: true,
      source: 'pinned',
      overrode: 'known_hosts',
    });
    expect(lenient.check('h', 22, revoked, fingerprintOf(revoked))).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('@revoked'),
    });
  });

  it('treats a key trusted on first use as a record a pin may not contradict', () => {
    const [first, other] = [newKey(), newKey()];
    const policy = new HostKeyPolicy({ trustOnFirstUse: true });
    policy.check('h', 22, first);
    expect(policy.check('h', 22, other, fingerprintOf(other))).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('the key trusted on first use at h:22'),
    });
    expect(policy.check('h', 22, first, fingerprintOf(first))).toMatchObject({
      accepted: true,
      source: 'pinned',
    });
  });
});

describe('@cert-authority', () => {
  it('reads CA lines for the hosts they name, and refuses a host trusted only through one that shows no certificate, even under TOFU', () => {
    const [ca, plain] = [newKey(), newKey()];
    const known = KnownHosts.fromText(`@cert-authority *.corp.example ${line(ca)}\n`);
    expect(known.lookup('db.corp.example', 22).certAuthorities.map(fingerprintOf)).toEqual([
      fingerprintOf(ca),
    ]);
    expect(known.lookup('db.elsewhere.example', 22).certAuthorities).toEqual([]);
    const policy = new HostKeyPolicy({ knownHosts: known, trustOnFirstUse: true });
    expect(policy.check('db.corp.example', 22, plain)).toMatchObject({
      accepted: false,
      reason: expect.stringMatching(/only through @cert-authority.*showed no host certificate/),
    });
    expect(policy.check('db.elsewhere.example', 22, plain)).toMatchObject({ accepted: true, firstUse: true });
  });
});

describe('agent options', () => {
  it('keeps agent forwarding and pin overrides off by default, and forwarding needs an agent', () => {
    expect(parseConfig({})).toMatchObject({ allowAgentForwarding: false, allowFingerprintOverride: false });
    expect(() => parseConfig({ allowAgentForwarding: true })).toThrow(ConfigError);
    expect(
      parseConfig({ allowAgentForwarding: true, sshAgent: '/run/agent.sock' }).allowAgentForwarding,
    ).toBe(true);
  });

  it('takes a bare --ssh-agent as the agent in $SSH_AUTH_SOCK, and refuses it when there is none', () => {
    const bin = join(import.meta.dirname, '..', 'bin', 'bastion-ssh.js');
    const { SSH_AUTH_SOCK: _, ...env } = process.env;
    const without = spawnSync(process.execPath, [bin, '--ssh-agent', '--allow-agent-forwarding'], {
      env,
      encoding: 'utf8',
      input: '',
    });
    expect(without.status).toBe(2);
    expect(without.stderr).toContain('--ssh-agent without a socket needs SSH_AUTH_SOCK');
    // With one, the server starts (and ends at once on stdin's end).
    const withAgent = spawnSync(process.execPath, [bin, '--ssh-agent', '--allow-agent-forwarding'], {
      env: { ...env, SSH_AUTH_SOCK: '/run/some-agent.sock' },
      encoding: 'utf8',
      input: '',
    });
    expect(withAgent.status).toBe(0);
    expect(withAgent.stderr).toContain('"msg":"listening"');
  });
});
