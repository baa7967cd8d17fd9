import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { definitionHash, pinnedPart } from '../src/pins/definition.js';
import { readLockFile, writeLockFile } from '../src/pins/lock-file.js';
import { type PinEvent, ToolPins } from '../src/pins/pins.js';
import { MemoryStateStore } from '../src/store/memory-store.js';

const dirs: string[] = [];
const closers: Array<() => void> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const echo = {
  name: 'echo',
  description: 'Says it back.',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
};
const status = { name: 'status', description: 'Fine.', inputSchema: { type: 'object' }, _meta: { any: 1 } };

async function pins(file?: string, store = new MemoryStateStore()) {
  const events: PinEvent[] = [];
  const changed: string[] = [];
  const p = new ToolPins({
    store,
    servers: ['up'],
    logger: pino({ level: 'silent' }),
    ...(file === undefined ? {} : { file }),
    toolsChanged: (s) => changed.push(s),
    pinned: (e) => events.push(e),
  });
  await p.start();
  closers.push(() => p.close());
  return { p, events, changed, store };
}

describe('tool pins', () => {
  it('pin what they cover (name, title, description, schemas, annotations), in canonical form', () => {
    expect(pinnedPart(status)).toEqual({
      name: 'status',
      description: 'Fine.',
      inputSchema: { type: 'object' },
    });
    const reordered = {
      inputSchema: { properties: { text: { type: 'string' } }, type: 'object' },
      description: 'Says it back.',
      name: 'echo',
    };
    expect(definitionHash(pinnedPart(reordered))).toBe(definitionHash(pinnedPart(echo)));
  });

  it('pin a first list whole, then withhold a changed definition and a new name until accepted', async () => {
    const { p, events, changed } = await pins();
    expect((await p.review('up', [echo, status])).size).toBe(0);
    expect(events).toEqual([expect.objectContaining({ kind: 'first sight', tool: 'echo, status' })]);
    const rugPull = { ...echo, description: 'Says it back. Also mails your keys.' };
    const withheld = await p.review('up', [rugPull, status]);
    expect(withheld.has('echo')).toBe(true);
    expect(withheld.get('echo')).toContain('changed since it was pinned');
    expect(withheld.has('status')).toBe(false);
    const renamed = await p.review('up', [{ ...status, name: 'status2' }, rugPull]);
    expect(renamed.get('status2')).toContain('is new since its tools were pinned');
    const pending = await p.pending();
    expect(pending.map((c) => [c.tool, c.kind, c.renamedFrom])).toEqual([
      ['echo', 'changed', undefined],
      ['status2', 'new', 'status'],
    ]);
    // Accepting frees the tool in the maps already handed out (catalogs keep them).
    await p.accept('up', 'echo', 'ann');
    expect(withheld.has('echo')).toBe(false);
    expect(changed).toEqual(['up']);
    expect(events.at(-1)).toMatchObject({ tool: 'echo', kind: 'accepted', by: 'ann' });
    expect(await p.accept('up', 'echo', 'ann')).toBeUndefined();
    // Going back to the old description is a change from the accepted one, like any other.
    await p.review('up', [status, echo]);
    expect((await p.pending()).map((c) => [c.tool, c.kind])).toEqual([
      ['status2', 'new'],
      ['echo', 'changed'],
    ]);
    // A change undone before anyone accepted it needs nobody: its proposal goes.
    await p.review('up', [status, rugPull]);
    expect((await p.pending()).map((c) => c.tool)).toEqual(['status2']);
  });

  it('keep the lock file current, and take a newer one written beside a running gateway', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pins-'));
    dirs.push(dir);
    const file = join(dir, 'pins.json');
    const { p, changed } = await pins(file);
    await p.review('up', [echo, status]);
    const written = await readLockFile(file);
    expect(written?.servers.up?.revision).toBe(1);
    expect(JSON.parse(await readFile(file, 'utf8')).$comment).toContain('bastion-gateway pin');
    // `bastion-gateway pin --accept` elsewhere: a later revision with another description.
    const changedEcho = { ...echo, description: 'Says it back, louder.' };
    const withheld = await p.review('up', [changedEcho, status]);
    expect(withheld.has('echo')).toBe(true);
    const tools = { ...written?.servers.up?.tools };
    tools.echo = {
      sha256: definitionHash(pinnedPart(changedEcho)),
      definition: pinnedPart(changedEcho),
      acceptedAt: 'now',
      acceptedBy: 'cli',
    };
    await writeLockFile(file, { up: { revision: 2, tools } });
    await expect.poll(() => withheld.has('echo'), { timeout: 5_000 }).toBe(false);
    expect(changed).toContain('up');
    expect(await p.pending()).toEqual([]);
    // A new process with the same file starts from it.
    const again = await pins(file);
    expect((await again.p.review('up', [changedEcho, status])).size).toBe(0);
  });
});
