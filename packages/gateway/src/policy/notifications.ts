/**
 * What a server may push to the agent unasked. A tool rule that keeps an agent from reading MQTT
 * messages (`mqttReadMessages` denied, or limited to some topics) means little if the same messages
 * arrive as `notifications/message`; so a notification that delivers what a tool call would is decided
 * as that call ("as_tool"), and a policy may drop whole notification methods ("deny").
 *
 * - Protocol notifications (list_changed, progress, cancelled, elicitation/complete) carry no data
 *   of the server's: they pass unless a policy's `deny` names them.
 * - `notifications.deny`: those methods are dropped.
 * - `notifications.as_tool`: a notification of `method` that carries the `when` field is decided as a
 *   call of `tool` with the mapped arguments: hidden, `action: "deny"`, the default for an unlisted
 *   tool, and the rule's conditions on those arguments (conditions on other arguments are not about
 *   pushed data and are skipped). Absent, pushed MQTT messages (bastion-mqtt's
 *   `notifications/message` whose `data` has a `topic`) are decided as `mqttReadMessages`.
 * - No policy at all (a grant that reaches no policy): only protocol notifications pass.
 *
 * `decideNotification` is pure: the forwarding core calls it for each notification it would pass on.
 */
import { type CompiledPolicy, isHidden, ruleFor } from './compile.js';
import { firstViolation, readPath, violationReason } from './conditions.js';
import { escapePointerSegment } from './problems.js';
import type { NotificationAsToolDocument } from './schema.js';

export interface PushedNotification {
  method: string;
  params?: Record<string, unknown> | undefined;
}

export type NotificationDecision =
  | { action: 'allow' }
  | { action: 'drop' /** JSON Pointer of what decided, or `(no policy)`. */; rule: string; reason: string };

/** Notifications of the protocol itself, not data of the server's. */
export const PROTOCOL_NOTIFICATIONS: ReadonlySet<string> = new Set([
  'notifications/tools/list_changed',
  'notifications/resources/list_changed',
  'notifications/prompts/list_changed',
  'notifications/progress',
  'notifications/cancelled',
  'notifications/elicitation/complete',
]);

/** What applies when a policy has no `notifications.as_tool`: pushed MQTT messages are reads. */
export const DEFAULT_AS_TOOL: ReadonlyArray<NotificationAsToolDocument> = [
  {
    method: 'notifications/message',
    when: 'params.data.topic',
    tool: 'mqttReadMessages',
    args: { topic: 'params.data.topic', connection: 'params.data.connection' },
  },
];

const ALLOW: NotificationDecision = { action: 'allow' };

function read(notification: PushedNotification, path: string): unknown {
  return readPath({ params: notification.params }, path.split('.'));
}

function asToolDecision(
  policy: CompiledPolicy,
  notification: PushedNotification,
  mapping: NotificationAsToolDocument,
  pointer: string,
): NotificationDecision {
  const tool = mapping.tool;
  const as = `decided as a call of '${tool}' (${pointer})`;
  if (isHidden(policy, tool))
    return { action: 'drop', rule: '(hidden)', reason: `${as}: the tool is hidden` };
  const rule = ruleFor(policy, tool);
  if (rule === undefined) {
    return policy.default === 'allow'
      ? ALLOW
      : { action: 'drop', rule: '(default deny)', reason: `${as}: the tool is not allowed (default deny)` };
  }
  if (rule.action === 'deny') {
    return { action: 'drop', rule: `${rule.pointer}/action`, reason: `${as}: the tool is denied` };
  }
  const args: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(mapping.args)) {
    const value = read(notification, path);
    if (value !== undefined) args[name] = value;
  }
  const mapped = new Set(Object.keys(mapping.args));
  const violation = firstViolation(rule, args, (c) => mapped.has(c.argPath[0] ?? ''));
  if (violation === undefined) return ALLOW;
  return {
    action: 'drop',
    rule: violation.condition.pointer,
    reason: `${as}: ${violationReason(violation, { onDeny: rule.onDeny, reason: rule.reason })}`,
  };
}

/** Whether `notification` may reach the agent under `policy` (see the file comment). */
export function decideNotification(
  policy: CompiledPolicy | undefined,
  notification: PushedNotification,
): NotificationDecision {
  const { method } = notification;
  const section = policy?.document.notifications;
  const denied = section?.deny?.indexOf(method) ?? -1;
  if (denied >= 0) {
    return { action: 'drop', rule: `/notifications/deny/${denied}`, reason: `'${method}' is denied` };
  }
  if (PROTOCOL_NOTIFICATIONS.has(method)) return ALLOW;
  if (policy === undefined) return { action: 'drop', rule: '(no policy)', reason: 'no policy applies' };
  const own = section?.as_tool;
  const mappings = own ?? DEFAULT_AS_TOOL;
  for (const [i, mapping] of mappings.entries()) {
    if (mapping.method !== method) continue;
    if (mapping.when !== undefined && read(notification, mapping.when) === undefined) continue;
    const pointer =
      own === undefined ? '(default as_tool)' : `/notifications/as_tool/${escapePointerSegment(i)}`;
    return asToolDecision(policy, notification, mapping, pointer);
  }
  return ALLOW;
}
