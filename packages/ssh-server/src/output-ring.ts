/**
 * Output of a long-running job or shell, kept in a fixed-size ring: memory stays bounded however
 * much a command prints, and a reader addresses bytes by their absolute offset in everything the
 * command ever printed, so it can tell exactly what it missed (`dropped`) when it reads too late.
 *
 * Reads never split a UTF-8 character: a read that would end inside one stops before it (the rest
 * comes with the next read), and a read that starts inside one (because the ring dropped its first
 * bytes) skips to the next character and counts those bytes as dropped.
 */

export interface RingRead {
  /** The bytes read, decoded as UTF-8. */
  text: string;
  /** Where `text` starts: the offset asked for, or later when bytes before it were dropped. */
  offset: number;
  /** Where the next read should start. */
  nextOffset: number;
  /** Bytes between the offset asked for and `offset` that the ring no longer holds. */
  dropped: number;
  /** More output is held beyond `nextOffset` (the read was cut at its byte limit). */
  more: boolean;
}

const isContinuation = (byte: number) => (byte & 0xc0) === 0x80;

/** How many bytes long the UTF-8 sequence starting with `lead` is (1 for a stray byte). */
function sequenceLength(lead: number): number {
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  if (lead >= 0xe0) return lead <= 0xef ? 3 : 1;
  if (lead >= 0xc2) return 2;
  return 1;
}

export class OutputRing {
  private readonly buffer: Buffer;
  /** Bytes ever written. */
  private total = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.buffer = Buffer.alloc(capacity);
  }

  /** Offset just past the last byte written: every byte the command printed so far. */
  get end(): number {
    return this.total;
  }

  /** Offset of the oldest byte still held. */
  get start(): number {
    return Math.max(0, this.total - this.capacity);
  }

  /** Bytes written but no longer held. */
  get dropped(): number {
    return this.start;
  }

  write(chunk: Buffer): void {
    let data = chunk;
    if (data.length > this.capacity) {
      // Only the last `capacity` bytes can be held; the rest counts as written, then dropped.
      this.total += data.length - this.capacity;
      data = data.subarray(data.length - this.capacity);
    }
    const at = this.total % this.capacity;
    const first = Math.min(data.length, this.capacity - at);
    data.copy(this.buffer, at, 0, first);
    if (first < data.length) data.copy(this.buffer, 0, first);
    this.total += data.length;
  }

  private byteAt(offset: number): number {
    return this.buffer[offset % this.capacity] ?? 0;
  }

  private slice(from: number, to: number): Buffer {
    const a = from % this.capacity;
    const length = to - from;
    if (a + length <= this.capacity) return Buffer.from(this.buffer.subarray(a, a + length));
    return Buffer.concat([this.buffer.subarray(a), this.buffer.subarray(0, length - (this.capacity - a))]);
  }

  /**
   * Reads up to `maxBytes` from `offset` (which must not be past `end`). `final` says no more
   * output will come, so an incomplete character at the very end is returned as it is (decoded as
   * U+FFFD) rather than held back for a write that will never happen.
   */
  read(offset: number, maxBytes: number, final = false): RingRead {
    if (offset > this.total)
      throw new RangeError(`offset ${offset} is past the end of the output (${this.total})`);
    let from = Math.max(offset, this.start);
    // Do not start inside a character whose first bytes were dropped (at most 3 continuation bytes).
    for (let i = 0; i < 3 && from < this.total && from > offset && isContinuation(this.byteAt(from)); i++)
      from++;
    let to = Math.min(this.total, from + Math.max(0, maxBytes));
    if (to < this.total || !final) to = this.completeCharactersEnd(from, to);
    const text = from === to ? '' : this.slice(from, to).toString('utf8');
    return { text, offset: from, nextOffset: to, dropped: from - offset, more: to < this.total };
  }

  /** `to`, moved back so that [from, to) does not end inside a UTF-8 character. */
  private completeCharactersEnd(from: number, to: number): number {
    // Find the lead byte of the last character (at most 3 bytes back).
    let lead = to - 1;
    while (lead >= from && lead > to - 4 && isContinuation(this.byteAt(lead))) lead--;
    if (lead < from) return to;
    const length = sequenceLength(this.byteAt(lead));
    return lead + length > to ? lead : to;
  }
}
