/**
 * The gateway tests' child processes seen from outside: the stdio upstreams the gateway spawned, found
 * by an environment marker, and `bastion-gateway audit verify` run on an audit file. (The real servers
 * over HTTP are started with src/targets/mcp-process.ts.)
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { BASTION_BINS } from '../../src/targets/mcp-process.js';

const run = promisify(execFile);

/** PIDs of processes whose environment holds `name=value` (Linux /proc). */
export async function pidsWithEnv(name: string, value: string): Promise<number[]> {
  const needle = `${name}=${value}`;
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, 'utf8');
      if (environ.split('\0').includes(needle)) found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** `bastion-gateway audit verify FILE [...flags]`: its exit code and what it printed. */
export async function verifyAudit(
  file: string,
  flags: string[] = [],
): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [BASTION_BINS.gateway, 'audit', 'verify', file, ...flags]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}
