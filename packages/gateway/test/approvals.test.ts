import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { argumentsHash, type Binding, bindingKey, bindingMismatch } from '../src/approvals/binding.js';
import { ApprovalBook } from '../src/approvals/book.js';
import { QuotaHolds } from '../src/approvals/quota.js';
import { planFor } from '../src/approvals/waiting.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { parsePolicy } from '../src/policy/load.js';
import { MemoryStateStore } from '../src/store/memory-store.js';
import { FakeClock, policy } from './helpers.js';

const binding: Binding = {
  grant: 'alice',
  server: 'ssh',
  tool: 'exec',
  argsHash: argumentsHash({ command: 'ls' }),
  policyVersion: 'v1',
};

function book(clock = new FakeClock(1_000_000)) {
  const store = new MemoryStateStore({ now: () => clock.now() });
  return { clock, store, book: new ApprovalBook(store, clock, 10) };
}

async function open(b: ApprovalBook, timeoutMs = 60_000) {
  return b.create({
    ...binding,
    bindingKey: bindingKey(binding),
    arguments: { command: 'ls' },
    rule: '/tools/exec/action',
    reason: 'every call of this tool needs approval',
    approvers: ['console'],
    way: 'retry',
    timeoutMs,
  });
}

describe('the argument hash an approval is bound to', () => {
  it('is the same for the same arguments in any key order or number spelling, and differs otherwise', () => {
    expect(argumentsHash({ a: 1, b: { c: [1, 2], d: 'x' } })).toBe(
      argumentsHash({ b: { d: 'x', c: [1, 2] }, a: 1.0 }),
    );
    expect(argumentsHash({ a: 1 })).not.toBe(argumentsHash({ a: '1' }));
    expect(argumentsHash({ path: '/tmp/x' })).not.toBe(argumentsHash({ path: '/tmp/x', recursive: true }));
  });

  it('names what differs between the approved call and the one presented', () => {
    expect(bindingMismatch(binding, binding)).toBeUndefined();
    expect(bindingMismatch(binding, { ...binding, grant: 'bob' })).toBe('another grant');
    expect(bindingMismatch(binding, { ...binding, argsHash: argumentsHash({ command: 'rm -rf /' }) })).toBe(
      'other arguments',
    );
    expect(bindingMismatch(binding, { ...binding, policyVersion: 'v2' })).toBe(
      'another version of the policy',
    );
  });
});

describe('the approval book', () => {
  it('lets exactly one decision win, and an approval be redeemed exactly once', async () => {
    const { book: b } = book();
    const record = await open(b);
    const [one, two] = await Promise.all([
      b.decide(record.id, true, 'ann'),
      b.decide(record.id, false, 'bob'),
    ]);
    expect([one.ok, two.ok].filter(Boolean)).toHaveLength(1);
    const after = await b.get(record.id);
    if (after?.status !== 'approved') throw new Error(`expected approved, got ${after?.status}`);
    const redeemed = await Promise.all([b.redeem(record.id), b.redeem(record.id), b.redeem(record.id)]);
    expect(redeemed.filter(Boolean)).toHaveLength(1);
    expect((await b.get(record.id))?.status).toBe('consumed');
  });

  it('expires a pending approval at its deadline, and an approved one not used within the timeout', async () => {
    const { book: b, clock } = book();
    const pending = await open(b, 1_000);
    clock.advance(1_000);
    expect(await b.get(pending.id)).toMatchObject({ status: 'expired', decidedBy: '(timeout)' });
    expect((await b.decide(pending.id, true, 'ann')).ok).toBe(false);
    const approved = await open(b, 1_000);
    await b.decide(approved.id, true, 'ann');
    clock.advance(999);
    expect((await b.get(approved.id))?.status).toBe('approved');
    clock.advance(1);
    expect(await b.redeem(approved.id)).toBe(false);
    expect((await b.get(approved.id))?.decisionReason).toContain(
      'approved by ann, but the call was not made in time',
    );
  });

  it('finds an approval by its binding until the agent is told how it ended', async () => {
    const { book: b } = book();
    const record = await open(b);
    expect((await b.byBinding(bindingKey(binding)))?.id).toBe(record.id);
    await b.forgetBinding(bindingKey(binding));
    expect(await b.byBinding(bindingKey(binding))).toBeUndefined();
  });
});

describe('quota held for a call waiting for approval', () => {
  it('is returned on a denial and kept once the approved call ran elsewhere', async () => {
    const { book: b, clock } = book();
    const counters = new MemoryCounterStore();
    const holds = new QuotaHolds(b, pino({ level: 'silent' }), 10);
    const reserve = async () => {
      const r = await counters.reserve({
        key: 'k',
        windowMs: 60_000,
        max: 5,
        now: clock.now(),
        sliding: false,
      });
      if (!r.ok) throw new Error('limit');
      return r.reservation;
    };
    const denied = await open(b);
    holds.hold(denied.id, [await reserve()]);
    expect(counters.count('k', clock.now())).toBe(1);
    await b.decide(denied.id, false, 'ann');
    await expect.poll(() => counters.count('k', clock.now())).toBe(0);
    const ran = await open(b);
    holds.hold(ran.id, [await reserve()]);
    await b.decide(ran.id, true, 'ann');
    // Another replica redeemed it and recorded that the call ran.
    expect(await b.redeem(ran.id)).toBe(true);
    await b.recordRun(ran.id, true);
    await expect.poll(() => holds.size).toBe(0);
    expect(counters.count('k', clock.now())).toBe(1);
    await holds.close();
    b.close();
  });
});

describe('how an agent waits', () => {
  it('prefers input_required, then elicitation, then the retry error, by what the agent declared', () => {
    const modern = { era: 'modern' as const, elicitation: { form: true, url: true } };
    expect(planFor(modern, ['console'], true)).toEqual({ way: 'input_required', ask: 'console-url' });
    expect(planFor(modern, ['user', 'console'], true)).toEqual({ way: 'input_required', ask: 'decide' });
    const legacy = { era: 'legacy' as const, elicitation: { form: true, url: false }, ask: async () => ({}) };
    expect(planFor(legacy, ['console'], true)).toEqual({ way: 'elicitation', ask: 'console-form' });
    expect(planFor({ era: 'legacy', elicitation: undefined }, ['console'], true)).toEqual({ way: 'retry' });
    // Only the user may decide, and nobody can ask them; or only the console, and there is none.
    expect(planFor({ era: 'legacy', elicitation: undefined }, ['user'], true)).toBeUndefined();
    expect(planFor({ era: 'modern', elicitation: undefined }, ['console'], false)).toBeUndefined();
  });
});

describe('the policy format', () => {
  it('compiles require_approval, require_approval_if and approval with their defaults', () => {
    const p = policy({
      version: '1',
      default: 'deny',
      tools: {
        exec: { action: 'require_approval', approval: { timeout: '30s', approvers: ['user', 'console'] } },
        upload: { require_approval_if: [{ path: 'args.path', op: 'glob', value: '/etc/**' }] },
      },
    });
    expect(p.rules.get('exec')?.approval).toEqual({
      timeoutMs: 30_000,
      onTimeout: 'deny',
      approvers: ['user', 'console'],
    });
    expect(p.rules.get('upload')?.approval).toEqual({
      timeoutMs: 600_000,
      onTimeout: 'deny',
      approvers: ['console'],
    });
    expect(p.rules.get('upload')?.requireApprovalIf[0]?.pointer).toBe('/tools/upload/require_approval_if/0');
  });

  it('refuses approval settings that could not apply, an on_timeout other than deny, and bad durations', () => {
    const problems = (rule: unknown) => {
      const result = parsePolicy({ version: '1', default: 'deny', tools: { t: rule } });
      return result.ok ? [] : result.problems.map((p) => p.pointer);
    };
    expect(problems({ approval: { timeout: '1m' } })).toEqual(['/tools/t/approval']);
    expect(problems({ action: 'require_approval', approval: { on_timeout: 'allow' } })).toEqual([
      '/tools/t/approval/on_timeout',
    ]);
    expect(problems({ action: 'require_approval', approval: { timeout: '10 minutes' } })).toEqual([
      '/tools/t/approval/timeout',
    ]);
    expect(problems({ action: 'require_approval', approval: { approvers: ['everyone'] } })).toEqual([
      '/tools/t/approval/approvers/0',
    ]);
  });
});
