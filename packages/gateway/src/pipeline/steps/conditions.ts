/**
 * Step 5: the rule's conditions on arguments. Every `require` must hold; any `deny_if` that holds
 * denies. The denial names the condition that decided, as a JSON Pointer.
 */
import { describeCondition } from '../../policy/conditions.js';
import type { CallStep } from '../context.js';
import { deny } from '../denial.js';

export const conditionsStep: CallStep = {
  name: 'conditions',
  run: async (ctx, next) => {
    const rule = ctx.rule;
    if (rule === undefined) return next();
    for (const condition of rule.require) {
      if (!condition.test(ctx.args)) {
        return deny(ctx, {
          rule: condition.pointer,
          reason: rule.onDeny ?? rule.reason ?? `requires ${describeCondition(condition.source)}`,
        });
      }
    }
    for (const condition of rule.denyIf) {
      if (condition.test(ctx.args)) {
        return deny(ctx, {
          rule: condition.pointer,
          reason: rule.onDeny ?? rule.reason ?? `denied because ${describeCondition(condition.source)}`,
        });
      }
    }
    return next();
  },
};
