import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, GENESIS } from '../src/audit/chain.js';
import { type AuditEntry, AuditLog } from '../src/audit/log.js';
import { REDACTED, redact, secretFieldsOf } from '../src/audit/redact.js';
import { verifyAuditLog } from '../src/audit/verify.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-audit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(n: number): AuditEntry {
  return {
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(),
    requestId: n,
    grant: 'alice',
    session: 's',
    server: 'mqtt',
    method: 'tools/call',
    tool: 'mqttPublish',
    decision: 'allow',
    rule: '/tools/mqttPublish',
    reason: 'allowed by rule',
    policyVersion: 'abc',
    argKeys: ['topic'],
    args: { topic: `t/${n}` },
    upstream: { outcome: 'ok', latencyMs: 1 },
  };
}

describe('redaction', () => {
  it('replaces values of secret-looking keys at any depth, whatever their case', () => {
    expect(
      redact({
        host: 'h',
        password: 'p',
        Passphrase: 'pp',
        options: {
          privateKey: 'k',
          apiToken: 't',
          nested: [{ client_secret: 's', Authorization: 'Bearer x' }],
        },
      }),
    ).toEqual({
      host: 'h',
      password: REDACTED,
      Passphrase: REDACTED,
      options: {
        privateKey: REDACTED,
        apiToken: REDACTED,
        nested: [{ client_secret: REDACTED, Authorization: REDACTED }],
      },
    });
  });

  it('replaces the fields the upstream marks secret, and cuts long strings', () => {
    const secret = secretFieldsOf({
      type: 'object',
      properties: {
        pin: { type: 'string', writeOnly: true },
        auth: { type: 'object', properties: { code: { type: 'string', format: 'password' } } },
      },
    });
    expect([...secret].sort()).toEqual(['code', 'pin']);
    const out = redact({ pin: '1234', auth: { code: 'x' }, payload: 'a'.repeat(5000) }, secret) as Record<
      string,
      unknown
    >;
    expect(out.pin).toBe(REDACTED);
    expect(out.auth).toEqual({ code: REDACTED });
    expect((out.payload as string).length).toBeLessThan(2100);
  });
});

describe('audit log', () => {
  it('writes rows in order with an intact chain, and verify accepts it', async () => {
    const path = join(dir, 'a.jsonl');
    const log = await AuditLog.open(path);
    for (let i = 1; i <= 5; i++) log.append(entry(i));
    await log.close();
    const rows = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0].prev).toBe(GENESIS);
    expect(rows[1].prev).toBe(rows[0].hash);
    expect(await verifyAuditLog(path)).toEqual({ ok: true, rows: 5 });
  });

  it('continues the chain of an existing log after a restart', async () => {
    const path = join(dir, 'a.jsonl');
    const first = await AuditLog.open(path);
    first.append(entry(1));
    await first.close();
    const second = await AuditLog.open(path);
    second.append(entry(2));
    await second.close();
    expect(await verifyAuditLog(path)).toEqual({ ok: true, rows: 2 });
  });

  it('names the first row that was changed, removed or is not JSON', async () => {
    const path = join(dir, 'a.jsonl');
    const log = await AuditLog.open(path);
    for (let i = 1; i <= 4; i++) log.append(entry(i));
    await log.close();
    const lines = (await readFile(path, 'utf8')).trim().split('\n');

    const edited = [...lines];
    edited[2] = (edited[2] ?? '').replace('"decision":"allow"', '"decision":"deny"');
    await writeFile(path, `${edited.join('\n')}\n`);
    expect(await verifyAuditLog(path)).toMatchObject({
      ok: false,
      line: 3,
      rows: 2,
      reason: expect.stringMatching(/hash/),
    });

    await writeFile(path, `${[lines[0], lines[2], lines[3]].join('\n')}\n`);
    expect(await verifyAuditLog(path)).toMatchObject({
      ok: false,
      line: 2,
      reason: expect.stringMatching(/prev/),
    });

    await writeFile(path, `${[lines[0], '{oops', lines[2]].join('\n')}\n`);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, line: 2, reason: 'not valid JSON' });
  });

  it('hashes canonical JSON, so key order does not matter', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });
});
