/**
 * Every requirement id is verified by at least one test somewhere in the workspace, and every id a
 * test cites exists. Read statically from the test sources, so a test that is skipped in this run
 * still counts as covering its ids (the tier summary reports the skip).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCitation } from '../src/requirements/citations.js';
import { REQUIREMENTS } from '../src/requirements/index.js';

const root = join(import.meta.dirname, '..', '..');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** The ids cited anywhere (with the files citing them), and the `id@era` pairs cited in the era form. */
function citedIds(): Map<string, string[]> & { eras: Set<string> } {
  const cited = Object.assign(new Map<string, string[]>(), { eras: new Set<string>() });
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
        const { ids, era } = readCitation(call[1] ?? '');
        for (const id of ids) {
          cited.set(id, [...(cited.get(id) ?? []), file]);
          if (era !== undefined) cited.eras.add(`${id}@${era}`);
        }
      }
    }
  }
  return cited;
}

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

  it('has tests cite only known requirement ids', () => {
    const known = new Set(REQUIREMENTS.map((r) => r.id));
    const unknown = [...cited.keys()].filter((id) => !known.has(id));
    expect(unknown).toEqual([]);
  });
});
