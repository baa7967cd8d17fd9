/**
 * What a subcommand gets from `bin.ts`, the one place that touches the process: its streams, a
 * signal aborted on Ctrl-C/SIGTERM, and hooks for the exit code and a last synchronous cleanup.
 */
export interface CliContext {
  /** Aborted on the first SIGINT or SIGTERM; a second one exits at once. */
  signal: AbortSignal;
  /** Where relative paths given by the user are resolved (the shell's directory, even under pnpm). */
  cwd: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  setExitCode(code: number): void;
  /** Registers a synchronous last resort run when the process exits, e.g. SIGKILL of children. */
  onExit(fn: () => void): void;
}
