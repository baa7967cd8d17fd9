/**
 * Step 5: the rule's conditions on arguments. They see the arguments as the upstream will use them:
 * the tool's inputSchema defaults are filled in first (policy/defaults.ts), so a `connect` that leaves
 * out `port` is judged with the port the upstream will dial. Those arguments stay on the context
 * (`effectiveArgs`) for the steps after this one (limits, approval); the forwarded call keeps the
 * agent's own. Every `require` must hold; any `deny_if` that holds denies; a condition that cannot be
 * known (a relative path, a topic filter reaching both sides) goes against the call. The denial names
 * the condition that decided, as a JSON Pointer.
 */
import { firstViolation, violationReason } from '../../policy/conditions.js';
import { withSchemaDefaults } from '../../policy/defaults.js';
import type { CallStep } from '../context.js';
import { deny } from '../denial.js';

export const conditionsStep: CallStep = {
  name: 'conditions',
  run: async (ctx, next) => {
    const filled = withSchemaDefaults(ctx.args, ctx.target.inputSchema(ctx.tool));
    const rule = ctx.rule;
    const hasConditions = rule !== undefined && rule.require.length + rule.denyIf.length > 0;
    if (!filled.ok) {
      // Deciding on arguments that may be wrong would be a guess; without conditions nothing reads them.
      if (hasConditions) return deny(ctx, { rule: rule.pointer, reason: filled.reason });
      ctx.effectiveArgs = ctx.args;
      return next();
    }
    ctx.effectiveArgs = filled.args;
    if (!hasConditions) return next();
    const violation = firstViolation(rule, filled.args);
    if (violation === undefined) return next();
    return deny(ctx, {
      rule: violation.condition.pointer,
      reason: violationReason(violation, { onDeny: rule.onDeny, reason: rule.reason }),
    });
  },
};
