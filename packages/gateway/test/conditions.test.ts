import { describe, expect, it } from 'vitest';
import { compileCondition, readPath } from '../src/policy/conditions.js';
import type { ConditionDocument } from '../src/policy/schema.js';

const test = (condition: ConditionDocument, args: Record<string, unknown>) =>
  compileCondition(condition, '/x').evaluate(args);

describe('conditions', () => {
  it('reads paths through own properties only', () => {
    expect(readPath({ a: { b: [10, 20] } }, ['a', 'b', '1'])).toBe(20);
    expect(readPath({ a: {} }, ['a', 'constructor'])).toBeUndefined();
    expect(readPath({ a: [1] }, ['a', 'length'])).toBeUndefined();
    expect(readPath(JSON.parse('{"__proto__":{"x":1}}'), ['__proto__', 'x'])).toBe(1);
  });

  it('compares with eq, neq, in and not_in without coercion', () => {
    expect(test({ path: 'args.n', op: 'eq', value: 1 }, { n: 1 })).toBe(true);
    expect(test({ path: 'args.n', op: 'eq', value: 1 }, { n: '1' })).toBe(false);
    expect(test({ path: 'args.o', op: 'eq', value: { a: [1] } }, { o: { a: [1] } })).toBe(true);
    expect(test({ path: 'args.n', op: 'neq', value: 1 }, {})).toBe(true);
    expect(test({ path: 'args.q', op: 'in', value: [0, 1] }, { q: 1 })).toBe(true);
    expect(test({ path: 'args.q', op: 'not_in', value: [0, 1] }, { q: 2 })).toBe(true);
  });

  it('orders numbers only', () => {
    expect(test({ path: 'args.n', op: 'gt', value: 10 }, { n: 11 })).toBe(true);
    expect(test({ path: 'args.n', op: 'gt', value: 10 }, { n: '11' })).toBe(false);
    expect(test({ path: 'args.n', op: 'lte', value: 10 }, { n: 10 })).toBe(true);
    expect(test({ path: 'args.n', op: 'lt', value: 10 }, { n: 10 })).toBe(false);
    expect(test({ path: 'args.n', op: 'gte', value: 10 }, {})).toBe(false);
  });

  it('matches regex, contains and exists', () => {
    expect(test({ path: 'args.c', op: 'regex', value: '^rm\\s' }, { c: 'rm -rf /' })).toBe(true);
    expect(test({ path: 'args.c', op: 'contains', value: 'sudo' }, { c: 'echo; sudo x' })).toBe(true);
    expect(test({ path: 'args.l', op: 'contains', value: 'b' }, { l: ['a', 'b'] })).toBe(true);
    expect(test({ path: 'args.r', op: 'exists' }, { r: 'why' })).toBe(true);
    expect(test({ path: 'args.r', op: 'exists' }, { r: null })).toBe(false);
    expect(test({ path: 'args.r', op: 'exists', value: false }, {})).toBe(true);
  });

  it('globs paths after normalising them', () => {
    const secret: ConditionDocument = { path: 'args.file', op: 'glob', value: '/etc/**' };
    expect(test(secret, { file: '/etc/passwd' })).toBe(true);
    expect(test(secret, { file: '/tmp/../etc/shadow' })).toBe(true);
    expect(test(secret, { file: '/etc/./ssh/.hidden' })).toBe(true);
    expect(test(secret, { file: '/home/u/etc/x' })).toBe(false);
  });

  it('globs MQTT topics with + and #', () => {
    const sys: ConditionDocument = {
      path: 'args.topic',
      op: 'glob',
      value: ['$SYS/#', 'site/+/cmd'],
      syntax: 'mqtt',
    };
    expect(test(sys, { topic: '$SYS/broker/uptime' })).toBe(true);
    expect(test(sys, { topic: 'site/a/cmd' })).toBe(true);
    expect(test(sys, { topic: 'site/a/b/cmd' })).toBe(false);
    expect(test(sys, { topic: 42 })).toBe(false);
  });
});
