/**
 * Building the command line sent to the remote shell. sshd runs it with the user's login shell
 * (`$SHELL -c`), so this assumes a POSIX shell there, as `cd` and `export` below do.
 */
import { randomBytes } from 'node:crypto';

/** Single-quotes `value` for a POSIX shell: safe for any byte sequence but NUL. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface BuiltCommand {
  line: string;
  /** Printed to stderr, alone on a line, when `cd` failed (so the command did not run). */
  cwdFailedMarker: string | undefined;
}

/**
 * The command, preceded by `export` of `env` and a `cd` that ends the shell when it fails, so a
 * failed `cd` never runs the command in the wrong directory (the Mcp Ssh defect). Environment
 * variables are set by the shell rather than by SSH `env` requests, which sshd drops unless
 * `AcceptEnv` lists them. The command itself follows on its own line, unchanged.
 */
export function buildCommand(command: string, cwd?: string, env?: Record<string, string>): BuiltCommand {
  const prefix: string[] = [];
  const entries = Object.entries(env ?? {});
  if (entries.length > 0) {
    prefix.push(`export ${entries.map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ')}`);
  }
  let cwdFailedMarker: string | undefined;
  if (cwd !== undefined) {
    cwdFailedMarker = `bastion-cwd-failed-${randomBytes(8).toString('hex')}`;
    prefix.push(`cd -- ${shellQuote(cwd)} || { printf '%s\\n' ${shellQuote(cwdFailedMarker)} >&2; exit 1; }`);
  }
  if (prefix.length === 0) return { line: command, cwdFailedMarker };
  return { line: `${prefix.join('\n')}\n${command}`, cwdFailedMarker };
}
