/**
 * The audit chain against someone who can rewrite the log file but does not hold the key: every
 * tampering the issue lists is caught by `verify`, and a gateway does not write on after a log that
 * was cut while it was down.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChainKey, GENESIS, keyIdOf, rowHash } from '../src/audit/chain.js';
import { headPathFor } from '../src/audit/head.js';
import { AuditChainError, type AuditEntry, AuditLog } from '../src/audit/log.js';
import { verifyAuditLog } from '../src/audit/verify.js';

let dir: string;
let log: string;
let heads: string;
const key: ChainKey = (() => {
  const bytes = randomBytes(32);
  return { bytes, id: keyIdOf(bytes) };
})();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-chain-'));
  log = join(dir, 'logs', 'gateway.jsonl');
  heads = join(dir, 'heads');
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
    decision: n % 3 === 0 ? 'deny' : 'allow',
    rule: '/tools/mqttPublish',
    reason: 'r',
    policyVersion: 'abc',
    argKeys: ['topic'],
    args: { topic: `t/${n}` },
    upstream: null,
  };
}

async function writeLog(rows: number): Promise<void> {
  const audit = await AuditLog.open({ path: log, key, headDir: heads });
  for (let i = 1; i <= rows; i++) audit.append(entry(i));
  await audit.close();
}

type Row = Record<string, unknown>;

async function rows(): Promise<Row[]> {
  return (await readFile(log, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Row);
}

async function save(list: Row[]): Promise<void> {
  await writeFile(log, list.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/** What an editor without the key can do: recompute every hash from `from` on, as plain SHA-256 or under a key of their own. */
function rechain(list: Row[], from: number, renumber: boolean, withKey?: ChainKey): Row[] {
  const out = list.map((r) => ({ ...r }));
  for (let i = from; i < out.length; i++) {
    const row = out[i] as Row;
    if (renumber) row.seq = i + 1;
    row.prev = i === 0 ? GENESIS : (out[i - 1] as Row).hash;
    const { hash: _old, ...rest } = row;
    row.hash = rowHash(rest, withKey);
  }
  return out;
}

const verify = () => verifyAuditLog(log, { key, headPath: headPathFor(log, heads) });

describe('keyed audit chain', () => {
  it('verifies an untouched log up to its head, and only with its key', async () => {
    await writeLog(10);
    expect(await verify()).toEqual({ ok: true, rows: 10, keyed: true, headSeq: 10 });
    const other = randomBytes(32);
    expect(
      await verifyAuditLog(log, {
        key: { bytes: other, id: keyIdOf(other) },
        headPath: headPathFor(log, heads),
      }),
    ).toMatchObject({ ok: false, reason: expect.stringMatching(/keyed with key id/) });
    expect(await verifyAuditLog(log, { headPath: headPathFor(log, heads) })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/give its key/),
    });
  });

  it('catches the last row deleted', async () => {
    await writeLog(10);
    await save((await rows()).slice(0, 9));
    expect(await verify()).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/ends at seq 9 .* seq 10/),
    });
  });

  it('catches the last 4 rows deleted', async () => {
    await writeLog(10);
    await save((await rows()).slice(0, 6));
    expect(await verify()).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/ends at seq 6 .* seq 10/),
    });
  });

  it('catches every row deleted', async () => {
    await writeLog(10);
    await writeFile(log, '');
    expect(await verify()).toMatchObject({
      ok: false,
      rows: 0,
      reason: expect.stringMatching(/rows were removed/),
    });
  });

  it('refuses to continue a log truncated while the gateway was down, instead of reusing its seqs', async () => {
    await writeLog(10);
    await save((await rows()).slice(0, 7));
    await expect(AuditLog.open({ path: log, key, headDir: heads })).rejects.toThrow(AuditChainError);
    await expect(AuditLog.open({ path: log, key, headDir: heads })).rejects.toThrow(
      /ends at seq 7 but its head checkpoint is at seq 10/,
    );
    // Nothing was written after it.
    expect((await rows()).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await writeFile(log, '');
    await expect(AuditLog.open({ path: log, key, headDir: heads })).rejects.toThrow(/empty but its head/);
  });

  it('refuses a log whose head checkpoint is gone, and one rewritten at the head', async () => {
    await writeLog(3);
    await rm(headPathFor(log, heads));
    await expect(AuditLog.open({ path: log, key, headDir: heads })).rejects.toThrow(/no head checkpoint/);
    expect(await verify()).toMatchObject({ ok: false, reason: expect.stringMatching(/no head checkpoint/) });
  });

  it('catches a row edited and the chain recomputed after it, with or without a key of the editor’s', async () => {
    await writeLog(10);
    const list = await rows();
    (list[4] as Row).decision = 'allow';
    await save(rechain(list, 4, false));
    expect(await verify()).toMatchObject({
      ok: false,
      line: 5,
      reason: 'hash is a plain SHA-256, not the keyed hash: the row was written without the key',
    });
    const guess = randomBytes(32);
    await save(rechain(list, 4, false, { bytes: guess, id: keyIdOf(guess) }));
    expect(await verify()).toMatchObject({
      ok: false,
      line: 5,
      reason: 'hash does not match the row content under the key',
    });
  });

  it('catches a forged row appended', async () => {
    await writeLog(10);
    const list = await rows();
    const last = list.at(-1) as Row;
    const forged: Row = { ...entry(11), seq: 11, prev: last.hash };
    forged.hash = rowHash(forged);
    await save([...list, forged]);
    expect(await verify()).toMatchObject({
      ok: false,
      line: 11,
      reason: expect.stringMatching(/without the key/),
    });
  });

  it('catches a row deleted and the rest rechained without renumbering', async () => {
    await writeLog(10);
    const list = await rows();
    list.splice(3, 1);
    await save(rechain(list, 3, false));
    expect(await verify()).toMatchObject({
      ok: false,
      line: 4,
      reason: 'seq 5 where 4 was expected: rows are missing or out of order',
    });
  });

  it('catches a row deleted and the rest rechained and renumbered', async () => {
    await writeLog(10);
    const list = await rows();
    list.splice(3, 1);
    await save(rechain(list, 3, true));
    expect(await verify()).toMatchObject({
      ok: false,
      line: 4,
      reason: expect.stringMatching(/without the key/),
    });
  });

  it('catches a gap in seq even where the hashes chain', async () => {
    await writeLog(5);
    const list = await rows();
    (list[2] as Row).seq = 4;
    await save(list);
    expect(await verify()).toMatchObject({
      ok: false,
      line: 3,
      reason: expect.stringMatching(/seq 4 where 3/),
    });
  });

  it('continues a log that reaches its head, cutting off a line torn by a crash', async () => {
    await writeLog(4);
    const text = await readFile(log, 'utf8');
    await writeFile(log, `${text}{"seq":5,"time":"2025-01-01T00:`);
    const audit = await AuditLog.open({ path: log, key, headDir: heads });
    expect(audit.notices).toEqual([expect.stringMatching(/torn last line/)]);
    audit.append(entry(5));
    await audit.close();
    expect(await verify()).toEqual({ ok: true, rows: 5, keyed: true, headSeq: 5 });
  });

  it('checks the end of a long log from the head row in its last MiB, or from the start when the head is further back', async () => {
    const audit = await AuditLog.open({ path: log, key, headDir: heads });
    audit.append(entry(1));
    await audit.close();
    const early = await readFile(headPathFor(log, heads), 'utf8');
    const again = await AuditLog.open({ path: log, key, headDir: heads });
    const big = { ...entry(2), args: { topic: 'x'.repeat(1500) } };
    for (let i = 0; i < 1200; i++) again.append(big);
    await again.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 1201, headSeq: 1201 });

    // The head's row is in the last MiB: a rewrite of it is caught at start.
    const list = await rows();
    const original = { ...(list[1200] as Row) };
    (list[1200] as Row).reason = 'edited';
    await save(list);
    await expect(AuditLog.open({ path: log, key, headDir: heads })).rejects.toThrow(
      /row 1201 is not the row/,
    );
    list[1200] = original;
    await save(list);

    // An older (still valid) head, far back: the whole log is walked, and it reaches that head.
    await writeFile(headPathFor(log, heads), early);
    const later = await AuditLog.open({ path: log, key, headDir: heads });
    later.append(entry(3));
    await later.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 1202, headSeq: 1202 });
  });
});
