import type { Requirement } from './types.js';

const issue = 'issue #13 SSH item 2 (use the MCP Tasks extension where the client negotiates it)';

/** MCP tasks: bastion-ssh's exec as a task in both eras (@bastion/mcp-http tasks/), and the gateway, which serves none. */
export const taskRequirements: Requirement[] = [
  {
    id: 'ssh.tasks.legacy',
    statement:
      "2025-11-25: the server declares tasks and exec execution.taskSupport 'optional'; the v1 client's callToolStream gets a task at once, polls it to completed and gets the result exec gives as a plain call (output schema checked); tasks/list lists it; a failing command's task is failed and tasks/result gives its isError result",
    source: issue,
  },
  {
    id: 'ssh.tasks.legacy-cancel',
    statement:
      '2025-11-25: tasks/cancel ends the remote command (pgrep on the host), the task stays cancelled, and cancelling it again is -32602',
    source: issue,
  },
  {
    id: 'ssh.tasks.session-end',
    statement: "a task's remote command ends when its MCP session is deleted (pgrep on the host)",
    source: `${issue}; item 2, jobs end with the session`,
  },
  {
    id: 'ssh.tasks.stdio',
    statement:
      'over stdio (the bin as an MCP client config starts it), a 2025-11-25 client gets the tasks capability and runs exec as a task with the official v1 client',
    source: issue,
  },
  {
    id: 'ssh.tasks.modern',
    statement:
      "2026-07-28: server/discover lists the io.modelcontextprotocol/tasks extension; an exec from a caller declaring it that outlasts --task-after-ms is answered with resultType 'task' and tasks/get reaches completed with exec's own result; a short exec is answered directly; a caller without the extension (the official v2 client's callTool) never gets a task",
    source: issue,
  },
  {
    id: 'ssh.tasks.modern-cancel',
    statement:
      '2026-07-28: tasks/cancel ends the remote command (pgrep on the host) and tasks/get says cancelled; tasks/get with an Mcp-Name header that is not the task id is refused with -32020; an unknown task id is -32602',
    source: issue,
  },
  {
    id: 'gateway.tasks.withheld',
    statement:
      'in front of an upstream that serves tasks (bastion-ssh), the gateway shows agents neither the 2025 tasks capability nor the 2026 tasks extension, and a call asking for a task anyway (params.task, or the extension declared) gets the plain result',
    source: `${issue}; the gateway serves no tasks/get, and a task's result would pass by the policy`,
  },
];
