/**
 * `bastion-gateway audit key create` and `audit verify FILE...` as a person runs them, and a gateway
 * configured with a keyed audit log: the key outside the log's directory, the environment override,
 * and a start refused when the log was cut while the gateway was down.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readAuditKeyFile } from '../src/audit/key.js';
import { AuditLog } from '../src/audit/log.js';
import { resolveConfig } from '../src/config.js';
import { createGateway } from '../src/gateway.js';
import { PolicyLoadError } from '../src/policy/problems.js';
import { entry } from './helpers.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', 'bin', 'bastion-gateway.js');

async function gatewayCli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-audit-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bastion-gateway audit', () => {
  it('creates a key readable by its owner only, never over an existing file', async () => {
    const file = join(dir, 'secrets', 'audit.key');
    const created = await gatewayCli(['audit', 'key', 'create', file]);
    expect(created.code).toBe(0);
    const key = await readAuditKeyFile(file);
    expect(created.stdout).toContain(`key id ${key.id}`);
    expect(created.stdout).not.toContain(key.bytes.toString('hex'));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const again = await gatewayCli(['audit', 'key', 'create', file]);
    expect(again.code).toBe(2);
    expect((await readAuditKeyFile(file)).id).toBe(key.id);
  });

  it('verifies several replicas’ logs with one key, one line each, and exits 1 when one is broken', async () => {
    const keyFile = join(dir, 'audit.key');
    await gatewayCli(['audit', 'key', 'create', keyFile]);
    const key = await readAuditKeyFile(keyFile);
    const logs = [join(dir, 'logs', 'replica-a.jsonl'), join(dir, 'logs', 'replica-b.jsonl')];
    for (const path of logs) {
      const log = await AuditLog.open({ path, key });
      for (let i = 1; i <= 3; i++) log.append(entry(i));
      await log.close();
    }
    const ok = await gatewayCli(['audit', 'verify', ...logs, '--key', keyFile]);
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split('\n')).toEqual(
      logs.map(
        (l) =>
          `${l}: ok: 3 rows, chain intact, keyed (key id ${key.id}), reaches its head checkpoint (seq 3)`,
      ),
    );
    const [, b] = logs as [string, string];
    const text = await readFile(b, 'utf8');
    await writeFile(b, text.split('\n').slice(0, 2).join('\n').concat('\n'));
    const broken = await gatewayCli(['audit', 'verify', ...logs], {
      BASTION_GATEWAY_AUDIT_KEY: key.bytes.toString('hex'),
    });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(
      `${b}: broken at line 3: the log ends at seq 2 but its head checkpoint is at seq 3`,
    );
    const without = await gatewayCli(['audit', 'verify', b]);
    expect(without.code).toBe(1);
    expect(without.stdout).toMatch(/keyed \(key id [0-9a-f]+\): give its key/);
  });
});

describe('a keyed audit log in the gateway config', () => {
  const servers = { up: { transport: 'http', url: 'http://127.0.0.1:9/mcp' } };

  it("refuses a key inside the log's directory, and takes the key from the environment over keyFile", () => {
    expect(() =>
      resolveConfig(
        { servers, audit: { path: 'logs/a.jsonl', keyFile: 'logs/audit.key' } },
        { baseDir: dir },
      ),
    ).toThrow(PolicyLoadError);
    const hex = 'ab'.repeat(32);
    const config = resolveConfig(
      { servers, audit: { path: 'logs/a.jsonl', keyFile: '/etc/x.key', headDir: 'heads' } },
      { baseDir: dir, env: { BASTION_GATEWAY_AUDIT_KEY: hex } },
    );
    expect(config.audit).toMatchObject({
      path: join(dir, 'logs/a.jsonl'),
      headDir: join(dir, 'heads'),
      key: { kind: 'env', key: { bytes: Buffer.from(hex, 'hex') } },
    });
  });

  it('does not start on a log cut while it was down', async () => {
    const keyFile = join(dir, 'keys', 'audit.key');
    await gatewayCli(['audit', 'key', 'create', keyFile]);
    const document = { servers, audit: { path: 'logs/a.jsonl', keyFile, headDir: 'heads' } };
    const start = () =>
      createGateway({
        config: resolveConfig(document, { baseDir: dir }),
        logger: pino({ level: 'silent' }),
        watchPolicies: false,
      });
    const first = await start();
    await first.close();
    const key = await readAuditKeyFile(keyFile);
    const log = await AuditLog.open({ path: join(dir, 'logs/a.jsonl'), key, headDir: join(dir, 'heads') });
    log.append(entry(1));
    log.append(entry(2));
    await log.close();
    await writeFile(join(dir, 'logs/a.jsonl'), '');
    await expect(start()).rejects.toThrow(/empty but its head checkpoint is at seq 2/);
  });
});
