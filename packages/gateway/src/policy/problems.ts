/** Problems found in a policy or config, each located by a JSON Pointer (RFC 6901). */
import type { z } from 'zod';

export interface Problem {
  /** JSON Pointer into the document, '' for the whole document. */
  pointer: string;
  message: string;
}

export function escapePointerSegment(segment: string | number): string {
  return String(segment).replaceAll('~', '~0').replaceAll('/', '~1');
}

export function toPointer(path: ReadonlyArray<PropertyKey>): string {
  return path.map((s) => `/${escapePointerSegment(typeof s === 'symbol' ? String(s) : s)}`).join('');
}

/** zod issues as problems; an unknown key becomes one problem pointing at that key. */
export function problemsFromZod(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): Problem[] {
  const problems: Problem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        problems.push({ pointer: toPointer([...path, key]), message: 'unknown key' });
      continue;
    }
    problems.push({ pointer: toPointer(path), message: issue.message });
  }
  return problems;
}

export function formatProblems(problems: ReadonlyArray<Problem>, source?: string): string {
  const where = source === undefined ? '' : `${source}: `;
  return problems
    .map((p) => `${where}${p.pointer === '' ? '(document)' : p.pointer}: ${p.message}`)
    .join('\n');
}

/** Thrown when a policy or config does not load; carries every problem found, not just the first. */
export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  constructor(
    readonly problems: ReadonlyArray<Problem>,
    readonly source?: string,
  ) {
    super(`${source ?? 'policy'} has ${problems.length} problem(s):\n${formatProblems(problems, source)}`);
  }
}

/**
 * What went wrong when a config or its policies did not load (one error, or the AggregateError of
 * several), one line per problem: a PolicyLoadError's problems with their pointers, any other error's
 * message after `prefix`.
 */
export function describeLoadError(err: unknown, prefix = ''): string {
  const errors = err instanceof AggregateError ? err.errors : [err];
  return errors
    .map((e) =>
      e instanceof PolicyLoadError
        ? formatProblems(e.problems, e.source)
        : `${prefix}${(e as Error).message}`,
    )
    .join('\n');
}
