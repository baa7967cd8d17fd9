/**
 * A throwaway PKI made with the `openssl` command: a CA, a server certificate for localhost and
 * 127.0.0.1, and a client certificate for mutual TLS. EC P-256 keys, so it takes milliseconds.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from '../process.js';

const run = promisify(execFile);

export interface TestPki {
  caCert: string;
  /** Paths of the files written to the directory (PEM). */
  files: { caCert: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  clientCert: string;
  clientKey: string;
}

export function opensslAvailable(): boolean {
  return findBinary('openssl') !== undefined;
}

/** Writes the PKI into `dir` and returns the PEM texts tests need. */
export async function createTestPki(dir: string): Promise<TestPki> {
  const openssl = findBinary('openssl');
  if (openssl === undefined) throw new Error('openssl is not on PATH (Debian: apt-get install openssl)');
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run(openssl, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-subj',
    '/CN=Bastion test CA',
    '-days',
    '2',
  ]);
  await writeFile(
    f('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  await writeFile(f('client.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'bastion-test-client'],
  ] as const) {
    await run(openssl, [
      'req',
      ...ec,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
      '-subj',
      `/CN=${cn}`,
    ]);
    await run(openssl, [
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
    ]);
  }
  const files = {
    caCert: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
  };
  return {
    files,
    caCert: await readFile(files.caCert, 'utf8'),
    clientCert: await readFile(files.clientCert, 'utf8'),
    clientKey: await readFile(files.clientKey, 'utf8'),
  };
}
