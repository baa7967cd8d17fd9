import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, GENESIS } from '../src/audit/chain.js';
import { AuditLog } from '../src/audit/log.js';
import { isSecretKey, REDACTED, redactArgs, scrubSecrets } from '../src/audit/redact.js';
import { verifyAuditLog } from '../src/audit/verify.js';
import { entry } from './helpers.js';
import {
  callTool,
  startTestGateway,
  startUpstream,
  type TestGateway,
  type TestUpstream,
} from './upstream.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-audit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('redaction', () => {
  it('replaces values of secret-looking names at any depth, whatever their case', () => {
    const { value, secrets } = redactArgs({
      host: 'h',
      password: 'p',
      Passphrase: 'pp',
      stdin: 'sudo-pw\n',
      keepalive: 30,
      options: {
        privateKey: 'k',
        apiToken: 't',
        nested: [{ client_secret: 's', Authorization: 'Bearer x', DB_PASS: 'dbp', pin: 1234 }],
      },
    });
    expect(value).toEqual({
      host: 'h',
      password: REDACTED,
      Passphrase: REDACTED,
      stdin: REDACTED,
      keepalive: 30,
      options: {
        privateKey: REDACTED,
        apiToken: REDACTED,
        nested: [{ client_secret: REDACTED, Authorization: REDACTED, DB_PASS: REDACTED, pin: REDACTED }],
      },
    });
    expect([...secrets].sort()).toEqual(['1234', 'Bearer x', 'dbp', 'k', 'p', 'pp', 's', 'sudo-pw\n', 't']);
    expect(['topic', 'payload', 'bypass', 'compass', 'author'].filter(isSecretKey)).toEqual([]);
  });

  it('replaces what the inputSchema marks secret, where it marks it, and cuts long strings', () => {
    const schema = {
      type: 'object',
      properties: {
        pin: { type: 'string', writeOnly: true },
        login: { type: 'object', properties: { code: { type: 'string', format: 'password' } } },
        env: { type: 'object', additionalProperties: { $ref: '#/$defs/secretString' } },
        choice: { anyOf: [{ type: 'number' }, { type: 'string', 'x-secret': true }] },
        list: { type: 'array', items: { type: 'object', properties: { v: { writeOnly: true } } } },
        code: { type: 'string' },
      },
      $defs: { secretString: { type: 'string', 'x-secret': true } },
    };
    const { value } = redactArgs(
      {
        pin: 'p',
        login: { code: 'x' },
        env: { HOME: '/root', ANYTHING: 'y' },
        choice: 'z',
        list: [{ v: 'w', other: 'o' }],
        code: 'not secret here',
        payload: 'a'.repeat(5000),
      },
      schema,
    );
    expect(value).toMatchObject({
      pin: REDACTED,
      login: { code: REDACTED },
      env: { HOME: REDACTED, ANYTHING: REDACTED },
      choice: REDACTED,
      list: [{ v: REDACTED, other: 'o' }],
      code: 'not secret here',
    });
    expect(((value as { payload: string }).payload as string).length).toBeLessThan(2100);
  });

  it('scrubs secrets from messages, the longer first', () => {
    expect(scrubSecrets('bad password hunter2 (hunter2x)', new Set(['hunter2', 'hunter2x']))).toBe(
      `bad password ${REDACTED} (${REDACTED})`,
    );
  });
});

describe('redaction in real audit rows', () => {
  let upstream: TestUpstream;
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });
  afterAll(async () => {
    await upstream.stop();
  });

  it("keeps exec's stdin, secret env values and schema-marked fields out of the row and its reason", async () => {
    gw = await startTestGateway(upstream, { version: '1', default: 'allow' }, () => 'audit.jsonl');
    const { client } = await gw.connect();
    // The upstream answers with a JSON-RPC error that quotes the password: the row must not.
    await expect(
      callTool(client, 'exec', {
        connectionId: 'c',
        command: 'sudo -S id',
        stdin: 's3cr3t-sudo-pw\n',
        env: { API_TOKEN: 'tok-123456', LANG: 'C' },
        vault: { code: 'vault-code-9' },
      }),
    ).rejects.toThrow(/s3cr3t-sudo-pw/);
    await gw.gateway.close();
    const text = await readFile(join(gw.dir, 'audit.jsonl'), 'utf8');
    for (const secret of ['s3cr3t-sudo-pw', 'tok-123456', 'vault-code-9']) expect(text).not.toContain(secret);
    const row = JSON.parse(text.trim()) as Record<string, unknown>;
    expect(row).toMatchObject({
      tool: 'exec',
      upstream: { outcome: 'protocol-error' },
      argKeys: ['connectionId', 'command', 'stdin', 'env', 'vault'],
      args: {
        connectionId: 'c',
        command: 'sudo -S id',
        stdin: REDACTED,
        env: { API_TOKEN: REDACTED, LANG: 'C' },
        vault: { code: REDACTED },
      },
    });
  });
});

describe('audit log', () => {
  it('writes rows in order with an intact chain, and verify accepts it', async () => {
    const path = join(dir, 'a.jsonl');
    const log = await AuditLog.open({ path });
    for (let i = 1; i <= 5; i++) log.append(entry(i));
    await log.close();
    const rows = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0].prev).toBe(GENESIS);
    expect(rows[1].prev).toBe(rows[0].hash);
    expect(await verifyAuditLog(path, { headPath: `${path}.head` })).toEqual({
      ok: true,
      rows: 5,
      keyed: false,
      headSeq: 5,
    });
  });

  it('continues the chain of an existing log after a restart', async () => {
    const path = join(dir, 'a.jsonl');
    const first = await AuditLog.open({ path });
    first.append(entry(1));
    await first.close();
    const second = await AuditLog.open({ path });
    second.append(entry(2));
    await second.close();
    expect(await verifyAuditLog(path, { headPath: `${path}.head` })).toMatchObject({ ok: true, rows: 2 });
  });

  it('hashes canonical JSON, so key order does not matter', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });
});
