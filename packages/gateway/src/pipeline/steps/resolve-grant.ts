/**
 * Step 2: from principal to grant and policy. A grant reaches only the servers it names, and a grant
 * with no policy for this server denies every call before the document is evaluated (POLICY.md).
 */
import type { CompiledPolicy } from '../../policy/compile.js';
import type { CallStep, Principal } from '../context.js';
import { deny } from '../denial.js';

export interface GrantResolution {
  grant: string;
  /** The policy in force right now (the current one after a reload), if any. */
  policy: CompiledPolicy | undefined;
  /** Set when the server is refused (its policy names arguments its tools do not have). */
  refused?: string;
}

/** Looks up the grant of `principal` for `server`; undefined when the grant does not include it. */
export type GrantResolver = (principal: Principal, server: string) => GrantResolution | undefined;

export function resolveGrantStep(resolve: GrantResolver): CallStep {
  return {
    name: 'resolve grant',
    run: async (ctx, next) => {
      const principal = ctx.principal;
      const resolved = principal === undefined ? undefined : resolve(principal, ctx.server);
      if (resolved === undefined) {
        return deny(ctx, {
          rule: '(no grant)',
          reason: `this grant does not include server '${ctx.server}'`,
        });
      }
      ctx.grant = resolved.grant;
      if (resolved.refused !== undefined) {
        return deny(ctx, { rule: '(policy error)', reason: resolved.refused });
      }
      if (resolved.policy === undefined) {
        return deny(ctx, { rule: '(no policy)', reason: `no policy applies to server '${ctx.server}'` });
      }
      ctx.policy = resolved.policy;
      return next();
    },
  };
}
