import { describe, expect, it } from 'vitest';
import { conditionsStep } from '../src/pipeline/steps/conditions.js';
import { compileCondition } from '../src/policy/conditions.js';
import { readRemotePath } from '../src/policy/paths.js';
import type { ConditionDocument } from '../src/policy/schema.js';
import { context, fakeTarget, policy } from './helpers.js';

describe('remote paths', () => {
  it.each([
    ['/etc/passwd', '/etc/passwd', false],
    ['//etc///./passwd/', '/etc/passwd', false],
    ['/../../etc/passwd', '/etc/passwd', false],
    ['/tmp/../etc/passwd', '/etc/passwd', true],
    ['/proc/self/root/etc/passwd', '/etc/passwd', false],
    ['/proc/thread-self/root/proc/self/root/etc', '/etc', false],
    ['/proc/self/task/42/root/etc/shadow', '/etc/shadow', false],
    ['/proc/self/root/../etc/shadow', '/etc/shadow', false],
    ['/proc/self', '/proc/self', false],
  ])('reads %s as %s (uncertain: %s)', (value, path, uncertain) => {
    expect(readRemotePath(value)).toEqual({ kind: 'known', path, uncertain });
  });

  it.each([
    ['../../etc/passwd', /relative/],
    ['etc/passwd', /relative/],
    ['~/.ssh/id_rsa', /relative/],
    ['', /relative/],
    ['/proc/1/root/etc/passwd', /\/proc\/1\/root/],
    ['/proc/self/cwd/../etc/passwd', /\/proc\/self\/cwd/],
    ['/proc/self/fd/3/passwd', /\/proc\/self\/fd/],
    ['/dev/fd/3/etc', /\/dev\/fd/],
    ['/etc/pass\0wd', /NUL/],
  ])('cannot know where %s leads', (value, why) => {
    const reading = readRemotePath(value);
    expect(reading.kind).toBe('unknown');
    expect(reading.kind === 'unknown' && reading.why).toMatch(why);
  });
});

const evaluate = (condition: ConditionDocument, value: unknown) =>
  compileCondition(condition, '/x').evaluate({ p: value });

describe('path conditions', () => {
  const etc: ConditionDocument = { path: 'args.p', op: 'glob', value: '/etc/**' };

  it('match the normalised path, and the aliases of / the kernel gives', () => {
    expect(evaluate(etc, '/proc/self/root/etc/passwd')).toBe(true);
    expect(evaluate(etc, '/etc/./ssh/../passwd')).toBe(true);
    expect(evaluate(etc, '/home/u/etc')).toBe(false);
    expect(evaluate(etc, 42)).toBe(false);
  });

  it('are unknown for a relative path, a process link, or a non-match after ".."', () => {
    expect(evaluate(etc, '../../etc/passwd')).toEqual({ unknown: expect.stringMatching(/relative/) });
    expect(evaluate(etc, '/proc/1/root/etc/passwd')).toEqual({ unknown: expect.stringMatching(/proc\(5\)/) });
    // Debian links /var/run to /run: the remote reads /var/run/../etc/passwd as /etc/passwd.
    expect(evaluate(etc, '/var/run/../etc/passwd')).toEqual({
      unknown: expect.stringMatching(/symbolic link/),
    });
  });

  it('apply to eq, in and regex with syntax "path", and their negations stay unknown', () => {
    const eq: ConditionDocument = { path: 'args.p', op: 'eq', value: '/srv/app/', syntax: 'path' };
    expect(evaluate(eq, '/srv//app/.')).toBe(true);
    const notIn: ConditionDocument = { path: 'args.p', op: 'not_in', value: ['/srv/app'], syntax: 'path' };
    expect(evaluate(notIn, '/srv/app')).toBe(false);
    expect(evaluate(notIn, 'app')).toEqual({ unknown: expect.any(String) });
    const re: ConditionDocument = { path: 'args.p', op: 'regex', value: '^/etc/', syntax: 'path' };
    expect(evaluate(re, '/tmp/../etc/x')).toBe(true);
    // Without syntax "path", eq compares strings as before.
    expect(evaluate({ path: 'args.p', op: 'eq', value: '/srv/app' }, '/srv/app/')).toBe(false);
  });
});

describe('path conditions in the pipeline', () => {
  async function decide(rule: Record<string, unknown>, args: Record<string, unknown>) {
    const p = policy({ version: '1', default: 'deny', tools: { downloadFile: rule } });
    const target = fakeTarget(['downloadFile']);
    const compiled = p.rules.get('downloadFile');
    const ctx = context({
      tool: 'downloadFile',
      target,
      args,
      policy: p,
      ...(compiled ? { rule: compiled } : {}),
    });
    const result = await conditionsStep.run(ctx, async () => ({ content: [{ type: 'text', text: 'ran' }] }));
    return { denied: result.isError === true, reason: ctx.decision?.reason ?? '' };
  }

  const denyEtc = { deny_if: [{ path: 'args.remotePath', op: 'glob', value: '/etc/**' }] };
  const requireHome = { require: [{ path: 'args.remotePath', op: 'glob', value: '/home/app/**' }] };

  it('a deny rule denies ../../etc/passwd and /proc/self/root/etc/passwd', async () => {
    expect(await decide(denyEtc, { remotePath: '../../etc/passwd' })).toEqual({
      denied: true,
      reason:
        'cannot tell whether args.remotePath glob "/etc/**": \'../../etc/passwd\' is relative: the remote resolves it against a directory the gateway does not know',
    });
    expect((await decide(denyEtc, { remotePath: '/proc/self/root/etc/passwd' })).denied).toBe(true);
    expect((await decide(denyEtc, { remotePath: '/home/app/notes.txt' })).denied).toBe(false);
  });

  it('a require rule refuses a relative path and admits a path inside it', async () => {
    expect((await decide(requireHome, { remotePath: 'notes.txt' })).denied).toBe(true);
    expect((await decide(requireHome, { remotePath: '/home/app/../app/notes.txt' })).denied).toBe(false);
    expect((await decide(requireHome, { remotePath: '/home/app/../../etc/passwd' })).denied).toBe(true);
  });
});

describe('path conditions in a policy', () => {
  it('are refused at load when a value or pattern is not absolute, as it could never match', async () => {
    const { parsePolicy } = await import('../src/policy/load.js');
    const result = parsePolicy({
      version: '1',
      default: 'deny',
      tools: {
        exec: {
          require: [{ path: 'args.cwd', op: 'glob', value: ['/srv/**', '**/tmp', 'srv/*'] }],
          deny_if: [
            { path: 'args.cwd', op: 'in', value: ['/etc', 'etc'], syntax: 'path' },
            { path: 'args.cwd', op: 'eq', value: 'etc' },
          ],
        },
      },
    });
    expect(result.ok ? [] : result.problems.map((p) => p.pointer)).toEqual([
      '/tools/exec/require/0/value/2',
      '/tools/exec/deny_if/0/value/1',
    ]);
  });
});
