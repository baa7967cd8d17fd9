/**
 * exec's output as MCP progress notifications while the command runs, so that a client which
 * resets its request timeout on progress (the SDK's `resetTimeoutOnProgress`) never times out on a
 * long command, and sees its output as it comes.
 *
 *  - Output is sent as it arrives, decoded per stream so that no UTF-8 character is split between
 *    two notifications; stderr is prefixed `[stderr] `. Only what fits under `maxOutputBytes` is
 *    sent (the result has the same bytes), then one notice that the rest is dropped.
 *  - A command that prints nothing (or nothing more, past the cap) still sends a notification
 *    without a message every `intervalMs`, which is what keeps such a client waiting.
 *  - `progress` counts notifications: the spec requires it to increase with each one, and byte
 *    counts would not for a heartbeat.
 * No MCP SDK in here: `send` is given by the tool.
 */
import { StringDecoder } from 'node:string_decoder';

export type ProgressSend = (progress: number, message: string | undefined) => void;

export class OutputProgress {
  private count = 0;
  private sentSinceTick = false;
  private noticed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };

  constructor(
    private readonly send: ProgressSend,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => {
      if (!this.sentSinceTick) this.emit(undefined);
      this.sentSinceTick = false;
    }, intervalMs);
  }

  private emit(message: string | undefined): void {
    this.sentSinceTick = true;
    this.send(++this.count, message);
  }

  private text(stream: 'stdout' | 'stderr', text: string): void {
    if (text !== '') this.emit(stream === 'stderr' ? `[stderr] ${text}` : text);
  }

  /** Output kept under the cap, as it arrives. */
  output(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    this.text(stream, this.decoders[stream].write(chunk));
  }

  /** The cap was reached: said once. */
  truncated(maxOutputBytes: number): void {
    if (this.noticed) return;
    this.noticed = true;
    this.emit(`[output beyond ${maxOutputBytes} bytes is dropped: truncated]`);
  }

  /** The command ended: sends what the decoders still hold and stops the heartbeat. */
  close(): void {
    clearInterval(this.timer);
    this.text('stdout', this.decoders.stdout.end());
    this.text('stderr', this.decoders.stderr.end());
  }
}
