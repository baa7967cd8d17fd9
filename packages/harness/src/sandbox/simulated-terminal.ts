/**
 * A terminal-like shell over the sandbox's simulated shell (just-bash has no processes, so no PTY
 * and no line discipline to borrow): it echoes what is typed, edits the line (backspace, ctrl-u,
 * up/down through history), runs each line on Enter in the same in-memory file system, keeps the
 * working directory from line to line, prints `\r\n` line ends and a prompt, and treats ctrl-c
 * (stop the running line, or drop the one being typed), ctrl-d on an empty line and `exit` as a
 * terminal would. SANDBOX.md lists what it cannot do (no full-screen programs, no no-echo prompts,
 * no variables kept between lines).
 */
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { CommandExit, CommandIo, RunningShell, ShellRequest } from '../targets/ssh/command-runner.js';

export interface ScriptRun {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs one script in the simulated shell; `abort` stops it at the next statement. */
export type RunScript = (
  script: string,
  options: { cwd: string; env: Record<string, string>; abort: AbortSignal },
) => Promise<ScriptRun>;

/** Signals that end a terminal session (the rest are ignored, as by an interactive shell). */
const ENDING = new Set(['HUP', 'TERM', 'KILL', 'QUIT']);

const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');

export function startSimulatedTerminal(
  request: ShellRequest,
  io: CommandIo,
  run: RunScript,
  options: { home: string; user: string },
): RunningShell {
  const user = request.username === '' ? options.user : request.username;
  const cwdMark = `\u0000bastion-cwd-${randomBytes(6).toString('hex')}:`;
  const decoder = new StringDecoder('utf8');
  const history: string[] = [];
  let historyAt = 0;
  let cwd = options.home;
  let line = '';
  let pendingEscape: string | undefined;
  let running: AbortController | undefined;
  let typeahead = '';
  let size = { rows: request.pty.rows, cols: request.pty.cols };
  let finish: (exit: CommandExit) => void = () => {};
  const exit = new Promise<CommandExit>((resolve) => {
    finish = resolve;
  });
  let ended = false;

  const write = (text: string) => {
    if (!ended) io.stdout.write(Buffer.from(text, 'utf8'));
  };
  const prompt = () => {
    const shown =
      cwd === options.home
        ? '~'
        : cwd.startsWith(`${options.home}/`)
          ? `~${cwd.slice(options.home.length)}`
          : cwd;
    write(`${user}@sandbox:${shown}$ `);
  };
  const end = (result: CommandExit) => {
    if (ended) return;
    running?.abort();
    ended = true;
    io.stdin.off('data', onData);
    io.stdin.resume();
    finish(result);
  };
  const replaceLine = (next: string) => {
    write('\b \b'.repeat([...line].length) + next);
    line = next;
  };

  async function runLine(command: string): Promise<void> {
    const abort = new AbortController();
    running = abort;
    // The directory the line leaves behind, after its output, for the next line to start in.
    const script = `${command}\n__bastion_rc=$?\nprintf '\\n%s%s' '${cwdMark}' "$PWD"\nexit $__bastion_rc`;
    const env = {
      ...request.env,
      TERM: request.pty.term,
      COLUMNS: String(size.cols),
      LINES: String(size.rows),
    };
    const result = await run(script, { cwd, env, abort: abort.signal });
    running = undefined;
    if (ended) return;
    let stdout = result.stdout;
    const at = stdout.lastIndexOf(`\n${cwdMark}`);
    if (at !== -1) {
      cwd = stdout.slice(at + cwdMark.length + 1) || cwd;
      stdout = stdout.slice(0, at);
    }
    if (!abort.signal.aborted) write(crlf(stdout + result.stderr));
    prompt();
    const pending = typeahead;
    typeahead = '';
    for (const ch of pending) handle(ch);
  }

  function enter(): void {
    write('\r\n');
    const command = line;
    line = '';
    if (command.trim() === '') {
      prompt();
      return;
    }
    history.push(command);
    historyAt = history.length;
    const exitCommand = /^\s*exit(?:\s+(\d+))?\s*$/.exec(command);
    if (exitCommand) {
      end({ code: Number(exitCommand[1] ?? 0) & 255, signal: null });
      return;
    }
    void runLine(command);
  }

  /** An escape sequence (`ESC [ ... final` or `ESC O x`) as it arrives; only up and down do anything. */
  function handleEscape(ch: string): void {
    const seq = `${pendingEscape ?? ''}${ch}`;
    const complete =
      (seq[0] !== '[' && seq[0] !== 'O') ||
      (seq[0] === '[' && seq.length > 1 && /[@-~]$/.test(seq)) ||
      (seq[0] === 'O' && seq.length === 2);
    if (!complete && seq.length < 16) {
      pendingEscape = seq;
      return;
    }
    pendingEscape = undefined;
    const last = seq.at(-1);
    if (last === 'A' && historyAt > 0) replaceLine(history[--historyAt] ?? '');
    else if (last === 'B' && historyAt < history.length) replaceLine(history[++historyAt] ?? '');
  }

  function handle(ch: string): void {
    if (ended) return;
    if (running !== undefined) {
      if (ch === '\x03') {
        write('^C\r\n');
        running.abort();
      } else typeahead += ch;
      return;
    }
    if (pendingEscape !== undefined) {
      handleEscape(ch);
      return;
    }
    if (ch === '\x1b') pendingEscape = '';
    else if (ch === '\r' || ch === '\n') enter();
    else if (ch === '\x03') {
      write('^C\r\n');
      line = '';
      prompt();
    } else if (ch === '\x04') {
      if (line === '') {
        write('exit\r\n');
        end({ code: 0, signal: null });
      }
    } else if (ch === '\x7f' || ch === '\b') {
      if (line !== '') replaceLine([...line].slice(0, -1).join(''));
    } else if (ch === '\x15') replaceLine('');
    else if (ch >= ' ') {
      line += ch;
      write(ch);
    }
  }

  const onData = (chunk: Buffer | string) => {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    for (const ch of text) handle(ch);
  };
  io.stdin.on('data', onData);
  io.stdin.once('end', () => end({ code: null, signal: 'HUP' }));
  write(crlf('Bastion sandbox: a simulated shell, one line at a time (see SANDBOX.md).\n'));
  prompt();

  return {
    signal(name) {
      const upper = name.toUpperCase().replace(/^SIG/, '');
      if (upper === 'INT') handle('\x03');
      else if (ENDING.has(upper)) end({ code: null, signal: upper });
    },
    resize(rows, cols) {
      size = { rows, cols };
    },
    hangUp() {
      end({ code: null, signal: 'HUP' });
    },
    exit,
  };
}
