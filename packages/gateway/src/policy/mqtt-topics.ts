/**
 * MQTT topic filters against the topic patterns of a policy rule, with the semantics a subscription
 * needs: not "does this string match" but "which topics can this filter receive". A subscription to
 * `#` or `+/x` is a string no pattern matches, yet it receives `secret/x`.
 *
 * `relateFilter(filter, patterns)` answers, over every topic the broker could deliver:
 * - `inside`: every topic the filter matches is matched by one of the patterns;
 * - `outside`: no topic the filter matches is matched by any pattern;
 * - `partly`: some are and some are not.
 * A topic name (no wildcards) is one topic, so it is always `inside` or `outside`: plain matching.
 *
 * Written here because no package does this: mqtt-match, mqtt-pattern, mqtt-wildcard and qlobber
 * match a topic *name* against filters, none relates two filters (their intersection or inclusion),
 * and mqtt-match does not apply [MQTT-4.7.2-1] ($-topics and leading wildcards) either.
 *
 * How: a topic is a list of levels, and filters only ever compare a level with their own literal
 * levels, so every level of a topic can stand for "one of the literals in play, or any other string"
 * (at the first level "any other string" splits on a leading `$`, [MQTT-4.7.2-1]). Walking the filter
 * level by level over those classes, with the set of pattern positions still alive, decides inclusion
 * and intersection; a `#` in the filter asks whether the alive patterns accept every continuation.
 * Results are memoised per (filter level, alive set), so a long `+/+/+/...` filter stays linear.
 */

const OTHER = Symbol('another level');
const OTHER_DOLLAR = Symbol('another level starting with $');
type Level = string | typeof OTHER | typeof OTHER_DOLLAR;

export type FilterRelation = 'inside' | 'outside' | 'partly';

/** Why `filter` is not a valid MQTT topic filter ([MQTT-4.7.1-2], [MQTT-4.7.1-3], [MQTT-4.7.3-1]). */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter === '') return 'an empty topic filter';
  if (filter.includes('\0')) return 'a topic filter with a NUL character';
  const levels = filter.split('/');
  for (const [i, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return "'#' not as the last level";
    if (level.includes('+') && level !== '+') return "'+' not as a whole level";
  }
  return undefined;
}

/** One pattern's progress: the index of its next level (levels.length: fully matched). */
type Thread = { pattern: number; at: number };

class Relation {
  private readonly patterns: string[][];
  private readonly memo = new Map<string, boolean>();

  constructor(patterns: ReadonlyArray<string>) {
    this.patterns = patterns.map((p) => p.split('/'));
  }

  private levelOf(t: Thread): string | undefined {
    return this.patterns[t.pattern]?.[t.at];
  }

  /** The pattern accepts a topic that ends here. */
  private accepts(threads: ReadonlyArray<Thread>): boolean {
    return threads.some((t) => {
      const level = this.levelOf(t);
      return level === undefined || level === '#';
    });
  }

  private step(threads: ReadonlyArray<Thread>, level: Level, index: number): Thread[] {
    const dollar =
      index === 0 && (level === OTHER_DOLLAR || (typeof level === 'string' && level.startsWith('$')));
    const next: Thread[] = [];
    for (const t of threads) {
      const own = this.levelOf(t);
      if (own === undefined) continue;
      // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with $.
      if ((own === '#' || own === '+') && dollar) continue;
      if (own === '#') next.push(t);
      else if (own === '+' || own === level) next.push({ pattern: t.pattern, at: t.at + 1 });
    }
    return next;
  }

  /** The level classes worth trying at `index`: the alive patterns' literals, then any other string. */
  private classes(threads: ReadonlyArray<Thread>, index: number): Level[] {
    const literals = new Set<string>();
    for (const t of threads) {
      const level = this.levelOf(t);
      if (level !== undefined && level !== '+' && level !== '#') literals.add(level);
    }
    return index === 0 ? [...literals, OTHER, OTHER_DOLLAR] : [...literals, OTHER];
  }

  private key(kind: string, index: number, threads: ReadonlyArray<Thread>): string {
    const at = threads.map((t) => `${t.pattern}:${t.at}`).join(',');
    return `${kind}|${index}|${at}`;
  }

  private memoised(key: string, compute: () => boolean): boolean {
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    const value = compute();
    this.memo.set(key, value);
    return value;
  }

  /**
   * Over every continuation of at least one level from `index` (the first level not starting with $
   * when index is 0, as a filter-side `#` there cannot match those): do the patterns accept all of
   * them (`every`), or at least one (`some`)?
   */
  private continuations(mode: 'every' | 'some', threads: Thread[], index: number): boolean {
    if (threads.length === 0) return false;
    if (threads.some((t) => this.levelOf(t) === '#' && !(index === 0 && t.at === 0))) return true;
    return this.memoised(this.key(mode, index, threads), () => {
      const levels = this.classes(threads, index).filter((c) => index !== 0 || !startsWithDollar(c));
      const each = (c: Level) => {
        const next = this.step(threads, c, index);
        // One empty level is the empty string, not a topic [MQTT-4.7.3-1]: nothing to accept there.
        const here = index === 0 && c === '' ? mode === 'every' : this.accepts(next);
        return mode === 'every'
          ? here && this.continuations(mode, next, index + 1)
          : here || this.continuations(mode, next, index + 1);
      };
      return mode === 'every' ? levels.every(each) : levels.some(each);
    });
  }

  /** Over the topics `filter` matches from level `index` on: are all (`every`) / some (`some`) accepted? */
  walk(
    mode: 'every' | 'some',
    filter: ReadonlyArray<string>,
    index: number,
    threads: Thread[],
    soleEmpty = false,
  ): boolean {
    const own = filter[index];
    // `soleEmpty`: the topic so far is one empty level, the empty string, which is no topic.
    if (own === undefined) return soleEmpty ? mode === 'every' : this.accepts(threads);
    // Past the first level, a pattern at its `#` accepts whatever follows, and a valid filter matches
    // something: both answers are yes. No pattern left: both are no. This also keeps the recursion as
    // deep as the patterns, not as the filter (up to 32,768 levels in 65,535 bytes).
    if (index > 0 && threads.some((t) => this.levelOf(t) === '#')) return true;
    if (threads.length === 0) return false;
    return this.memoised(this.key(`${mode}-walk${soleEmpty ? '-e' : ''}`, index, threads), () => {
      if (own === '#') {
        // `a/#` also matches `a` itself [MQTT-4.7.1-2]; a lone `#` needs one level at least.
        const parent = index > 0 && (soleEmpty ? mode === 'every' : this.accepts(threads));
        const deeper = this.continuations(mode, threads, index);
        return mode === 'every' ? (index === 0 || parent) && deeper : parent || deeper;
      }
      const levels: Level[] =
        own === '+' ? this.classes(threads, index).filter((c) => index !== 0 || !startsWithDollar(c)) : [own];
      const each = (c: Level) =>
        this.walk(mode, filter, index + 1, this.step(threads, c, index), index === 0 && c === '');
      return mode === 'every' ? levels.every(each) : levels.some(each);
    });
  }

  relate(filter: string): FilterRelation {
    const levels = filter.split('/');
    const start = this.patterns.map((_, pattern) => ({ pattern, at: 0 }));
    if (this.walk('every', levels, 0, start)) return 'inside';
    return this.walk('some', levels, 0, start) ? 'partly' : 'outside';
  }
}

function startsWithDollar(level: Level): boolean {
  return level === OTHER_DOLLAR || (typeof level === 'string' && level.startsWith('$'));
}

/**
 * Where the topics `filter` can receive stand against `patterns` (valid filters, checked when the
 * policy loads). `filter` must be a valid filter (see topicFilterProblem).
 */
export function relateFilter(filter: string, patterns: ReadonlyArray<string>): FilterRelation {
  return new Relation(patterns).relate(filter);
}

/**
 * MQTT 5 shared subscriptions: `$share/<group>/<filter>` receives what `<filter>` matches, while to an
 * MQTT 3.1.1 broker it is an ordinary filter. The gateway does not know which the broker is, so it
 * judges both readings together: inside only if both are, outside only if both are.
 */
export function relateSubscription(argument: string, patterns: ReadonlyArray<string>): FilterRelation {
  const plain = relateFilter(argument, patterns);
  const levels = argument.split('/');
  if (levels[0] !== '$share' || levels.length < 3) return plain;
  const shared = relateFilter(levels.slice(2).join('/'), patterns);
  if (plain === shared) return plain;
  return 'partly';
}
