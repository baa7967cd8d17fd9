/**
 * What an approval is good for: one exact call. The binding is the grant, the server, the tool, the
 * SHA-256 of the arguments in their canonical form (RFC 8785, JSON Canonicalization Scheme, so that
 * key order and number spelling do not make two equal calls differ), and the version of the policy
 * that asked for approval. The arguments are the ones the policy judged (`effectiveArgs`: the
 * inputSchema's defaults filled in), so leaving out a defaulted argument is the same call, and
 * changing it is another.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

export interface Binding {
  grant: string;
  server: string;
  tool: string;
  argsHash: string;
  policyVersion: string;
}

export function argumentsHash(args: Readonly<Record<string, unknown>>): string {
  return createHash('sha256')
    .update(canonicalize(args) ?? '{}', 'utf8')
    .digest('hex');
}

/** One key for a binding (the store's index from a call to its approval). */
export function bindingKey(binding: Binding): string {
  return createHash('sha256')
    .update(
      canonicalize([binding.grant, binding.server, binding.tool, binding.argsHash, binding.policyVersion]) ??
        '',
      'utf8',
    )
    .digest('hex');
}

/** Which part of a binding differs, for the denial of an approval presented for another call. */
export function bindingMismatch(approved: Binding, call: Binding): string | undefined {
  if (approved.grant !== call.grant) return 'another grant';
  if (approved.server !== call.server) return 'another server';
  if (approved.tool !== call.tool) return 'another tool';
  if (approved.argsHash !== call.argsHash) return 'other arguments';
  if (approved.policyVersion !== call.policyVersion) return 'another version of the policy';
  return undefined;
}
