import type { Requirement } from './types.js';

const issue = 'issue #6 (the sandbox, `pnpm start`)';

export const sandboxRequirements: Requirement[] = [
  {
    id: 'sandbox.start.ready',
    statement:
      'one command starts a broker, an SSH host, both MCP servers and the gateway in front of them, and reports the gateway URLs, a grant token, the broker and the SSH login',
    source: issue,
  },
  {
    id: 'sandbox.print.client-configs',
    statement:
      'prints for a person ready-to-paste client configurations (an mcpServers block and the MQTTX SSE URL) that reach the gateway with the token',
    source: issue,
  },
  {
    id: 'sandbox.auth.token',
    statement: 'refuses calls without the grant token unless anonymous access is asked for explicitly',
    source: issue,
  },
  {
    id: 'sandbox.telemetry',
    statement:
      'simulated devices publish telemetry every second and retained status topics, which an agent reads through the gateway, and answer commands published to them',
    source: issue,
  },
  {
    id: 'sandbox.ssh.seeded',
    statement: 'an agent runs commands on the SSH host through the gateway and finds the seeded files',
    source: issue,
  },
  {
    id: 'sandbox.policy.limit',
    statement:
      'the default policy allows the harmless tools and rate-limits the rest: a call over a limit is denied naming its rule',
    source: issue,
  },
  {
    id: 'sandbox.policy.reload',
    statement: 'an edit of the policy file is reloaded while the sandbox runs, and the feed says so',
    source: issue,
  },
  {
    id: 'sandbox.feed',
    statement:
      'reports each gateway decision as it happens: server, tool, decision, rule and upstream latency',
    source: issue,
  },
  {
    id: 'sandbox.stop.clean',
    statement:
      'SIGINT or SIGTERM stops everything: the process exits 0, its ports are closed and none of its child processes is left',
    source: issue,
  },
  {
    id: 'sandbox.tier.real',
    statement:
      'with --tier process or container the same sandbox runs on real mosquitto and sshd (or containers)',
    source: issue,
  },
  {
    id: 'sandbox.shell.isolated',
    statement: "the simulated shell cannot see the host's files: /etc and the repository are absent",
    source: issue,
  },
  {
    id: 'sandbox.shell.sftp-agrees',
    statement: 'files uploaded over SFTP are the files exec sees in the simulated shell, and the reverse',
    source: issue,
  },
  {
    id: 'sandbox.shell.interrupt',
    statement:
      'a runaway command in the simulated shell ends on a signal or timeout without stalling the sandbox',
    source: issue,
  },
  {
    id: 'sandbox.shell.host',
    statement:
      '--ssh-shell host runs commands in a real shell that starts in a scratch directory with the seed files',
    source: issue,
  },
  {
    id: 'sandbox.shell.jobs',
    statement:
      'background jobs run in the simulated shell: their output and exit code are readable, and stopJob ends them',
    source: 'issue #13 (sandbox: jobs and a PTY-like shell)',
  },
  {
    id: 'sandbox.shell.terminal',
    statement:
      'openShell gives a terminal-like simulated shell: echo, line editing, history, the working directory kept between lines, ctrl-c and exit',
    source: 'issue #13 (sandbox: jobs and a PTY-like shell)',
  },
  {
    id: 'sandbox.shell.audit-redacted',
    statement:
      "text typed into a shell through the sandbox's gateway is redacted in its audit log (writeShell marks it writeOnly)",
    source: 'issue #13 (passwords typed into a shell never reach the audit)',
  },
];
