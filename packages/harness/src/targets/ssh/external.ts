/**
 * The external tier's SSH host: one someone else runs, given by environment variables. The harness
 * cannot restart, pause or read the logs of it, so tests that need that are skipped for this tier
 * with the reason.
 *
 *   BASTION_EXTERNAL_SSH=user@host:port        the login (port 22 when left out)
 *   BASTION_EXTERNAL_SSH_KEY_FILE              that user's private key (OpenSSH, unencrypted)
 *   BASTION_EXTERNAL_SSH_PASSWORD              its password, or
 *   BASTION_EXTERNAL_SSH_PASSWORD_FILE         a file holding it (first line); optional: without
 *                                              either, password-login tests are not run
 *   BASTION_EXTERNAL_SSH_HOST_FINGERPRINT      SHA256:... the host key must have (else the key seen
 *                                              at start is trusted for the run)
 *   BASTION_EXTERNAL_SSH_SCRATCH               a directory the user may write in (default /tmp); the
 *                                              harness works in a fresh subdirectory it removes
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fingerprintOf } from '@bastion/ssh-server';
import ssh2 from 'ssh2';
import { type Availability, lacksFrom } from '../../testing/tiers.js';
import type { SshHostCapabilities, SshHostKey, SshHostProvider, SshHostTarget } from './types.js';

const { Client, utils } = ssh2;
const LOGIN_VAR = 'BASTION_EXTERNAL_SSH';
const CAPABILITIES: SshHostCapabilities = {
  restart: false,
  pause: false,
  logs: false,
  pty: true,
  signals: true,
};

interface ExternalSshConfig {
  username: string;
  host: string;
  port: number;
  privateKey: string;
  password: string | undefined;
  fingerprint: string | undefined;
  scratchParent: string;
}

function readFirstLine(file: string): string {
  return readFileSync(file, 'utf8').split('\n')[0] ?? '';
}

/** Parses the variables; throws with what is missing or wrong (never with a secret in it). */
export function externalSshConfig(env: NodeJS.ProcessEnv = process.env): ExternalSshConfig {
  const login = env[LOGIN_VAR];
  if (login === undefined || login === '') throw new Error(`${LOGIN_VAR} is not set`);
  const match = /^([^@\s:]+)@(\[[^\]]+\]|[^:\s]+)(?::(\d+))?$/.exec(login);
  if (match === null) throw new Error(`${LOGIN_VAR} must be user@host or user@host:port`);
  const [, username = '', rawHost = '', port] = match;
  const keyFile = env.BASTION_EXTERNAL_SSH_KEY_FILE;
  if (keyFile === undefined || keyFile === '') throw new Error('BASTION_EXTERNAL_SSH_KEY_FILE is not set');
  const privateKey = readFileSync(keyFile, 'utf8');
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error)
    throw new Error(`BASTION_EXTERNAL_SSH_KEY_FILE is not a usable private key: ${parsed.message}`);
  const passwordFile = env.BASTION_EXTERNAL_SSH_PASSWORD_FILE;
  const password =
    env.BASTION_EXTERNAL_SSH_PASSWORD ||
    (passwordFile === undefined || passwordFile === '' ? undefined : readFirstLine(passwordFile));
  const fingerprint = env.BASTION_EXTERNAL_SSH_HOST_FINGERPRINT || undefined;
  if (fingerprint !== undefined && !fingerprint.startsWith('SHA256:'))
    throw new Error('BASTION_EXTERNAL_SSH_HOST_FINGERPRINT must look like SHA256:...');
  return {
    username,
    host: rawHost.replace(/^\[|\]$/g, ''),
    port: port === undefined ? 22 : Number(port),
    privateKey,
    password: password === '' ? undefined : password,
    fingerprint,
    scratchParent: env.BASTION_EXTERNAL_SSH_SCRATCH || '/tmp',
  };
}

export function externalSshAvailability(env: NodeJS.ProcessEnv = process.env): Availability {
  try {
    externalSshConfig(env);
    return { available: true };
  } catch (err) {
    return { available: false, reason: (err as Error).message };
  }
}

function publicKeyLine(privateKey: string): string {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error) throw new Error('unusable private key');
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

function hostKeyOf(blob: Buffer): SshHostKey {
  const typeLength = blob.readUInt32BE(0);
  const type = blob.subarray(4, 4 + typeLength).toString('latin1');
  return { publicKey: `${type} ${blob.toString('base64')}`, fingerprint: fingerprintOf(blob) };
}

/** Runs one command as the key user; resolves with stdout and the exit code. */
function run(
  config: ExternalSshConfig,
  hostKey: SshHostKey | undefined,
  command: string,
): Promise<{ stdout: string; code: number | null; hostKey: SshHostKey }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let seen: SshHostKey | undefined;
    let stdout = '';
    client.on('error', (err) => reject(err));
    client.on('ready', () => {
      client.exec(command, (err, stream) => {
        if (err) {
          client.end();
          reject(err);
          return;
        }
        stream.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
        });
        stream.stderr.resume();
        stream.on('close', (code: number | null) => {
          client.end();
          if (seen === undefined) reject(new Error('no host key seen'));
          else resolve({ stdout, code, hostKey: seen });
        });
      });
    });
    client.connect({
      host: config.host,
      port: config.port,
      username: config.username,
      privateKey: config.privateKey,
      readyTimeout: 20_000,
      hostVerifier: (blob: Buffer) => {
        seen = hostKeyOf(blob);
        const expected = hostKey?.fingerprint ?? config.fingerprint;
        return expected === undefined || expected === seen.fingerprint;
      },
    });
  });
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export async function startExternalSshTarget(env: NodeJS.ProcessEnv = process.env): Promise<SshHostTarget> {
  const config = externalSshConfig(env);
  const scratchDir = `${config.scratchParent.replace(/\/+$/, '')}/bastion-scratch-${randomBytes(6).toString('hex')}`;
  const made = await run(config, undefined, `mkdir -m 700 ${quote(scratchDir)}`);
  if (made.code !== 0) throw new Error(`could not create ${scratchDir} on the external host`);
  const hostKey = made.hostKey;
  const cannot = (what: string) => async () => {
    throw new Error(`the harness cannot ${what} an external SSH host`);
  };
  return {
    tier: 'external',
    host: config.host,
    port: config.port,
    hostKey,
    passwordLogin:
      config.password === undefined ? undefined : { username: config.username, password: config.password },
    keyLogin: {
      username: config.username,
      privateKey: config.privateKey,
      publicKey: publicKeyLine(config.privateKey),
    },
    scratchDir,
    restart: cannot('restart'),
    pause: cannot('pause'),
    resume: cannot('resume'),
    async processes(pattern) {
      // `[s]leep x` matches `sleep x` but not the command line of the pgrep that looks for it.
      const first = pattern[0] ?? '';
      const regex = /[A-Za-z0-9 _/.]/.test(first) ? `[${first}]${pattern.slice(1)}` : pattern;
      const found = await run(config, hostKey, `pgrep -u "$(id -u)" -f -- ${quote(regex)}`);
      return found.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number);
    },
    logs: () => '',
    secrets: () => [config.privateKey, ...(config.password === undefined ? [] : [config.password])],
    async stop() {
      await run(config, hostKey, `rm -rf -- ${quote(scratchDir)}`);
    },
  };
}

export const sshExternalProvider: SshHostProvider = {
  kind: 'ssh-host',
  tier: 'external',
  capabilities: CAPABILITIES,
  availability: () => externalSshAvailability(),
  start: () => startExternalSshTarget(),
  lacks: lacksFrom('the external SSH host', CAPABILITIES, {
    restart: 'the harness cannot restart an external SSH host',
    pause: 'the harness cannot pause an external SSH host',
    logs: "the harness cannot read an external SSH host's logs",
  }),
};
