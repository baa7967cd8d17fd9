/**
 * Every requirement id is verified by at least one test somewhere in the workspace, and every id a
 * test cites exists. Read statically from the test sources, so a test that is skipped in this run
 * still counts as covering its ids (the tier summary reports the skip).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REQUIREMENTS } from '../src/requirements/index.js';

const root = join(import.meta.dirname, '..', '..');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

function citedIds(): Map<string, string[]> {
  const cited = new Map<string, string[]>();
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
        for (const id of (call[1] ?? '').matchAll(/'([a-z0-9.-]+)'/g)) {
          const list = cited.get(id[1] ?? '') ?? [];
          list.push(file);
          cited.set(id[1] ?? '', list);
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

  it('has tests cite only known requirement ids', () => {
    const known = new Set(REQUIREMENTS.map((r) => r.id));
    const unknown = [...cited.keys()].filter((id) => !known.has(id));
    expect(unknown).toEqual([]);
  });
});
