/**
 * Step 3: hidden, denied by action, or denied by default. Tool names are compared exactly (a Map
 * lookup): `MqttConnect`, or `mqttConnеct` with a Cyrillic "е", is another name, and falls to the
 * default like any unlisted tool.
 */
import { isHidden, ruleFor } from '../../policy/compile.js';
import type { CallStep } from '../context.js';
import { deny } from '../denial.js';

export const visibilityStep: CallStep = {
  name: 'hide/deny',
  run: async (ctx, next) => {
    const policy = ctx.policy;
    if (policy === undefined) throw new Error('visibility step needs a resolved policy');
    if (isHidden(policy, ctx.tool)) {
      return deny(ctx, { rule: '(hidden)', reason: `tool '${ctx.tool}' is not available` });
    }
    const rule = ruleFor(policy, ctx.tool);
    if (rule === undefined) {
      if (policy.default === 'deny') {
        return deny(ctx, {
          rule: '(default deny)',
          reason: `tool '${ctx.tool}' is not allowed by the policy (default deny)`,
        });
      }
      return next();
    }
    ctx.rule = rule;
    if (rule.action === 'deny') {
      return deny(ctx, {
        rule: `${rule.pointer}/action`,
        reason: rule.onDeny ?? rule.reason ?? `tool '${ctx.tool}' is denied by the policy`,
      });
    }
    return next();
  },
};
