import { randomBytes } from 'node:crypto';
import { buildCommand, shellQuote } from './shell.js';

/**
 * The command line of a background job: a watchdog that ends the job's whole process group when its
 * SSH channel goes away, however it goes away; then a `cd` into the cwd that reports its outcome;
 * then the user's command after the `export` prefix of shell.ts.
 *
 * Why: sshd ends nothing when an exec channel without a PTY closes or its connection drops; it
 * only closes the command's pipes. A job that does not write (a `sleep`, a server waiting for
 * clients) would run on as an orphan after a network cut or a killed bastion-ssh, where no signal
 * request can be sent any more. The watchdog reads the channel's stdin, which bastion-ssh never
 * closes while the job runs; end of file there means the channel is gone, and it answers with
 * SIGKILL to the process group (sshd makes the command a process group leader with setsid, and a
 * non-interactive shell starts no groups of its own, so the group is exactly the job and what it
 * started). It ignores every signal signalJob and stopJob send but KILL, so it is still there when a
 * command survives them; the command itself gets /dev/null as stdin.
 *
 * POSIX sh only, as the rest of shell.ts. A shell without `trap` or `kill` (the sandbox's simulated
 * shell) runs the job all the same: the watchdog's own errors go to /dev/null.
 */
export interface JobCommand {
  line: string;
  /**
   * With a cwd: the job prints `<marker>:ok` (entered) or `<marker>:failed` (not entered, and the
   * command did not run) alone on a line to stderr, before anything of the command itself; only
   * `cd`'s own error message can come first. jobs.ts takes that line out of the output.
   */
  cwdMarker: string | undefined;
}

export function buildJobCommand(command: string, cwd?: string, env?: Record<string, string>): JobCommand {
  const lines = [
    'exec 3<&0 </dev/null',
    "(trap '' HUP INT QUIT TERM USR1 USR2; cat <&3 >/dev/null 2>&1; kill -KILL 0) >/dev/null 2>&1 &",
    'exec 3<&-',
  ];
  let cwdMarker: string | undefined;
  if (cwd !== undefined) {
    // Unlike exec, which finds its marker when the command has ended, a job's output is read while
    // it runs: a line on success too tells jobs.ts when to stop looking.
    cwdMarker = `bastion-cwd-${randomBytes(8).toString('hex')}`;
    lines.push(
      `cd -- ${shellQuote(cwd)} || { printf '%s\\n' ${shellQuote(`${cwdMarker}:failed`)} >&2; exit 1; }`,
      `printf '%s\\n' ${shellQuote(`${cwdMarker}:ok`)} >&2`,
    );
  }
  lines.push(buildCommand(command, undefined, env).line);
  return { line: lines.join('\n'), cwdMarker };
}
