/**
 * Conditions on call arguments: `{ path: "args.x", op, value }` with the ops of PolicyLayer's
 * open-source engine (eq, neq, in, not_in, lt, lte, gt, gte, regex, contains, exists) and the
 * `glob` extension. A condition compares without coercion: `"10"` is not greater than 5, and a value
 * of the wrong type makes the test false (so a `require` fails and a `deny_if` does not fire; the
 * upstream's own input validation rejects wrongly typed arguments anyway).
 */

import { posix } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import mqttMatch from 'mqtt-match';
import picomatch from 'picomatch';
import type { ConditionDocument } from './schema.js';

export interface CompiledCondition {
  /** JSON Pointer of the condition in its policy, e.g. `/tools/exec/deny_if/0`. */
  readonly pointer: string;
  /** The document form, for messages. */
  readonly source: ConditionDocument;
  /** Path below `args`, e.g. ['options', 'qos']. */
  readonly argPath: ReadonlyArray<string>;
  test(args: Readonly<Record<string, unknown>>): boolean;
}

/** Reads `path` below `root` through own properties only, so `__proto__` or `constructor` read nothing. */
export function readPath(root: unknown, path: ReadonlyArray<string>): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(segment)) return undefined;
      current = current[Number(segment)];
      continue;
    }
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function equal(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

function predicate(condition: ConditionDocument): (actual: unknown) => boolean {
  switch (condition.op) {
    case 'eq':
      return (actual) => equal(actual, condition.value);
    case 'neq':
      return (actual) => !equal(actual, condition.value);
    case 'in':
      return (actual) => condition.value.some((v) => equal(actual, v));
    case 'not_in':
      return (actual) => !condition.value.some((v) => equal(actual, v));
    case 'lt':
      return (actual) => typeof actual === 'number' && actual < condition.value;
    case 'lte':
      return (actual) => typeof actual === 'number' && actual <= condition.value;
    case 'gt':
      return (actual) => typeof actual === 'number' && actual > condition.value;
    case 'gte':
      return (actual) => typeof actual === 'number' && actual >= condition.value;
    case 'regex': {
      const re = new RegExp(condition.value);
      return (actual) => typeof actual === 'string' && re.test(actual);
    }
    case 'contains': {
      const needle = condition.value;
      return (actual) => {
        if (typeof actual === 'string') return typeof needle === 'string' && actual.includes(needle);
        if (Array.isArray(actual)) return actual.some((item) => equal(item, needle));
        return false;
      };
    }
    case 'exists': {
      const want = condition.value ?? true;
      return (actual) => (actual !== undefined && actual !== null) === want;
    }
    case 'glob': {
      const patterns = typeof condition.value === 'string' ? [condition.value] : condition.value;
      if (condition.syntax === 'mqtt') {
        // A topic filter with + and # (MQTT 3.1.1 4.7); "$SYS/#"-style topics match only filters
        // that name them, as brokers do.
        return (actual) => typeof actual === 'string' && patterns.some((filter) => mqttMatch(filter, actual));
      }
      const isMatch = picomatch(patterns, { dot: true });
      // Normalised first, so "/etc/./passwd" or "/tmp/../etc/passwd" cannot step around "/etc/**".
      return (actual) => typeof actual === 'string' && isMatch(posix.normalize(actual));
    }
  }
}

export function compileCondition(condition: ConditionDocument, pointer: string): CompiledCondition {
  const argPath = condition.path.split('.').slice(1);
  const holds = predicate(condition);
  return {
    pointer,
    source: condition,
    argPath,
    test: (args) => holds(readPath(args, argPath)),
  };
}

export function describeCondition(condition: ConditionDocument): string {
  if (condition.op === 'exists')
    return `${condition.path} ${condition.value === false ? 'is absent' : 'exists'}`;
  return `${condition.path} ${condition.op} ${JSON.stringify(condition.value)}`;
}
