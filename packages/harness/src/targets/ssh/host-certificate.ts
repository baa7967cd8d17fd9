/**
 * OpenSSH host certificates for the SSH hosts the harness starts (sshd's `HostCertificate`): the
 * host key signed by a CA private key file with `ssh-keygen -s CA -h`, as an operator would. Shared
 * by the process tier (sshd.ts signs its own key file) and the container tier (container.ts makes
 * the key and its certificate here, on the host, so that the CA's private key never enters the
 * container).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDirSync } from '../run-scope.js';

export interface HostCertificateSpec {
  /** The CA's private key file. */
  caKeyFile: string;
  /** The names the certificate is valid for: the host as the clients dial it. */
  principals: string[];
}

/** Writes `<publicKeyFile minus .pub>-cert.pub`, ssh-keygen's name for the certificate of that key. */
export function signHostKey(publicKeyFile: string, spec: HostCertificateSpec): void {
  // Valid from a minute ago, so that a clock a little behind still accepts it.
  execFileSync(
    'ssh-keygen',
    [
      '-q',
      '-s',
      spec.caKeyFile,
      '-h',
      '-I',
      'bastion-test-host',
      '-n',
      spec.principals.join(','),
      '-V',
      '-1m:+1d',
      publicKeyFile,
    ],
    { stdio: 'ignore' },
  );
}

/** A fresh ed25519 host key (OpenSSH files' text) with its certificate. */
export interface CertifiedHostKey {
  privateKey: string;
  publicKey: string;
  certificate: string;
}

export function certifiedHostKey(spec: HostCertificateSpec): CertifiedHostKey {
  const dir = makeTempDirSync('bastion-host-cert-');
  try {
    const file = join(dir, 'host_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file], { stdio: 'ignore' });
    signHostKey(`${file}.pub`, spec);
    return {
      privateKey: readFileSync(file, 'utf8'),
      publicKey: readFileSync(`${file}.pub`, 'utf8'),
      certificate: readFileSync(`${file}-cert.pub`, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
