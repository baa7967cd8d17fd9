/**
 * Background jobs: a command started on a connection that returns at once with a job id, whose
 * output is kept in two rings (stdout, stderr) to be read by offset, and which can be signalled,
 * stopped, or waited for. No MCP SDK in here: the tools in tools/*-job*.ts are thin wrappers.
 *
 * Who ends a job (besides itself):
 *  - `stop()` (the stopJob tool), its timeout, and `JobTable.closeAll()` (the MCP session ended);
 *  - its connection: each job registers with the connection's WorkSet, so `disconnect`, the end of
 *    the session and the expiry of a stateless-era identity's connections end it through
 *    `ManagedConnection.close()`;
 *  - the remote itself, when the channel goes away without any of that (job-command.ts).
 * Finished jobs stay readable (their output and exit) until the table holds more than `maxKept`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { stopChannel } from './channel-stop.js';
import type { ManagedConnection } from './connections.js';
import { SshError } from './errors.js';
import { buildJobCommand } from './job-command.js';
import { OutputRing, type RingRead } from './output-ring.js';
import type { RemoteWork, StopReason } from './remote-work.js';
import type { ExecChannel, ExecExit, SshSignal } from './ssh-client.js';
import { Waiters } from './waiters.js';

export interface JobLimits {
  /** Jobs running at once in one table (one MCP session). */
  maxRunning: number;
  /** Finished jobs kept for reading; the oldest beyond this are forgotten. */
  maxKept: number;
  /** Upper bound of the bytes kept per stream (each of stdout and stderr). */
  maxOutputBytes: number;
  /** Upper bound of a job's lifetime. */
  maxTimeoutMs: number;
  killGraceMs: number;
}

export interface JobRequest {
  command: string;
  cwd?: string | undefined;
  env?: Record<string, string> | undefined;
  /** Ends the job after this long (capped by `maxTimeoutMs`, which is also the default). */
  timeoutMs?: number | undefined;
  /** Bytes kept per stream (capped by `maxOutputBytes`, which is also the default). */
  outputBytes?: number | undefined;
}

/** How a job ended: by itself (`exited`, also when a signal it was sent ended it), or by its owner. */
export type JobEnd = 'exited' | 'cwd_failed' | 'connection_lost' | StopReason;

export interface JobInfo {
  jobId: string;
  connectionId: string;
  /** The command as given, cut at 200 characters. */
  command: string;
  state: 'running' | 'finished';
  startedAt: string;
  endedAt: string | null;
  durationMs: number;
  exitCode: number | null;
  signal: string | null;
  endReason: JobEnd | null;
  /** Bytes each stream printed so far (the end offset of each). */
  stdoutBytes: number;
  stderrBytes: number;
  /** Bytes no longer held because the ring was full (stdout + stderr). */
  droppedBytes: number;
  /** Ring size per stream. */
  outputBytes: number;
}

export interface JobOutput {
  stdout: RingRead;
  stderr: RingRead;
}

/**
 * Holds a job's stderr back until the `cd` prefix of job-command.ts has said whether it entered the
 * cwd (a bounded wait: only `cd`'s own error message can come before that line), takes that line
 * out, and passes everything else through in order.
 */
class CwdGate {
  private pending: Buffer | undefined;
  failed = false;

  constructor(
    private readonly marker: string | undefined,
    private readonly out: (chunk: Buffer) => void,
  ) {
    if (marker !== undefined) this.pending = Buffer.alloc(0);
  }

  push(chunk: Buffer): void {
    if (this.pending === undefined || this.marker === undefined) {
      this.out(chunk);
      return;
    }
    const pending = Buffer.concat([this.pending, chunk]);
    for (const [suffix, failed] of [
      [':ok\n', false],
      [':failed\n', true],
    ] as const) {
      const line = Buffer.from(`${this.marker}${suffix}`);
      const at = pending.indexOf(line);
      if (at === -1) continue;
      this.failed = failed;
      this.pending = undefined;
      if (at > 0) this.out(pending.subarray(0, at));
      if (at + line.length < pending.length) this.out(pending.subarray(at + line.length));
      return;
    }
    this.pending = pending;
    // A remote shell that printed neither line: stop holding its errors back.
    if (pending.length > 64 * 1024) this.flush();
  }

  flush(): void {
    if (this.pending !== undefined && this.pending.length > 0) this.out(this.pending);
    this.pending = undefined;
  }
}

export class Job implements RemoteWork {
  readonly id = randomUUID();
  readonly startedAt = new Date();
  readonly stdout: OutputRing;
  readonly stderr: OutputRing;
  /** Settles when the job has ended and its end is recorded. */
  readonly ended: Promise<void>;
  private endedAt: Date | undefined;
  private exit: ExecExit | undefined;
  private endReason: JobEnd | undefined;
  /** Why the owner ended it, when it did. */
  private requested: StopReason | undefined;
  private stopping: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly waiters = new Waiters();
  private readonly killGraceMs: number;

  constructor(
    private readonly channel: ExecChannel,
    readonly connectionId: string,
    private readonly command: string,
    options: { outputBytes: number; timeoutMs: number; killGraceMs: number; cwdMarker: string | undefined },
  ) {
    this.stdout = new OutputRing(options.outputBytes);
    this.stderr = new OutputRing(options.outputBytes);
    const stderr = new CwdGate(options.cwdMarker, (chunk) => this.take(this.stderr, chunk));
    channel.onStdout((chunk) => this.take(this.stdout, chunk));
    channel.onStderr((chunk) => stderr.push(chunk));
    this.timer = setTimeout(() => void this.stop('timeout'), options.timeoutMs);
    // The job's connection keeps the process alive while it matters; this timer alone must not.
    this.timer.unref();
    this.ended = channel.finished.then((exit) => {
      stderr.flush();
      clearTimeout(this.timer);
      this.exit = exit;
      this.endedAt = new Date();
      this.endReason =
        this.requested ?? (stderr.failed ? 'cwd_failed' : exit.connectionLost ? 'connection_lost' : 'exited');
      this.waiters.wake();
    });
    this.killGraceMs = options.killGraceMs;
  }

  private take(ring: OutputRing, chunk: Buffer): void {
    ring.write(chunk);
    this.waiters.wake();
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Sends a signal to the job's process group; it may or may not end the job. */
  signal(name: SshSignal): void {
    if (this.running) this.channel.signal(name);
  }

  /**
   * Ends the job: TERM, KILL after the grace period, then the channel is closed (and the watchdog
   * of job-command.ts kills what is left). Resolves when it has ended. Idempotent.
   */
  stop(reason: StopReason): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.stopping ??= (async () => {
      this.requested ??= reason;
      await stopChannel(this.channel, { graceMs: this.killGraceMs, first: 'TERM' });
      await this.ended;
    })();
    return this.stopping;
  }

  /** Output of both streams from the given offsets, `maxBytes` at most per stream. */
  read(stdoutOffset: number, stderrOffset: number, maxBytes: number): JobOutput {
    for (const [name, offset, ring] of [
      ['stdout', stdoutOffset, this.stdout],
      ['stderr', stderrOffset, this.stderr],
    ] as const) {
      if (offset > ring.end) {
        throw new SshError(
          'INVALID_INPUT',
          `${name}Offset ${offset} is past the end of the job's ${name} (${ring.end} bytes so far)`,
          { jobId: this.id },
        );
      }
    }
    const final = !this.running;
    return {
      stdout: this.stdout.read(stdoutOffset, maxBytes, final),
      stderr: this.stderr.read(stderrOffset, maxBytes, final),
    };
  }

  /**
   * Waits (at most `ms`, or until `signal` aborts) until the job has output beyond the offsets, or
   * has ended; with `untilEnd`, only until it has ended.
   */
  async waitFor(
    options: { stdoutOffset: number; stderrOffset: number; untilEnd: boolean },
    ms: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const ready = () =>
      !this.running ||
      (!options.untilEnd &&
        (this.stdout.end > options.stdoutOffset || this.stderr.end > options.stderrOffset));
    await this.waiters.until(ready, ms, signal);
  }

  info(): JobInfo {
    const end = this.endedAt ?? new Date();
    return {
      jobId: this.id,
      connectionId: this.connectionId,
      command: this.command.length > 200 ? `${this.command.slice(0, 199)}…` : this.command,
      state: this.running ? 'running' : 'finished',
      startedAt: this.startedAt.toISOString(),
      endedAt: this.endedAt?.toISOString() ?? null,
      durationMs: Math.max(0, end.getTime() - this.startedAt.getTime()),
      exitCode: this.exit?.exitCode ?? null,
      signal: this.exit?.signal ?? null,
      endReason: this.endReason ?? null,
      stdoutBytes: this.stdout.end,
      stderrBytes: this.stderr.end,
      droppedBytes: this.stdout.dropped + this.stderr.dropped,
      outputBytes: this.stdout.capacity,
    };
  }
}

/** The jobs of one MCP session (or, in the stateless era, of one identity). */
export class JobTable {
  private readonly jobs = new Map<string, Job>();
  private starting = 0;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly limits: JobLimits,
    private readonly log: Logger,
  ) {}

  private runningCount(): number {
    let n = this.starting;
    for (const job of this.jobs.values()) if (job.running) n++;
    return n;
  }

  async start(managed: ManagedConnection, request: JobRequest): Promise<Job> {
    if (this.closing !== undefined) throw new SshError('CLOSED', 'this session is closing');
    if (this.runningCount() >= this.limits.maxRunning) {
      throw new SshError(
        'TOO_MANY_JOBS',
        `this session already runs ${this.limits.maxRunning} jobs (the limit); stop one or wait for one to finish`,
        { limit: this.limits.maxRunning },
      );
    }
    const built = buildJobCommand(request.command, request.cwd, request.env);
    this.starting++;
    let channel: ExecChannel;
    try {
      ({ value: channel } = await managed.withRetry(
        (connection) => connection.exec(built.line),
        (err) => new SshError('EXEC_FAILED', (err as Error).message, {}, { cause: err }),
      ));
    } finally {
      this.starting--;
    }
    const job = new Job(channel, managed.id, request.command, {
      outputBytes: Math.min(request.outputBytes ?? this.limits.maxOutputBytes, this.limits.maxOutputBytes),
      timeoutMs: Math.min(request.timeoutMs ?? this.limits.maxTimeoutMs, this.limits.maxTimeoutMs),
      killGraceMs: this.limits.killGraceMs,
      cwdMarker: built.cwdMarker,
    });
    let release: () => void;
    try {
      release = managed.work.add(job);
    } catch (err) {
      // The connection began closing while the channel opened: end the job at once.
      await job.stop('connection_closed');
      throw err;
    }
    this.jobs.set(job.id, job);
    this.log.debug({ jobId: job.id, connectionId: managed.id }, 'job started');
    void job.ended.then(() => {
      release();
      const info = job.info();
      this.log.debug({ jobId: job.id, endReason: info.endReason, exitCode: info.exitCode }, 'job ended');
      this.prune();
    });
    if (this.closing !== undefined) await job.stop('session_closed');
    return job;
  }

  /** Forgets the oldest finished jobs beyond `maxKept`. */
  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => !j.running);
    for (const job of finished.slice(0, Math.max(0, finished.length - this.limits.maxKept))) {
      this.jobs.delete(job.id);
    }
  }

  get(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (job === undefined) {
      throw new SshError(
        'UNKNOWN_JOB',
        `no job '${jobId}' in this session (listJobs shows them; finished jobs are kept up to ${this.limits.maxKept})`,
        { jobId },
      );
    }
    return job;
  }

  list(): Job[] {
    return [...this.jobs.values()];
  }

  /** Ends every running job and waits for them. Idempotent. */
  closeAll(reason: StopReason = 'session_closed'): Promise<void> {
    this.closing ??= Promise.all(this.list().map((job) => job.stop(reason))).then(() => undefined);
    return this.closing;
  }
}
