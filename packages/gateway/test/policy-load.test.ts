import { describe, expect, it } from 'vitest';
import { isCallable, isHidden, mayDenyAfterListing } from '../src/policy/compile.js';
import { parsePolicy, parsePolicyText } from '../src/policy/load.js';

// The two policies of POLICY.md, verbatim.
const MQTT_POLICY = `{"version":"1","default":"deny","tools":{"mqttDisconnect":{"limits":[
  {"counter":"mqttdisconnect_rate","window":"minute","max":60,"scope":"grant"}]}}}`;
const SSH_POLICY = `{"version":"1","default":"deny","tools":{"disconnect":{"limits":[
  {"counter":"disconnect_rate","window":"minute","max":30,"scope":"grant"}]}}}`;

function ok(text: string) {
  const result = parsePolicyText(text);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.policy;
}

function problems(value: unknown) {
  const result = parsePolicy(value);
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

describe('policy loading', () => {
  it('loads the two POLICY.md policies unchanged', () => {
    const mqtt = ok(MQTT_POLICY);
    expect(mqtt.default).toBe('deny');
    expect(mqtt.rules.get('mqttDisconnect')?.limits).toEqual([
      {
        pointer: '/tools/mqttDisconnect/limits/0',
        counter: 'mqttdisconnect_rate',
        windowMs: 60_000,
        max: 60,
        scope: 'grant',
        sliding: false,
      },
    ]);
    expect(isCallable(mqtt, 'mqttDisconnect')).toBe(true);
    expect(isCallable(mqtt, 'mqttConnect')).toBe(false);
    const ssh = ok(SSH_POLICY);
    expect(ssh.rules.get('disconnect')?.limits[0]?.max).toBe(30);
  });

  it('reports every problem at once, each with its JSON Pointer', () => {
    const found = problems({
      version: '2',
      default: 'maybe',
      tools: {
        a: {
          limits: [{ counter: 'c', window: 'week', max: -1 }],
          require: [{ path: 'x', op: 'eq', value: 1 }],
        },
        'b/c': { deny_if: [{ path: 'args.n', op: 'gt', value: 'ten' }] },
      },
    });
    const pointers = found.map((p) => p.pointer);
    expect(pointers).toEqual(
      expect.arrayContaining([
        '/version',
        '/default',
        '/tools/a/limits/0/window',
        '/tools/a/limits/0/max',
        '/tools/a/require/0/path',
        '/tools/b~1c/deny_if/0/value',
      ]),
    );
    expect(found.length).toBe(6);
  });

  it('treats unknown keys as errors, naming each', () => {
    const found = problems({
      version: '1',
      default: 'deny',
      extra: true,
      tools: { t: { limit: [], deny_if: [{ path: 'args.a', op: 'eq', value: 1, flags: 'i' }] } },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        { pointer: '/extra', message: 'unknown key' },
        { pointer: '/tools/t/limit', message: 'unknown key' },
        { pointer: '/tools/t/deny_if/0/flags', message: 'unknown key' },
      ]),
    );
  });

  it('rejects an unknown operator and an invalid regular expression', () => {
    const found = problems({
      version: '1',
      default: 'allow',
      tools: {
        t: {
          require: [
            { path: 'args.a', op: 'like', value: 'x' },
            { path: 'args.a', op: 'regex', value: '(' },
          ],
        },
      },
    });
    expect(found.map((p) => p.pointer)).toEqual(['/tools/t/require/0/op', '/tools/t/require/1/value']);
  });

  it('rejects limits that share a counter with different windows', () => {
    const found = problems({
      version: '1',
      default: 'allow',
      all_tools: { limits: [{ counter: 'calls', window: 'minute', max: 100 }] },
      tools: { t: { limits: [{ counter: 'calls', window: 'hour', max: 10 }] } },
    });
    expect(found).toHaveLength(1);
    expect(found[0]?.pointer).toBe('/tools/t/limits/0/window');
  });

  it('accepts the extensions: numeric windows, scopes, sliding, action with reason, glob', () => {
    const policy = ok(
      JSON.stringify({
        version: '1',
        default: 'allow',
        hide: ['secretTool'],
        tools: {
          exec: {
            action: 'deny',
            reason: 'no shell access',
          },
          publish: {
            limits: [{ counter: 'p', window: 10, max: 5, scope: 'session', sliding: true }],
            deny_if: [{ path: 'args.topic', op: 'glob', value: ['$SYS/#', 'admin/+/cmd'], syntax: 'mqtt' }],
          },
        },
      }),
    );
    expect(policy.rules.get('publish')?.limits[0]).toMatchObject({
      windowMs: 10_000,
      scope: 'session',
      sliding: true,
    });
    expect(isCallable(policy, 'exec')).toBe(false);
    expect(isHidden(policy, 'secretTool')).toBe(true);
    expect(isCallable(policy, 'anythingElse')).toBe(true);
    expect(mayDenyAfterListing(policy, 'publish')).toBe(true);
    expect(mayDenyAfterListing(policy, 'anythingElse')).toBe(false);
  });

  it('hides every tool with "*"', () => {
    const policy = ok('{"version":"1","default":"allow","hide":"*","tools":{"a":{}}}');
    expect(isHidden(policy, 'a')).toBe(true);
    expect(isCallable(policy, 'a')).toBe(false);
  });

  it('matches tool names exactly, prototype names included', () => {
    const policy = ok('{"version":"1","default":"deny","tools":{"mqttDisconnect":{}}}');
    expect(isCallable(policy, 'mqttdisconnect')).toBe(false);
    expect(isCallable(policy, 'mqttDisconnеct')).toBe(false); // Cyrillic "е"
    expect(isCallable(policy, 'constructor')).toBe(false);
    expect(isCallable(policy, '__proto__')).toBe(false);
  });

  it('reports text that is not JSON', () => {
    const result = parsePolicyText('{"version":');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]?.pointer).toBe('');
  });

  it('gives each document a version hash', () => {
    expect(ok(MQTT_POLICY).version).toMatch(/^[0-9a-f]{16}$/);
    expect(ok(MQTT_POLICY).version).not.toBe(ok(SSH_POLICY).version);
  });
});
