/**
 * The commands the READMEs write work as written after `pnpm install` on a fresh clone: every bin is
 * linked into the workspace root's node_modules/.bin (so `pnpm exec bastion-mqtt` and a gateway
 * config's `"command": "bastion-mqtt"` under `pnpm exec bastion-gateway` find it), and answers
 * --version and --help.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { HARNESS_ROOT } from '../src/suites/paths.js';

const run = promisify(execFile);
const ROOT_BIN = join(HARNESS_ROOT, '..', '..', 'node_modules', '.bin');

describe('the bins as the READMEs write them', () => {
  it(verifies('http.bins.runnable'), { timeout: 180_000 }, async () => {
    await Promise.all(
      ['bastion', 'bastion-mqtt', 'bastion-ssh', 'bastion-gateway'].map(async (bin) => {
        const version = await run(join(ROOT_BIN, bin), ['--version']);
        expect(version.stdout.trim(), bin).toMatch(/^\d+\.\d+\.\d+$/);
        const help = await run(join(ROOT_BIN, bin), ['--help']);
        expect(help.stdout, bin).toContain(`Usage: ${bin}`);
      }),
    );
    // The harness's help names every command it has, the sandbox and the conformance runs included.
    const help = await run(join(ROOT_BIN, 'bastion'), ['--help']);
    for (const command of ['sandbox', 'test', 'bench'])
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });
});
