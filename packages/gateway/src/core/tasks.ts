/**
 * The gateway serves no MCP tasks: an upstream task's result would be fetched with `tasks/get`,
 * passing by the policy, the approvals and the audit. These take the tasks extension out of what
 * passes (agent-link.ts for calls and discover answers, modern-upstream.ts for what agents are shown).
 */
import { TASKS_EXTENSION } from '@bastion/mcp-http';

/** `capabilities` without the tasks extension, or undefined when they do not declare it. */
export function withoutTasksExtension(capabilities: unknown): Record<string, unknown> | undefined {
  if (capabilities === null || typeof capabilities !== 'object') return undefined;
  const { extensions } = capabilities as { extensions?: unknown };
  // An upstream's malformed `extensions` (not an object) is passed on as it is, never thrown on.
  if (extensions === null || typeof extensions !== 'object' || !(TASKS_EXTENSION in extensions)) {
    return undefined;
  }
  const { [TASKS_EXTENSION]: _tasks, ...rest } = extensions as Record<string, unknown>;
  return { ...(capabilities as Record<string, unknown>), extensions: rest };
}
