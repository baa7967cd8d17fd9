/**
 * Every requirement id is verified by at least one test somewhere in the workspace, every id a
 * test cites exists, and each test cites one id (the exceptions, each with its reason, are listed in
 * src/requirements/several-ids.ts). Read statically from the test sources, so a test that is skipped
 * in this run still counts as covering its ids (the tier summary reports the skip).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Citation, readCitation } from '../src/requirements/citations.js';
import { REQUIREMENTS, verifies } from '../src/requirements/index.js';
import { SEVERAL_IDS } from '../src/requirements/several-ids.js';

const root = join(import.meta.dirname, '..', '..');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Every `verifies(...)` call in the workspace's tests: its file (from the root) and what it cites. */
function verifiesCalls(): Array<Citation & { file: string }> {
  const calls: Array<Citation & { file: string }> = [];
  for (const pkg of readdirSync(root)) {
    let files: string[];
    try {
      files = testFiles(join(root, pkg, 'test'));
    } catch {
      continue;
    }
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      for (const call of source.matchAll(/verifies\(([^)]*)\)/g)) {
        calls.push({ file: relative(join(root, '..'), file), ...readCitation(call[1] ?? '') });
      }
    }
  }
  return calls;
}

/** The ids cited anywhere (with the files citing them), and the `id@era` pairs cited in the era form. */
function citedIds(): Map<string, string[]> & { eras: Set<string> } {
  const cited = Object.assign(new Map<string, string[]>(), { eras: new Set<string>() });
  for (const { file, ids, era } of verifiesCalls()) {
    for (const id of ids) {
      cited.set(id, [...(cited.get(id) ?? []), file]);
      if (era !== undefined) cited.eras.add(`${id}@${era}`);
    }
  }
  return cited;
}

const key = (file: string, ids: ReadonlyArray<string>) => `${file}: ${[...ids].sort().join(', ')}`;

describe('requirements coverage', () => {
  const cited = citedIds();

  it('has every requirement verified by at least one test', () => {
    const missing = REQUIREMENTS.filter((r) => !cited.has(r.id)).map((r) => r.id);
    expect(missing).toEqual([]);
  });

  it('has every requirement verified per era verified in each of its eras', () => {
    const pairs = REQUIREMENTS.flatMap((r) => (r.eras ?? []).map((era) => `${r.id}@${era}`));
    expect(pairs.filter((pair) => !cited.eras.has(pair))).toEqual([]);
  });

  it(verifies('harness.requirements.one-per-test'), () => {
    const listed = new Set(SEVERAL_IDS.map((e) => key(e.file, e.ids)));
    const several = verifiesCalls().filter((c) => c.ids.length > 1);
    // A test citing several ids is one failure away from failing requirements it does not break.
    expect(several.map((c) => key(c.file, c.ids)).filter((k) => !listed.has(k))).toEqual([]);
    // An exception no test makes any more comes off the list.
    const made = new Set(several.map((c) => key(c.file, c.ids)));
    expect([...listed].filter((k) => !made.has(k))).toEqual([]);
    expect(SEVERAL_IDS.filter((e) => e.reason.trim() === '').map((e) => key(e.file, e.ids))).toEqual([]);
  });

  it('has tests cite only known requirement ids', () => {
    const known = new Set(REQUIREMENTS.map((r) => r.id));
    const unknown = [...cited.keys()].filter((id) => !known.has(id));
    expect(unknown).toEqual([]);
  });
});
