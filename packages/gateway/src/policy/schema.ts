/**
 * The policy document, as zod schemas. The documented format (PolicyLayer's JSON policy, see
 * POLICY.md) loads unchanged; the extensions are marked. Every object is strict: an unknown key is an
 * error, because a misspelt `deny_if` silently ignored is a rule that never fires.
 */
import { z } from 'zod';
import { topicFilterProblem } from './mqtt-topics.js';

export const WINDOW_NAMES = ['second', 'minute', 'hour', 'day'] as const;
export type WindowName = (typeof WINDOW_NAMES)[number];

export const windowSchema = z.union(
  [
    z.enum(WINDOW_NAMES),
    // Extension (seen on the seed pages): a window in whole seconds.
    z
      .number()
      .int()
      .positive()
      .max(366 * 24 * 3600),
  ],
  { error: 'expected "second", "minute", "hour", "day" or a whole number of seconds' },
);

export const limitSchema = z
  .strictObject({
    counter: z.string().min(1).describe('Counter name; limits that share a name share a count.'),
    window: windowSchema.describe('Window length: second, minute, hour, day, or a number of seconds.'),
    max: z.number().int().nonnegative().describe('Calls allowed per window.'),
    scope: z
      .enum(['grant', 'session', 'global'])
      .optional()
      .describe('Who is counted apart: each grant (default), each agent session, or everyone together.'),
    sliding: z
      .boolean()
      .optional()
      .describe('Extension: a sliding window instead of a fixed one aligned to the clock.'),
  })
  .describe('A rate limit. Quota is reserved before forwarding and returned if the upstream call fails.')
  .meta({ id: 'GatewayPolicyLimit' });

const pathSchema = z
  .string()
  .regex(/^args(\.[^.]+)+$/, { error: 'expected a path of the form "args.<field>[.<field>...]"' })
  .describe('Where to look in the call, e.g. "args.topic" or "args.options.qos".');

const pathSyntax = z
  .literal('path')
  .optional()
  .describe(
    'Extension: "path" reads the argument as a path on the remote host: "." and ".." are normalised, ' +
      '/proc/self/root is "/", and a relative path is unknown (denied by deny_if, refused by require).',
  );
/**
 * Path-syntax values are matched against absolute, normalised paths: a relative one could never
 * match, and a rule that silently never fires is the complaint POLICY.md records. So it is an error.
 */
function absolutePaths(
  values: ReadonlyArray<unknown>,
  at: (i: number) => PropertyKey[],
  ctx: z.RefinementCtx,
  glob = false,
): void {
  values.forEach((value, i) => {
    const ok = typeof value === 'string' && (glob ? /^!?(\/|\*\*)/.test(value) : value.startsWith('/'));
    if (!ok) {
      ctx.addIssue({
        code: 'custom',
        path: at(i),
        message: glob
          ? 'a path pattern is matched against absolute paths: start it with "/" or "**"'
          : 'with syntax "path", a value is an absolute path (it starts with "/")',
      });
    }
  });
}

const anyValueOps = z
  .strictObject({ path: pathSchema, op: z.enum(['eq', 'neq']), value: z.unknown(), syntax: pathSyntax })
  .superRefine((c, ctx) => {
    if (c.syntax === 'path') absolutePaths([c.value], () => ['value'], ctx);
  });
const listOps = z
  .strictObject({
    path: pathSchema,
    op: z.enum(['in', 'not_in']),
    value: z.array(z.unknown()),
    syntax: pathSyntax,
  })
  .superRefine((c, ctx) => {
    if (c.syntax === 'path') absolutePaths(c.value, (i) => ['value', i], ctx);
  });
const orderOps = z.strictObject({
  path: pathSchema,
  op: z.enum(['lt', 'lte', 'gt', 'gte']),
  value: z.number(),
});
const regexOp = z.strictObject({
  path: pathSchema,
  op: z.literal('regex'),
  value: z.string().refine(isValidRegex, { error: 'not a valid regular expression' }),
  syntax: pathSyntax,
});
const containsOp = z.strictObject({ path: pathSchema, op: z.literal('contains'), value: z.unknown() });
const existsOp = z.strictObject({ path: pathSchema, op: z.literal('exists'), value: z.boolean().optional() });
// Extension: glob over a path (picomatch) or an MQTT topic filter.
const globOp = z
  .strictObject({
    path: pathSchema,
    op: z.literal('glob'),
    value: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
      error: 'expected a pattern or a non-empty list of patterns',
    }),
    syntax: z
      .enum(['path', 'mqtt'])
      .optional()
      .describe(
        '"path" (default): a file path glob such as "/var/log/**", matched against the normalised path; ' +
          '"mqtt": topic filters such as "site/+/cmd/#", and a subscription is judged by every topic it can receive.',
      ),
  })
  .superRefine((condition, ctx) => {
    const patterns = typeof condition.value === 'string' ? [condition.value] : condition.value;
    const at = (i: number) => (typeof condition.value === 'string' ? ['value'] : ['value', i]);
    if (condition.syntax !== 'mqtt') {
      absolutePaths(patterns, at, ctx, true);
      return;
    }
    patterns.forEach((pattern, i) => {
      const problem = topicFilterProblem(pattern);
      if (problem !== undefined) {
        ctx.addIssue({ code: 'custom', path: at(i), message: `not a valid MQTT topic filter: ${problem}` });
      }
    });
  });

export const conditionSchema = z
  .discriminatedUnion('op', [anyValueOps, listOps, orderOps, regexOp, containsOp, existsOp, globOp])
  .describe('A test on one argument of the call.')
  .meta({ id: 'GatewayPolicyCondition' });

/** A duration: "30s", "10m", "2h", "1d", or a whole number of seconds. */
export const durationSchema = z.union(
  [
    z
      .string()
      .regex(/^[1-9]\d*(s|m|h|d)$/, { error: 'expected a duration such as "30s", "10m", "2h" or "1d"' }),
    z.number().int().positive(),
  ],
  { error: 'expected a duration such as "30s", "10m", "2h", "1d", or a number of seconds' },
);

export const APPROVERS = ['console', 'user'] as const;

export const approvalSchema = z
  .strictObject({
    timeout: durationSchema
      .optional()
      .describe(
        'How long a call may wait for a decision (default "10m"); an approved call must be made within it.',
      ),
    on_timeout: z
      .literal('deny', { error: 'expected "deny": a call nobody decided on is never run' })
      .optional()
      .describe('What a call nobody decided on in time gets: "deny" (the only choice).'),
    approvers: z
      .array(z.enum(APPROVERS))
      .min(1)
      .optional()
      .describe(
        'Who may decide: "console" (an admin in the gateway console, the default) and "user" (the person ' +
          'at the agent, asked through MCP elicitation in form mode).',
      ),
  })
  .describe('Extension: how a call that needs approval waits and who may approve it.')
  .meta({ id: 'GatewayPolicyApproval' });

export const ruleSchema = z
  .strictObject({
    action: z
      .enum(['allow', 'deny', 'require_approval'])
      .optional()
      .describe(
        'Extension (seed pages): "deny" keeps the tool listed but refuses every call; "require_approval" ' +
          'needs a person to approve each call.',
      ),
    reason: z.string().optional().describe('Why a call is denied; shown to the agent.'),
    limits: z.array(limitSchema).optional(),
    require: z.array(conditionSchema).optional().describe('Conditions that must all hold.'),
    deny_if: z.array(conditionSchema).optional().describe('Conditions any one of which denies the call.'),
    on_deny: z.string().optional().describe('The message given to the agent when this rule denies.'),
    require_approval_if: z
      .array(conditionSchema)
      .optional()
      .describe('Extension: conditions any one of which makes the call need approval.'),
    approval: approvalSchema.optional(),
  })
  .refine(
    (rule) =>
      rule.approval === undefined ||
      rule.action === 'require_approval' ||
      rule.require_approval_if !== undefined,
    {
      path: ['approval'],
      error: '"approval" applies only with "action": "require_approval" or a "require_approval_if" list',
    },
  )
  .describe('What applies to one tool. Under default "deny", {} allows the tool.')
  .meta({ id: 'GatewayPolicyRule' });

const paramsPath = z
  .string()
  .regex(/^params(\.[^.]+)+$/, { error: 'expected a path of the form "params.<field>[.<field>...]"' });

export const notificationAsToolSchema = z
  .strictObject({
    method: z.string().min(1).describe('The notification method, e.g. "notifications/message".'),
    when: paramsPath
      .optional()
      .describe('Applies only to notifications that carry this field (e.g. "params.data.topic").'),
    tool: z.string().min(1).describe('The tool whose rule decides, as if the agent had called it.'),
    args: z
      .record(z.string().min(1), paramsPath)
      .describe('The call\'s arguments, taken from the notification: argument name -> "params.<path>".'),
  })
  .describe(
    'Extension: notifications that deliver what a tool call would (pushed MQTT messages and mqttReadMessages) ' +
      'pass only when that call would pass: hide, action, default and the conditions on these arguments.',
  )
  .meta({ id: 'GatewayPolicyNotificationAsTool' });

export const notificationsSchema = z
  .strictObject({
    deny: z
      .array(z.string().min(1))
      .optional()
      .describe('Notification methods never passed to the agent, e.g. "notifications/resources/updated".'),
    as_tool: z
      .array(notificationAsToolSchema)
      .optional()
      .describe(
        'Absent: pushed MQTT messages (notifications/message with params.data.topic) are decided as ' +
          'mqttReadMessages with args topic and connection. [] turns that off.',
      ),
  })
  .describe('Extension: what the server may push to the agent without being asked.')
  .meta({ id: 'GatewayPolicyNotifications' });

export const policySchema = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal('1', { error: 'expected "1"' }),
    default: z.enum(['allow', 'deny']).describe('What happens to a tool not listed under "tools".'),
    hide: z
      .union([z.literal('*'), z.array(z.string().min(1))])
      .optional()
      .describe('Tools removed from tools/list and denied; "*" hides every tool.'),
    all_tools: z.strictObject({ limits: z.array(limitSchema).optional() }).optional(),
    tools: z.record(z.string().min(1), ruleSchema).optional(),
    notifications: notificationsSchema.optional(),
  })
  .describe('A Bastion gateway policy (PolicyLayer JSON format, version 1, with extensions).')
  .meta({ id: 'GatewayPolicy' });

export type PolicyDocument = z.infer<typeof policySchema>;
export type RuleDocument = z.infer<typeof ruleSchema>;
export type LimitDocument = z.infer<typeof limitSchema>;
export type ConditionDocument = z.infer<typeof conditionSchema>;
export type NotificationsDocument = z.infer<typeof notificationsSchema>;
export type NotificationAsToolDocument = z.infer<typeof notificationAsToolSchema>;
export type ApprovalDocument = z.infer<typeof approvalSchema>;
export type Approver = (typeof APPROVERS)[number];

function isValidRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}
