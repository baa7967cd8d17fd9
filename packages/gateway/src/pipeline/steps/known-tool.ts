/**
 * Step 4: only tools the upstream actually offers are forwarded. Under `default: "allow"` a name the
 * policy does not list would otherwise be passed on, and an upstream that matched names loosely
 * (case-folding, Unicode normalisation) could run a hidden tool under a look-alike name. A tool whose
 * definition is withheld (tool pinning: it changed since it was accepted) is refused with its own code.
 */
import type { CallStep } from '../context.js';
import { deny } from '../denial.js';

export const knownToolStep: CallStep = {
  name: 'known tool',
  run: async (ctx, next) => {
    if (!(await ctx.target.hasTool(ctx.tool))) {
      return deny(ctx, {
        rule: '(unknown tool)',
        reason: `server '${ctx.server}' offers no tool named '${ctx.tool}'`,
      });
    }
    const withheld = ctx.target.withheld?.(ctx.tool);
    if (withheld !== undefined)
      return deny(ctx, { rule: '(tool changed)', reason: withheld, code: 'TOOL_CHANGED' });
    return next();
  },
};
