/**
 * Conditions on call arguments: `{ path: "args.x", op, value }` with the ops of PolicyLayer's
 * open-source engine (eq, neq, in, not_in, lt, lte, gt, gte, regex, contains, exists) and the
 * `glob` extension. A condition compares without coercion: `"10"` is not greater than 5, and a value
 * of the wrong type makes the test false (so a `require` fails and a `deny_if` does not fire; the
 * upstream's own input validation rejects wrongly typed arguments anyway).
 *
 * Some arguments name more than one thing, and then a condition can be neither true nor false for
 * certain: a relative path (`syntax: "path"`, see paths.ts) or an MQTT topic filter that reaches both
 * denied and allowed topics (`syntax: "mqtt"`, see mqtt-topics.ts). Such a test is `unknown`, and
 * unknown always goes against the call: a `require` does not hold and a `deny_if` fires.
 */

import { isDeepStrictEqual } from 'node:util';
import picomatch from 'picomatch';
import { relateSubscription, topicFilterProblem } from './mqtt-topics.js';
import { type PathReading, readRemotePath } from './paths.js';
import type { ConditionDocument } from './schema.js';

/** A condition's answer: holds, does not hold, or cannot be known (with why, for the agent). */
export type Outcome = true | false | { unknown: string };

export interface CompiledCondition {
  /** JSON Pointer of the condition in its policy, e.g. `/tools/exec/deny_if/0`. */
  readonly pointer: string;
  /** The document form, for messages. */
  readonly source: ConditionDocument;
  /** Path below `args`, e.g. ['options', 'qos']. */
  readonly argPath: ReadonlyArray<string>;
  evaluate(args: Readonly<Record<string, unknown>>): Outcome;
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

const equal = isDeepStrictEqual;
const not = (outcome: Outcome): Outcome => (typeof outcome === 'boolean' ? !outcome : outcome);

/**
 * A test on a path argument. The normalised path is tested; a match counts even after an uncertain
 * `..`, but a non-match after one is unknown (the `..` may have stepped back over a link).
 */
function onPath(test: (path: string) => boolean): (actual: unknown) => Outcome {
  return (actual) => {
    if (typeof actual !== 'string') return false;
    const reading: PathReading = readRemotePath(actual);
    if (reading.kind === 'unknown') return { unknown: `'${actual}' ${reading.why}` };
    if (test(reading.path)) return true;
    return reading.uncertain
      ? { unknown: `'${actual}' has a '..' that may step back over a symbolic link on the remote` }
      : false;
  };
}

/** Policy-side paths are normalised once (they are absolute: the schema says so). */
function policyPath(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const reading = readRemotePath(value);
  return reading.kind === 'known' ? reading.path : value;
}

function mqttGlob(patterns: ReadonlyArray<string>): (actual: unknown) => Outcome {
  return (actual) => {
    if (typeof actual !== 'string') return false;
    const problem = topicFilterProblem(actual);
    if (problem !== undefined) return { unknown: `'${actual}' is not a valid topic filter (${problem})` };
    const relation = relateSubscription(actual, patterns);
    if (relation === 'partly') {
      return {
        unknown: `the filter '${actual}' reaches topics both inside and outside ${JSON.stringify(patterns)}`,
      };
    }
    return relation === 'inside';
  };
}

function predicate(condition: ConditionDocument): (actual: unknown) => Outcome {
  const pathSyntax = 'syntax' in condition && condition.syntax === 'path';
  switch (condition.op) {
    case 'eq':
    case 'neq': {
      if (!pathSyntax) {
        const eq = (actual: unknown) => equal(actual, condition.value);
        return condition.op === 'eq' ? eq : (actual) => !eq(actual);
      }
      const wanted = policyPath(condition.value);
      const eq = onPath((path) => path === wanted);
      return condition.op === 'eq' ? eq : (actual) => not(eq(actual));
    }
    case 'in':
    case 'not_in': {
      if (!pathSyntax) {
        const isIn = (actual: unknown) => condition.value.some((v) => equal(actual, v));
        return condition.op === 'in' ? isIn : (actual) => !isIn(actual);
      }
      const wanted = new Set(condition.value.map(policyPath));
      const isIn = onPath((path) => wanted.has(path));
      return condition.op === 'in' ? isIn : (actual) => not(isIn(actual));
    }
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
      return pathSyntax
        ? onPath((path) => re.test(path))
        : (actual) => typeof actual === 'string' && re.test(actual);
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
      if (condition.syntax === 'mqtt') return mqttGlob(patterns);
      return onPath(picomatch(patterns, { dot: true }));
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
    evaluate: (args) => holds(readPath(args, argPath)),
  };
}

export function describeCondition(condition: ConditionDocument): string {
  if (condition.op === 'exists')
    return `${condition.path} ${condition.value === false ? 'is absent' : 'exists'}`;
  return `${condition.path} ${condition.op} ${JSON.stringify(condition.value)}`;
}

/** The first condition of a rule that goes against the call, and why, or undefined if none does. */
export interface Violation {
  condition: CompiledCondition;
  kind: 'require' | 'deny_if';
  /** Set when the condition could not be known (a relative path, a filter that reaches both sides). */
  unknown?: string;
}

/**
 * Checks a rule's conditions on `args`: every `require` must hold, no `deny_if` may hold, and unknown
 * goes against the call either way. `only` limits the check to conditions it accepts (pushed
 * notifications carry only some of a tool's arguments).
 */
export function firstViolation(
  rule: {
    readonly require: ReadonlyArray<CompiledCondition>;
    readonly denyIf: ReadonlyArray<CompiledCondition>;
  },
  args: Readonly<Record<string, unknown>>,
  only: (condition: CompiledCondition) => boolean = () => true,
): Violation | undefined {
  for (const condition of rule.require) {
    if (!only(condition)) continue;
    const outcome = condition.evaluate(args);
    if (outcome === true) continue;
    return { condition, kind: 'require', ...(outcome === false ? {} : { unknown: outcome.unknown }) };
  }
  for (const condition of rule.denyIf) {
    if (!only(condition)) continue;
    const outcome = condition.evaluate(args);
    if (outcome === false) continue;
    return { condition, kind: 'deny_if', ...(outcome === true ? {} : { unknown: outcome.unknown }) };
  }
  return undefined;
}

/** The reason a violation gives the agent: the rule's own `on_deny`/`reason` verbatim, else what failed. */
export function violationReason(violation: Violation, rule: { onDeny?: string; reason?: string }): string {
  const own = rule.onDeny ?? rule.reason;
  if (own !== undefined) return own;
  const described = describeCondition(violation.condition.source);
  if (violation.unknown !== undefined) return `cannot tell whether ${described}: ${violation.unknown}`;
  return violation.kind === 'require' ? `requires ${described}` : `denied because ${described}`;
}
