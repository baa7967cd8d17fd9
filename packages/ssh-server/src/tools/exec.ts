import { ERROR_META_KEY } from '@bastion/mcp-http/kit';
import type { CallToolResult, McpServer, ServerNotification } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { ManagedConnection } from '../connections.js';
import { SshError } from '../errors.js';
import { type ExecOutcome, runExec } from '../exec.js';
import { buildCommand, ENV_NAME_PATTERN } from '../shell.js';
import type { ExecChannel } from '../ssh-client.js';
import { runTool, type ToolContext } from './context.js';

export const execInput = {
  connectionId: z.string().min(1),
  command: z
    .string()
    .min(1, 'command must not be empty')
    .refine((c) => c.trim() !== '', 'command must not be blank')
    .refine((c) => !c.includes('\0'), 'command must not contain NUL'),
  cwd: z
    .string()
    .min(1)
    .refine((c) => !c.includes('\0'), 'cwd must not contain NUL')
    .optional()
    .describe('Directory to run in; if it cannot be entered the command is not run'),
  env: z
    .record(
      z.string().regex(ENV_NAME_PATTERN, 'environment variable names are letters, digits and _'),
      z.string().refine((v) => !v.includes('\0'), 'must not contain NUL'),
    )
    .optional()
    .describe('Environment variables for the command'),
  stdin: z.string().optional().describe('Text written to the command’s standard input (then EOF)'),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Ends the command after this long (default 60 s; capped by the server)'),
  maxOutputBytes: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'Cap on stdout + stderr kept (default 1 MiB); output beyond it is dropped and truncated is true',
    ),
};

export const execOutput = {
  connectionId: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  exitCode: z.number().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  truncated: z.boolean(),
  durationMs: z.number(),
  reconnected: z.boolean(),
  code: z.string().optional(),
  message: z.string().optional(),
};

type ExecArgs = z.output<z.ZodObject<typeof execInput>>;

/** What exec needs of the request: its cancellation, and a way to send progress for it. */
interface Extra {
  signal: AbortSignal;
  progressToken: string | number | undefined;
  notify: (notification: ServerNotification) => Promise<void>;
}

export function registerExecTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'exec',
    {
      title: 'Run a command over SSH',
      description:
        'Runs a shell command on a connection and returns stdout, stderr and the exit code. A non-zero exit ' +
        'or a timeout is an error result that still carries the output. The timeout really ends the remote ' +
        'command. Output beyond maxOutputBytes is cut (truncated: true). cwd is entered first and the ' +
        'command does not run if that fails. With a progress token, output is streamed as progress notifications. ' +
        'If the connection was lost, it is re-established once (same credentials and host key) before running.',
      inputSchema: z.object(execInput),
      outputSchema: z.object(execOutput),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    (args, call) =>
      runTool(ctx, 'exec', () =>
        execTool(ctx, args, {
          signal: call.mcpReq.signal,
          progressToken: call.mcpReq._meta?.progressToken,
          notify: (n) => call.mcpReq.notify(n),
        }),
      ),
  );
}

/** Opens the exec channel, reconnecting once if the connection turns out to be gone. */
function openChannel(
  managed: ManagedConnection,
  line: string,
): Promise<{ value: ExecChannel; reconnected: boolean }> {
  return managed.withRetry(
    (connection) => connection.exec(line),
    // A refusal on a live connection is final, and reported as the command failing to start.
    (err) => new SshError('EXEC_FAILED', (err as Error).message, {}, { cause: err }),
  );
}

async function execTool(ctx: ToolContext, args: ExecArgs, extra: Extra): Promise<CallToolResult> {
  const { config } = ctx;
  const managed = ctx.registry.get(args.connectionId);
  if (managed.activeExecs >= config.maxExecsPerConnection) {
    throw new SshError(
      'TOO_MANY_EXECS',
      `connection ${managed.id} already runs ${config.maxExecsPerConnection} commands (the limit); wait for one to finish`,
      { limit: config.maxExecsPerConnection },
    );
  }
  const timeoutMs = Math.min(args.timeoutMs ?? config.defaultTimeoutMs, config.maxTimeoutMs);
  const maxOutputBytes = Math.min(args.maxOutputBytes ?? config.defaultMaxOutputBytes, config.maxOutputBytes);
  const built = buildCommand(args.command, args.cwd, args.env);
  const { progressToken } = extra;

  managed.activeExecs++;
  let outcome: ExecOutcome;
  let reconnected: boolean;
  const startedAt = Date.now();
  try {
    const opened = await openChannel(managed, built.line);
    reconnected = opened.reconnected;
    ctx.log.debug({ connectionId: managed.id, reconnected }, 'exec started');
    outcome = await runExec({
      channel: opened.value,
      startedAt,
      stdin: args.stdin === undefined ? undefined : Buffer.from(args.stdin, 'utf8'),
      cwdFailedMarker: built.cwdFailedMarker,
      limits: { timeoutMs, maxOutputBytes, killGraceMs: config.killGraceMs },
      abort: extra.signal,
      onOutput:
        progressToken === undefined
          ? undefined
          : (stream, text, totalBytes) => {
              extra
                .notify({
                  method: 'notifications/progress',
                  params: {
                    progressToken,
                    progress: totalBytes,
                    message: stream === 'stderr' ? `[stderr] ${text}` : text,
                  },
                })
                .catch(() => {
                  // The client went away; the result will not reach it either.
                });
            },
    });
  } finally {
    managed.activeExecs--;
  }

  const structured: Record<string, unknown> = {
    connectionId: managed.id,
    stdout: outcome.stdout,
    stderr: outcome.stderr,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    timedOut: outcome.timedOut,
    truncated: outcome.truncated,
    durationMs: outcome.durationMs,
    reconnected,
  };
  let problem: { code: string; message: string } | undefined;
  if (outcome.cwdFailed) {
    problem = {
      code: 'CWD_FAILED',
      message: `could not change to directory ${JSON.stringify(args.cwd)}; the command was not run`,
    };
  } else if (outcome.timedOut) {
    problem = { code: 'TIMEOUT', message: `the command did not finish within ${timeoutMs} ms and was ended` };
  } else if (outcome.cancelled) {
    problem = { code: 'CANCELLED', message: 'the request was cancelled and the command was ended' };
  } else if (outcome.connectionLost) {
    problem = {
      code: 'CONNECTION_LOST',
      message: 'the connection dropped while the command ran; its outcome is unknown',
    };
  } else if (outcome.exitCode !== 0) {
    problem =
      outcome.exitCode === null
        ? {
            code: 'NONZERO_EXIT',
            message: `the command was ended by ${outcome.signal ?? 'an unknown cause'}`,
          }
        : { code: 'NONZERO_EXIT', message: `the command exited with code ${outcome.exitCode}` };
  }
  if (problem) Object.assign(structured, problem);

  const facts = [
    problem ? problem.message : 'the command exited with code 0',
    reconnected ? 'the connection had been lost and was re-established before running it' : undefined,
    outcome.truncated ? `output was cut at ${maxOutputBytes} bytes (truncated)` : undefined,
  ].filter(Boolean);
  const text = [
    `${facts.join('; ')}.`,
    outcome.stdout === '' ? undefined : `--- stdout ---\n${outcome.stdout}`,
    outcome.stderr === '' ? undefined : `--- stderr ---\n${outcome.stderr}`,
  ]
    .filter(Boolean)
    .join('\n');
  // A failed command still carries its output in structuredContent (execOutput allows the code and
  // message); the code is also where every Bastion error keeps it.
  return {
    ...(problem ? { isError: true, _meta: { [ERROR_META_KEY]: { code: problem.code } } } : {}),
    content: [{ type: 'text', text }],
    structuredContent: structured,
  };
}
