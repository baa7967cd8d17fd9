import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildCommand, shellQuote } from '../src/index.js';

const sh = (line: string) => execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' });

describe('shell quoting', () => {
  it('passes any string through /bin/sh unchanged', () => {
    for (const value of ["it's", '"$HOME" `id` $(id) \\ \n ; | & * ?', "'", "''", '', 'ü €', '-n']) {
      expect(sh(`printf '%s' ${shellQuote(value)}`)).toBe(value);
    }
  });

  it('leaves a command without cwd or env unchanged', () => {
    expect(buildCommand('echo hi').line).toBe('echo hi');
  });

  it('exports env and changes directory before the command, and never runs it when cd fails', () => {
    const ok = buildCommand('printf "%s|%s" "$PWD" "$X"', '/tmp', { X: "a'b" });
    expect(sh(ok.line)).toBe("/tmp|a'b");
    const failed = buildCommand('echo RAN', '/nonexistent dir');
    let stderr = '';
    let status = 0;
    try {
      execFileSync('/bin/sh', ['-c', failed.line], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      stderr = String((err as { stderr: string }).stderr);
      status = (err as { status: number }).status;
      expect(String((err as { stdout: string }).stdout)).toBe('');
    }
    expect(status).toBe(1);
    expect(stderr).toContain(failed.cwdFailedMarker);
  });
});
