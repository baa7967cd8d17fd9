import mqttMatch from 'mqtt-match';
import { describe, expect, it } from 'vitest';
import { compileCondition } from '../src/policy/conditions.js';
import { parsePolicy } from '../src/policy/load.js';
import { relateFilter, relateSubscription, topicFilterProblem } from '../src/policy/mqtt-topics.js';

/**
 * The oracle: whether `filter` matches the topic name `topic`, as a broker decides it. mqtt-match
 * does the levels; [MQTT-4.7.2-1] ($-topics are not matched by a leading wildcard) is added here.
 */
function matches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  return mqttMatch(filter, topic);
}

/** Every string of up to `maxLevels` levels over `alphabet`, except the empty string. */
function topics(alphabet: ReadonlyArray<string>, maxLevels: number): string[] {
  let current: string[][] = [[]];
  const out: string[] = [];
  for (let n = 1; n <= maxLevels; n++) {
    current = current.flatMap((prefix) => alphabet.map((level) => [...prefix, level]));
    out.push(...current.map((levels) => levels.join('/')).filter((t) => t !== ''));
  }
  return out;
}

/** For each filter, which topics of the universe it matches (the oracle, worked out once). */
function matchSets(filters: ReadonlyArray<string>, universe: ReadonlyArray<string>): Map<string, Uint8Array> {
  return new Map(filters.map((f) => [f, Uint8Array.from(universe, (t) => (matches(f, t) ? 1 : 0))]));
}

/** The relation by brute force over the representative topics. */
function bruteForce(filter: Uint8Array, patterns: ReadonlyArray<Uint8Array>) {
  let inside = 0;
  let outside = 0;
  for (let i = 0; i < filter.length; i++) {
    if (filter[i] === 0) continue;
    if (patterns.some((p) => p[i] === 1)) inside++;
    else outside++;
  }
  if (inside > 0 && outside === 0) return 'inside';
  if (inside === 0) return 'outside';
  return 'partly';
}

describe('MQTT topic filters against patterns', () => {
  it.each([
    // [filter, patterns, relation]: the cases first.
    ['#', ['secret/#'], 'partly'],
    ['+/#', ['secret/#'], 'partly'],
    ['+/x', ['secret/#'], 'partly'],
    ['secret/+', ['secret/#'], 'inside'],
    ['secret', ['secret/#'], 'inside'],
    ['secret/#', ['secret/#'], 'inside'],
    ['public/#', ['secret/#'], 'outside'],
    ['+/x', ['secret/x'], 'partly'],
    ['+/y', ['secret/x'], 'outside'],
    ['a/b/c', ['a/+/c'], 'inside'],
    ['a/b/c/d', ['a/+/c'], 'outside'],
    // `a/#` is `a` plus everything under it: covered by the two together, by neither alone.
    ['a/#', ['a', 'a/+/#'], 'inside'],
    ['a/#', ['a/+/#'], 'partly'],
    ['a/#', ['a'], 'partly'],
    // [MQTT-4.7.2-1]: a leading wildcard never reaches a $-topic, and a $-filter is only what it names.
    ['#', ['$SYS/#'], 'outside'],
    ['+/broker/uptime', ['$SYS/#'], 'outside'],
    ['$SYS/#', ['#'], 'outside'],
    ['$SYS/#', ['$SYS/#'], 'inside'],
    ['$SYS/broker/+', ['+/broker/+'], 'outside'],
    ['$SYS/broker/+', ['$SYS/+/+'], 'inside'],
    ['#', ['#'], 'inside'],
    ['#', ['+', '+/#'], 'inside'],
    ['+/+', ['+/#'], 'inside'],
    ['/', ['+/+'], 'inside'],
    ['/#', ['+/#'], 'inside'],
    ['/#', ['/+/#'], 'inside'],
    ['/#', ['+'], 'outside'],
  ])('%s against %j is %s', (filter, patterns, relation) => {
    expect(relateFilter(filter, patterns)).toBe(relation);
  });

  it('agrees with brute force over every filter pair of up to three levels, $SYS included', () => {
    const levels = ['a', 'b', '', '$SYS', '+'];
    const filters = [...topics(levels, 3), ...topics(levels, 2).map((f) => `${f}/#`), '#'].filter(
      (f) => topicFilterProblem(f) === undefined,
    );
    // Representative topics: every literal in play, plus another level and another $-level, one level
    // longer than the longest filter (beyond that no filter tells topics apart).
    const universe = topics(['a', 'b', '', '$SYS', 'other', '$other'], 4);
    const sets = matchSets(filters, universe);
    const of = (f: string) => sets.get(f) ?? new Uint8Array();
    const wrong: string[] = [];
    let checked = 0;
    const check = (filter: string, patterns: string[]) => {
      const got = relateFilter(filter, patterns);
      const want = bruteForce(of(filter), patterns.map(of));
      if (got !== want) wrong.push(`${filter} against ${JSON.stringify(patterns)}: ${got}, not ${want}`);
      checked++;
    };
    for (const filter of filters) for (const pattern of filters) check(filter, [pattern]);
    // And against pairs of patterns, where a union can cover what neither does alone.
    const some = filters.filter((_, i) => i % 9 === 0);
    for (const filter of filters) for (const p of some) for (const q of some) check(filter, [p, q]);
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(50_000);
  });

  it('stays quick on a filter of thousands of levels', () => {
    const long = `${Array.from({ length: 30_000 }, () => '+').join('/')}/#`;
    expect(relateFilter(long, ['secret/#'])).toBe('partly');
    expect(relateFilter(long, ['#'])).toBe('inside');
  });

  it('judges $share/<group>/<filter> both as a shared subscription and as a plain filter', () => {
    expect(relateSubscription('$share/g/secret/x', ['secret/#'])).toBe('partly');
    expect(relateSubscription('$share/g/secret/x', ['secret/#', '$share/+/secret/#'])).toBe('inside');
    expect(relateSubscription('$share/g/public/x', ['secret/#'])).toBe('outside');
    expect(relateSubscription('$share/g/#', ['secret/#'])).toBe('partly');
  });
});

describe('mqtt-syntax conditions', () => {
  const secret = compileCondition(
    { path: 'args.topic', op: 'glob', value: 'secret/#', syntax: 'mqtt' },
    '/tools/mqttSubscribe/deny_if/0',
  );

  it('deny a subscription that can receive a denied topic, and allow one that cannot', () => {
    for (const filter of ['#', '+/#', '+/x', 'secret/+']) {
      expect(secret.evaluate({ topic: filter })).not.toBe(false);
    }
    expect(secret.evaluate({ topic: 'public/#' })).toBe(false);
    expect(secret.evaluate({ topic: 'secret/+' })).toBe(true);
    expect(secret.evaluate({ topic: '+/x' })).toEqual({
      unknown: expect.stringMatching(/both inside and outside/),
    });
  });

  it('match a published topic name exactly', () => {
    expect(secret.evaluate({ topic: 'secret/key' })).toBe(true);
    expect(secret.evaluate({ topic: 'secrets/key' })).toBe(false);
    expect(secret.evaluate({ topic: 'a/#/b' })).toEqual({
      unknown: expect.stringMatching(/not a valid topic filter/),
    });
  });

  it('are refused at load when a pattern is not a valid filter', () => {
    const result = parsePolicy({
      version: '1',
      default: 'deny',
      tools: {
        mqttSubscribe: {
          deny_if: [{ path: 'args.topic', op: 'glob', value: ['ok/#', 'bad#'], syntax: 'mqtt' }],
        },
      },
    });
    expect(result).toEqual({
      ok: false,
      problems: [
        {
          pointer: '/tools/mqttSubscribe/deny_if/0/value/1',
          message: "not a valid MQTT topic filter: '#' not as the last level",
        },
      ],
    });
  });
});
