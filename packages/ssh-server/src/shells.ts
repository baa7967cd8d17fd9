/**
 * Interactive shells on a real pseudo-terminal, for programs that need one ("the input device is
 * not a TTY"): `sudo` password prompts, REPLs, `top`, anything that reads keys. An agent opens one,
 * types text and named keys, reads the screen output since an offset, resizes and closes it. No MCP
 * SDK in here: the tools in tools/*-shell.ts are thin wrappers.
 *
 * What is typed is written to the terminal and nowhere else: never logged, never kept. (The
 * terminal echoes what it is given unless the program turned echo off, as password prompts do; the
 * echo then is output, like anything else the program prints.)
 *
 * A shell ends when its program exits, when it is closed, after `idleTimeoutMs` without a call on
 * it, and, as jobs do, when its connection or its session closes (shells register with the
 * connection's WorkSet). Closing the channel makes sshd close the terminal, and the kernel then
 * sends SIGHUP to everything on it, the foreground job included.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { stopChannel } from './channel-stop.js';
import type { ManagedConnection } from './connections.js';
import { SshError } from './errors.js';
import { OutputRing, type RingRead } from './output-ring.js';
import type { PtyOptions, ShellChannel } from './pty-channel.js';
import type { RemoteWork, StopReason } from './remote-work.js';
import type { ExecExit } from './ssh-client.js';
import { Waiters } from './waiters.js';

export interface ShellLimits {
  /** Shells open at once in one table (one MCP session). */
  maxOpen: number;
  /** Upper bound (and default) of the output bytes kept per shell. */
  maxOutputBytes: number;
  defaultIdleTimeoutMs: number;
  maxIdleTimeoutMs: number;
  killGraceMs: number;
}

export interface ShellRequest extends Partial<PtyOptions> {
  idleTimeoutMs?: number | undefined;
  outputBytes?: number | undefined;
}

export type ShellEnd = 'exited' | 'connection_lost' | StopReason;

export interface ShellInfo {
  shellId: string;
  connectionId: string;
  term: string;
  rows: number;
  cols: number;
  state: 'open' | 'closed';
  openedAt: string;
  closeReason: ShellEnd | null;
  exitCode: number | null;
  /** Bytes the terminal printed so far (the end offset of its output). */
  outputEnd: number;
  /** Bytes no longer held because the ring was full. */
  droppedBytes: number;
  idleTimeoutMs: number;
}

export const DEFAULT_PTY: PtyOptions = { term: 'xterm-256color', rows: 24, cols: 80 };

export class Shell implements RemoteWork {
  readonly id = randomUUID();
  readonly openedAt = new Date();
  readonly output: OutputRing;
  readonly ended: Promise<void>;
  private rows: number;
  private cols: number;
  private exit: ExecExit | undefined;
  private closeReason: ShellEnd | undefined;
  private requested: StopReason | undefined;
  private stopping: Promise<void> | undefined;
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Waiters();

  constructor(
    private readonly channel: ShellChannel,
    readonly connectionId: string,
    private readonly pty: PtyOptions,
    private readonly options: { outputBytes: number; idleTimeoutMs: number; killGraceMs: number },
  ) {
    this.rows = pty.rows;
    this.cols = pty.cols;
    this.output = new OutputRing(options.outputBytes);
    channel.onData((chunk) => {
      this.output.write(chunk);
      this.waiters.wake();
    });
    this.armIdle(options.idleTimeoutMs);
    this.ended = channel.finished.then((exit) => {
      clearTimeout(this.idleTimer);
      this.exit = exit;
      this.closeReason = this.requested ?? (exit.connectionLost ? 'connection_lost' : 'exited');
      this.waiters.wake();
    });
  }

  /** One timer for the idle timeout, re-armed when it fires rather than on every call. */
  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const idle = Date.now() - this.lastActivity;
      if (idle >= this.options.idleTimeoutMs) void this.stop('idle_timeout');
      else this.armIdle(this.options.idleTimeoutMs - idle);
    }, ms);
    this.idleTimer.unref();
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  get open(): boolean {
    return this.exit === undefined && this.stopping === undefined;
  }

  private requireOpen(): void {
    if (!this.open) {
      const why = this.closeReason ?? this.requested ?? 'closing';
      throw new SshError('CLOSED', `shell ${this.id} has ended (${why}); open a new one`, {
        shellId: this.id,
      });
    }
  }

  write(data: Buffer): void {
    this.requireOpen();
    this.touch();
    this.channel.write(data);
  }

  resize(rows: number, cols: number): void {
    this.requireOpen();
    this.touch();
    this.rows = rows;
    this.cols = cols;
    this.channel.resize(rows, cols);
  }

  read(offset: number, maxBytes: number): RingRead {
    this.touch();
    if (offset > this.output.end) {
      throw new SshError(
        'INVALID_INPUT',
        `offset ${offset} is past the end of the shell's output (${this.output.end} bytes so far)`,
        { shellId: this.id },
      );
    }
    return this.output.read(offset, maxBytes, this.exit !== undefined);
  }

  /**
   * Waits (at most `ms`, or until `signal` aborts) until there is output past `offset` (containing
   * `until`, when given), or the shell has ended.
   */
  async waitFor(options: { offset: number; until?: string | undefined }, ms: number, signal?: AbortSignal) {
    const until = options.until;
    // Search only what arrived since the last look (with an overlap for a match across chunks),
    // not the whole ring on every chunk.
    let searchFrom = options.offset;
    const ready = () => {
      if (this.exit !== undefined) return true;
      if (this.output.end <= options.offset) return false;
      if (until === undefined) return true;
      const from = Math.max(searchFrom, this.output.start);
      const found = this.output.read(from, this.output.end - from).text.includes(until);
      searchFrom = Math.max(options.offset, this.output.end - Buffer.byteLength(until) - 3);
      return found;
    };
    await this.waiters.until(ready, ms, signal);
    this.touch();
  }

  /** Hangs the terminal up (SIGHUP to all on it), then KILL; resolves when it has closed. */
  stop(reason: StopReason): Promise<void> {
    if (this.exit !== undefined) return Promise.resolve();
    this.stopping ??= (async () => {
      this.requested ??= reason;
      await stopChannel(this.channel, { graceMs: this.options.killGraceMs, first: 'HUP', closeAtOnce: true });
      await this.ended;
    })();
    return this.stopping;
  }

  info(): ShellInfo {
    return {
      shellId: this.id,
      connectionId: this.connectionId,
      term: this.pty.term,
      rows: this.rows,
      cols: this.cols,
      state: this.open ? 'open' : 'closed',
      openedAt: this.openedAt.toISOString(),
      closeReason: this.closeReason ?? null,
      exitCode: this.exit?.exitCode ?? null,
      outputEnd: this.output.end,
      droppedBytes: this.output.dropped,
      idleTimeoutMs: this.options.idleTimeoutMs,
    };
  }
}

/** The shells of one MCP session (or, in the stateless era, of one identity). */
export class ShellTable {
  private readonly shells = new Map<string, Shell>();
  private opening = 0;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly limits: ShellLimits,
    private readonly log: Logger,
  ) {}

  private openCount(): number {
    let n = this.opening;
    for (const shell of this.shells.values()) if (shell.open) n++;
    return n;
  }

  async open(managed: ManagedConnection, request: ShellRequest): Promise<Shell> {
    if (this.closing !== undefined) throw new SshError('CLOSED', 'this session is closing');
    if (this.openCount() >= this.limits.maxOpen) {
      throw new SshError(
        'TOO_MANY_SHELLS',
        `this session already has ${this.limits.maxOpen} shells open (the limit); close one first`,
        { limit: this.limits.maxOpen },
      );
    }
    const pty: PtyOptions = {
      term: request.term ?? DEFAULT_PTY.term,
      rows: request.rows ?? DEFAULT_PTY.rows,
      cols: request.cols ?? DEFAULT_PTY.cols,
    };
    this.opening++;
    let channel: ShellChannel;
    try {
      ({ value: channel } = await managed.withRetry(
        (connection) => connection.shell(pty),
        // A refusal on a live connection (e.g. sshd with PermitTTY no) is final.
        (err) => new SshError('SHELL_FAILED', (err as Error).message, {}, { cause: err }),
      ));
    } finally {
      this.opening--;
    }
    const shell = new Shell(channel, managed.id, pty, {
      outputBytes: Math.min(request.outputBytes ?? this.limits.maxOutputBytes, this.limits.maxOutputBytes),
      idleTimeoutMs: Math.min(
        request.idleTimeoutMs ?? this.limits.defaultIdleTimeoutMs,
        this.limits.maxIdleTimeoutMs,
      ),
      killGraceMs: this.limits.killGraceMs,
    });
    let release: () => void;
    try {
      release = managed.work.add(shell);
    } catch (err) {
      await shell.stop('connection_closed');
      throw err;
    }
    this.shells.set(shell.id, shell);
    this.log.debug({ shellId: shell.id, connectionId: managed.id }, 'shell opened');
    void shell.ended.then(() => {
      release();
      this.log.debug({ shellId: shell.id, closeReason: shell.info().closeReason }, 'shell ended');
      this.prune();
    });
    if (this.closing !== undefined) await shell.stop('session_closed');
    return shell;
  }

  /** Forgets the oldest ended shells beyond as many as may be open. */
  private prune(): void {
    const ended = [...this.shells.values()].filter((s) => !s.open);
    for (const shell of ended.slice(0, Math.max(0, ended.length - this.limits.maxOpen))) {
      this.shells.delete(shell.id);
    }
  }

  get(shellId: string): Shell {
    const shell = this.shells.get(shellId);
    if (shell === undefined) {
      throw new SshError('UNKNOWN_SHELL', `no shell '${shellId}' in this session (listShells shows them)`, {
        shellId,
      });
    }
    return shell;
  }

  list(): Shell[] {
    return [...this.shells.values()];
  }

  /** Closes a shell and forgets it. */
  async close(shellId: string): Promise<Shell> {
    const shell = this.get(shellId);
    await shell.stop('stopped');
    this.shells.delete(shellId);
    return shell;
  }

  /** Closes every shell and waits for them. Idempotent. */
  closeAll(reason: StopReason = 'session_closed'): Promise<void> {
    this.closing ??= Promise.all(this.list().map((shell) => shell.stop(reason))).then(() => undefined);
    return this.closing;
  }
}
