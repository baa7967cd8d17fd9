import { ERROR_META_KEY } from '@bastion/mcp-http/kit';
import type {
  CallToolResult,
  McpServer,
  RegisteredTool,
  ServerNotification,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { ExecOutcome } from '../exec.js';
import { execOnConnection } from '../exec-on-connection.js';
import { OutputProgress } from '../progress.js';
import { ENV_NAME_PATTERN } from '../shell.js';
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

export function registerExecTool(server: McpServer, ctx: ToolContext): RegisteredTool {
  return server.registerTool(
    'exec',
    {
      title: 'Run a command over SSH',
      description:
        'Runs a shell command on a connection and returns stdout, stderr and the exit code. A non-zero exit ' +
        'or a timeout is an error result that still carries the output. The timeout really ends the remote ' +
        'command. Output beyond maxOutputBytes is cut (truncated: true). cwd is entered first and the ' +
        'command does not run if that fails. With a progress token, output is streamed as progress notifications ' +
        '(and a notification without a message keeps a silent command alive for clients that reset their timeout on progress). ' +
        'If the connection was lost, it is re-established once (same credentials and host key) before running. ' +
        'It can run as an MCP task (2025-11-25 tasks, or the 2026 tasks extension over HTTP): poll it, cancel it, ' +
        'and a long command never holds the request open.',
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

/** Output as progress notifications, when the client sent a progress token (progress.ts). */
function progressFor(extra: Extra, intervalMs: number): OutputProgress | undefined {
  const { progressToken } = extra;
  if (progressToken === undefined) return undefined;
  return new OutputProgress((value, message) => {
    extra
      .notify({
        method: 'notifications/progress',
        params: { progressToken, progress: value, ...(message === undefined ? {} : { message }) },
      })
      .catch(() => {
        // The client went away; the result will not reach it either.
      });
  }, intervalMs);
}

async function execTool(ctx: ToolContext, args: ExecArgs, extra: Extra): Promise<CallToolResult> {
  const { config } = ctx;
  const managed = ctx.registry.get(args.connectionId);
  const timeoutMs = Math.min(args.timeoutMs ?? config.defaultTimeoutMs, config.maxTimeoutMs);
  const maxOutputBytes = Math.min(args.maxOutputBytes ?? config.defaultMaxOutputBytes, config.maxOutputBytes);
  const progress = progressFor(extra, config.progressIntervalMs);
  let outcome: ExecOutcome;
  let reconnected: boolean;
  try {
    ({ outcome, reconnected } = await execOnConnection(managed, {
      command: args.command,
      cwd: args.cwd,
      env: args.env,
      stdin: args.stdin,
      limits: { timeoutMs, maxOutputBytes, killGraceMs: config.killGraceMs },
      maxPerConnection: config.maxExecsPerConnection,
      abort: extra.signal,
      onOutput: progress && ((stream, chunk) => progress.output(stream, chunk)),
      onTruncated: progress && (() => progress.truncated(maxOutputBytes)),
    }));
  } finally {
    progress?.close();
  }
  ctx.log.debug({ connectionId: managed.id, reconnected }, 'exec ended');

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
  return {
    // A failed command still carries its output in structuredContent (execOutput allows the code and
    // message); the code is also where every Bastion error keeps it.
    ...(problem ? { isError: true, _meta: { [ERROR_META_KEY]: { code: problem.code } } } : {}),
    content: [{ type: 'text', text }],
    structuredContent: structured,
  };
}
