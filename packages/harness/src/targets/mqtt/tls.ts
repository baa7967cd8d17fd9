/**
 * A throwaway PKI made with the `openssl` command: a CA, a server certificate for localhost and
 * 127.0.0.1, and a client certificate for mutual TLS. EC P-256 keys, so it takes milliseconds.
 * Within a test run (run-scope.ts) it is made once by the global setup and copied from there.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from '../process.js';
import { runScope } from '../run-scope.js';

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

const FILES = ['ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key'] as const;

/** The run's shared PKI directory (complete once it exists: it is renamed into place). */
function sharedPkiDir(): string | undefined {
  const scope = runScope();
  return scope === undefined ? undefined : join(scope.dir, 'pki');
}

/** Makes the run's shared PKI (the global setup does this once). Returns its directory. */
export async function createSharedTestPki(): Promise<string | undefined> {
  const dir = sharedPkiDir();
  if (dir === undefined || existsSync(dir) || !opensslAvailable()) return dir;
  const building = `${dir}.building`;
  await mkdir(building, { recursive: true });
  await generate(building);
  await rename(building, dir);
  return dir;
}

/** Writes the PKI into `dir` and returns the PEM texts tests need. */
export async function createTestPki(dir: string): Promise<TestPki> {
  const shared = sharedPkiDir();
  if (shared !== undefined && existsSync(shared)) {
    for (const name of FILES) await copyFile(join(shared, name), join(dir, name));
  } else {
    await generate(dir);
  }
  const f = (name: string) => join(dir, name);
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

async function generate(dir: string): Promise<void> {
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
}
