/**
 * Loading a policy: JSON text or a parsed value in, a compiled policy or every problem out (each with
 * its JSON Pointer), never just the first.
 */
import { readFile } from 'node:fs/promises';
import { type CompiledPolicy, compilePolicy } from './compile.js';
import { PolicyLoadError, type Problem, problemsFromZod } from './problems.js';
import { policySchema } from './schema.js';

export type PolicyResult = { ok: true; policy: CompiledPolicy } | { ok: false; problems: Problem[] };

export function parsePolicy(value: unknown): PolicyResult {
  const parsed = policySchema.safeParse(value);
  if (!parsed.success) return { ok: false, problems: problemsFromZod(parsed.error) };
  const { policy, problems } = compilePolicy(parsed.data);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, policy };
}

export function parsePolicyText(text: string): PolicyResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [{ pointer: '', message: `not JSON: ${(err as Error).message}` }] };
  }
  return parsePolicy(value);
}

/** Reads and compiles a policy file; throws PolicyLoadError with every problem. */
export async function loadPolicyFile(path: string): Promise<CompiledPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PolicyLoadError([{ pointer: '', message: `cannot read: ${(err as Error).message}` }], path);
  }
  const result = parsePolicyText(text);
  if (!result.ok) throw new PolicyLoadError(result.problems, path);
  return result.policy;
}
