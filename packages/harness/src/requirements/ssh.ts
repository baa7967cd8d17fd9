import type { Requirement } from './types.js';

const issue = 'issue #3 (the SSH MCP server)';
const issue13Jobs = 'issue #13, SSH: what to build';
const issue14 = 'issue #14 item 11 (orphaned remote commands)';
const mcpSsh = (defect: string) => `UPSTREAMS.md, Mcp Ssh defect: ${defect}`;
const issue13 = (item: string) => `issue #13, SSH item ${item}`;

export const sshRequirements: Requirement[] = [
  {
    id: 'ssh.clients.success-paths',
    statement:
      "every tool's success path passes through the official client's own callTool (v1 2025-11-25, v2 in both eras)",
    source: 'issue #9 item 4',
  },
  {
    id: 'ssh.clients.error-paths',
    statement:
      'a wrong password, a host not allowed, a wrong or missing fingerprint (naming the offered one), exec on an unknown or disconnected connection, disconnect twice, a missing file or directory: isError results with a stable code in every official client, never a thrown -32602',
    source: 'issue #9 item 4',
  },
  {
    id: 'ssh.clients.work-paths',
    statement:
      "a background job and a PTY shell, success and unknown-id errors, through the official client's own callTool (v1 2025-11-25, v2 in both eras)",
    source: 'issue #9 item 4; issue #13 SSH items 2-3',
  },
  {
    id: 'ssh.eras.stdio',
    statement:
      'over stdio the v1 client and the v2 client in both eras list and call the tools (serveStdio pins the era)',
    source: 'issue #9 item 3',
  },
  {
    id: 'ssh.eras.identity-isolation',
    statement:
      "in the stateless era a connection belongs to the caller's identity: the same token reaches it from any client, another token can neither list nor use it",
    source: 'issue #9 item 3',
  },
  { id: 'ssh.auth.password', statement: 'connects with a username and password', source: issue },
  { id: 'ssh.auth.key', statement: 'connects with a private key', source: issue },
  {
    id: 'ssh.auth.wrong-password',
    statement: 'refuses a wrong password as AUTH_FAILED without echoing it',
    source: issue,
  },
  {
    id: 'ssh.hostkey.pinned',
    statement: 'accepts a host key that matches hostFingerprint and returns its SHA256 fingerprint',
    source: issue,
  },
  {
    id: 'ssh.hostkey.mismatch',
    statement: 'refuses a host key that does not match the pin, naming the offered fingerprint',
    source: issue,
  },
  {
    id: 'ssh.hostkey.unverified',
    statement: 'refuses a host key it cannot verify by default, naming the offered fingerprint',
    source: mcpSsh('no host-key verification at all'),
  },
  {
    id: 'ssh.hostkey.known-hosts',
    statement:
      'accepts a key listed in the --known-hosts file ([host]:port and hashed entries) and refuses a host listed with another key',
    source: issue,
  },
  {
    id: 'ssh.hostkey.tofu',
    statement: 'with --trust-on-first-use pins the first key of a host:port and refuses a changed one',
    source: issue,
  },
  {
    id: 'ssh.exec.output',
    statement: 'returns stdout, stderr and the exit code of a command',
    source: issue,
  },
  {
    id: 'ssh.exec.nonzero-exit',
    statement: 'reports a non-zero exit as isError with the code',
    source: mcpSsh('non-zero exit codes not reported as failures'),
  },
  {
    id: 'ssh.exec.timeout',
    statement: 'ends a command at timeoutMs: timedOut is true and the remote process is gone',
    source: mcpSsh('command timeouts passed to an option that does not exist'),
  },
  {
    id: 'ssh.exec.output-cap',
    statement: 'cuts output at maxOutputBytes and says so with truncated: true',
    source: mcpSsh('output cut to head and tail without saying so in a machine-readable way'),
  },
  {
    id: 'ssh.exec.cwd',
    statement: 'runs the command in cwd, and does not run it at all when cd fails',
    source: mcpSsh('a failed cd still runs the command'),
  },
  { id: 'ssh.exec.stdin', statement: 'passes stdin to the command', source: issue },
  {
    id: 'ssh.exec.env',
    statement: 'sets env variables for the command, quoted so that any value arrives unchanged',
    source: issue,
  },
  {
    id: 'ssh.exec.progress',
    statement: 'streams output as progress notifications when the client gave a progress token',
    source: mcpSsh('output sent to a method that does not exist'),
  },
  {
    id: 'ssh.exec.limits',
    statement: 'refuses more concurrent execs per connection, and connections per session, than the limits',
    source: issue,
  },
  {
    id: 'ssh.input.invalid',
    statement:
      'answers an unknown connection id, an empty command, a malformed fingerprint and an oversized upload with clear errors',
    source: issue,
  },
  {
    id: 'ssh.sftp.round-trip',
    statement: 'uploads and downloads a binary file byte-identical over SFTP',
    source: mcpSsh('SFTP channels never closed'),
  },
  {
    id: 'ssh.files-root.confined',
    statement:
      "reads and writes local files only inside --files-root; '..' and symlinks out of it are refused",
    source: mcpSsh('upload/download read and write any local path'),
  },
  {
    id: 'ssh.session.isolation',
    statement: "a session can neither see nor use another session's connections",
    source: issue,
  },
  {
    id: 'ssh.keepalive.dead',
    statement: 'a host that stops answering is detected by keepalives and listConnections shows it dead',
    source: mcpSsh('dropped connections are never detected'),
  },
  {
    id: 'ssh.reconnect.exec',
    statement:
      'after the host is killed and restarted on the same port, the next exec reconnects once with the pinned key and says so',
    source: mcpSsh('reconnect attempts multiply'),
  },
  {
    id: 'ssh.jump.chain',
    statement:
      'connect reaches a host that only a jump host can reach, through a chain of jump hosts that each log in with their own credentials',
    source: issue13('4 (jump hosts)'),
  },
  {
    id: 'ssh.jump.verify',
    statement:
      "checks every jump host's key (pin, known_hosts, or trust on first use only where the server allows it) and refuses the hop that fails, naming it and the key it offered",
    source: issue13('4: host-key checks disabled on jump hosts'),
  },
  {
    id: 'ssh.jump.cleanup',
    statement:
      'through a jump host, a timeout ends the remote command, a reconnect opens the whole route again with the same keys, and disconnect leaves no connection open on either host',
    source: issue13('4 (jump hosts)'),
  },
  {
    id: 'ssh.agent.auth',
    statement:
      "logs in with a key held by the server's ssh-agent only when the operator started it with --ssh-agent",
    source: issue13('5 (agent auth)'),
  },
  {
    id: 'ssh.agent.no-forward',
    statement:
      'never forwards the agent to the remote by default; agentForward works only when the connect asks for it and the server allows it (--allow-agent-forwarding)',
    source: issue13('5 (agent auth)'),
  },
  {
    id: 'ssh.cert.user',
    statement:
      'logs in with an OpenSSH user certificate (privateKey + certificate, or held by the ssh-agent) where the key alone is refused; a certificate from an untrusted CA fails with AUTH_FAILED naming it, and an expired, host, or mismatched certificate is refused before dialling with INVALID_INPUT naming the field',
    source: issue13('5 (certificate auth)'),
  },
  {
    id: 'ssh.cert.host-ca',
    statement:
      'a host trusted in known_hosts only through @cert-authority is reached through its host certificate (CA signature, host type, principal, validity checked; the certified key signs the key exchange); one signed by a CA not listed for the host, or @revoked, is refused and never trusted on first use',
    source: issue13('5 (host certificates)'),
  },
  {
    id: 'ssh.hostkey.endpoint',
    statement:
      'a key trusted on first use at 127.0.0.1 binds localhost and ::ffff:127.0.0.1 (the same endpoint) but not ::1, so a changed key is refused whatever the spelling',
    source: issue13('6 (host keys by identity)'),
  },
  {
    id: 'ssh.hostkey.pin-conflict',
    statement:
      'a hostFingerprint that contradicts known_hosts is refused unless the server allows overrides (--allow-fingerprint-override)',
    source: issue13('6: an agent-supplied hostFingerprint overrides a contradicting known_hosts entry'),
  },
  {
    id: 'ssh.connect.error-schema',
    statement:
      "connect's error results pass the official client's output-schema check once the client has listed the tools",
    source: 'ARCHITECTURE.md: every result, success or error, must pass callTool validation',
  },
  {
    id: 'ssh.secrets.never-logged',
    statement: 'passwords and private key material appear in no log line and no tool result',
    source: mcpSsh('private keys and passwords persisted in plain text'),
  },
  // Issue 13, SSH items 1-3, and issue 14 item 11: long-running work.
  {
    id: 'ssh.exec.progress-heartbeat',
    statement:
      'with a progress token, a command silent for longer than the client timeout completes for a client that resets its timeout on progress',
    source: issue13Jobs,
  },
  {
    id: 'ssh.exec.progress-cap',
    statement:
      'streamed output stops at maxOutputBytes, says once that the rest is dropped, and the result says truncated',
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.start-read',
    statement:
      'startJob returns a job id at once; readJobOutput by offsets gives each byte of stdout and stderr once; jobStatus gives the exit code',
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.ring',
    statement:
      'a job keeps the last outputBytes of each stream; reads say how many bytes were dropped before them',
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.signal',
    statement: "signalJob delivers the signal to the job's process group and returns its status",
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.stop',
    statement: 'stopJob ends the job and every process it started, one that ignores TERM included',
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.timeout',
    statement: "a job's timeoutMs ends it on the remote (endReason timeout, no process left)",
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.connection-closed',
    statement: "disconnect ends the connection's jobs on the remote",
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.connection-lost',
    statement: 'a job whose SSH connection drops without a goodbye is ended on the remote all the same',
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.cwd',
    statement: 'a job runs in cwd, and does not run at all when cd fails (endReason cwd_failed)',
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.limits',
    statement:
      'more jobs than the per-session limit, an unknown job id and an offset past the output are refused with clear errors',
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.pty',
    statement: 'openShell gives a login shell on a real terminal of the type and size asked for',
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.keys',
    statement: 'named keys reach the terminal: ctrl-c interrupts the foreground command, up recalls history',
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.secret-input',
    statement:
      "a password typed at a no-echo prompt reaches the program but no log, result or echo, and writeShell's text is marked writeOnly",
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.resize',
    statement: 'resizeShell changes the size the programs in the terminal see',
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.programs',
    statement:
      'a REPL (perl reading the terminal line by line, ended by ctrl-d) and top -b run in the shell and answer',
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.output-cap',
    statement: 'a shell keeps the last outputBytes of its output; reads say how many bytes were dropped',
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.close',
    statement: 'closeShell ends the shell and the command running in it on the remote',
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.idle-timeout',
    statement: 'a shell with no call on it for idleTimeoutMs is closed, and what ran in it ends',
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.connection-closed',
    statement: "disconnect ends the connection's shells and what runs in them on the remote",
    source: issue13Jobs,
  },
  {
    id: 'ssh.shell.limits',
    statement: 'more shells than the per-session limit, an unknown shell id and an unknown key are refused',
    source: issue13Jobs,
  },
  {
    id: 'ssh.session-end.delete',
    statement:
      'a DELETE of the MCP session over Streamable HTTP ends its running exec, jobs and shells on the remote',
    source: issue14,
  },
  {
    id: 'ssh.session-end.sse',
    statement: "the legacy SSE stream closing ends the session's running exec, jobs and shells on the remote",
    source: issue14,
  },
  {
    id: 'ssh.session-end.stdio',
    statement:
      "EOF on stdio ends the session's running exec, jobs and shells on the remote, then the server exits",
    source: issue14,
  },
  {
    id: 'ssh.session-end.shutdown',
    statement:
      "SIGTERM to the server ends every session's running exec, jobs and shells on the remote, then it exits 0",
    source: issue14,
  },
  {
    id: 'ssh.owner.connection-close',
    statement:
      'closing a connection (ManagedConnection.close, the hook for an expiring stateless identity) ends its execs, jobs and shells on the remote before the connection',
    source: issue14,
  },
  {
    id: 'ssh.owner.table-close',
    statement: "a job or shell table's closeAll ends its work on the remote and leaves the connection usable",
    source: issue13Jobs,
  },
  {
    id: 'ssh.jobs.kept',
    statement: 'finished jobs stay readable up to the kept limit, then the oldest is forgotten',
    source: issue13Jobs,
  },
  {
    id: 'ssh.results.schema',
    statement:
      "exec's and the job and shell tools' error results pass the official client's outputSchema check (no -32602), and keep their code",
    source: 'issue #13 / the official clients validate structuredContent on errors too',
  },
];
