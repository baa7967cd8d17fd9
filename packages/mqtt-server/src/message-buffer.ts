/**
 * Messages a connection received and the agent has not read yet, bounded by a message count and a
 * byte total so that a busy topic can never grow memory without limit.
 *
 * What happens at the limit (issue 13: a 10,000-message burst lost 8,664 messages while a client
 * was reading): the connection first *pauses* - it stops taking packets from the broker, so TCP
 * pushes back on the broker and QoS 1/2 messages stay unacknowledged with it - for up to `pauseMs`,
 * waiting for a read to make room. An agent that reads keeps up without loss. If no read comes in
 * time, the oldest messages are dropped and counted, and further overflows drop at once until the
 * next read: an agent that does not read must not slow its broker connection down to one message
 * per pause.
 */
import match from 'mqtt-match';
import type { PayloadEncoding } from './payload.js';

/** MQTT 5 properties of a received message, in JSON form. */
export interface MessageProperties {
  userProperties?: Record<string, string | string[]>;
  contentType?: string;
  responseTopic?: string;
  correlationData?: string;
  correlationDataEncoding?: PayloadEncoding;
  messageExpiryInterval?: number;
  payloadFormatIndicator?: boolean;
  subscriptionIdentifier?: number | number[];
}

export interface ReceivedMessage {
  /** Increases by one per message received on this connection; gaps mean dropped messages. */
  seq: number;
  connection: string;
  topic: string;
  /** UTF-8 text, or base64 when the bytes are not valid UTF-8 (`payloadEncoding: 'base64'`). */
  payload: string;
  payloadEncoding: PayloadEncoding;
  qos: 0 | 1 | 2;
  retain: boolean;
  receivedAt: string;
  properties?: MessageProperties;
}

export interface BufferLimits {
  /** Messages kept at most. */
  maxMessages: number;
  /** Bytes kept at most (payload and topic bytes as received). */
  maxBytes: number;
  /** How long a full buffer holds the broker back, waiting for a read, before dropping (0: drop at once). */
  pauseMs: number;
}

/** What happens the next time the buffer is full. */
export type FullBehaviour = 'pause' | 'drop-oldest';

export interface BufferStatus {
  size: number;
  /** The message limit. */
  capacity: number;
  bytes: number;
  maxBytes: number;
  /** Messages dropped at the limit since the connection opened. */
  dropped: number;
  /** 'pause' until a pause ran out without a read, then 'drop-oldest' until the next read. */
  whenFull: FullBehaviour;
  pauseMs: number;
  /** The connection is holding the broker back right now, waiting for a read. */
  paused: boolean;
  /** Times the buffer filled up and paused the broker. */
  pauses: number;
}

interface Waiter {
  filter: string | undefined;
  wake(): void;
}

export interface TakeResult {
  messages: ReceivedMessage[];
  /** Messages matching the filter still buffered after this read (beyond `limit`). */
  remaining: number;
  /** Messages dropped because the buffer was full since the previous read. */
  dropped: number;
}

interface Entry {
  message: ReceivedMessage;
  bytes: number;
}

export class MessageBuffer {
  /** A queue as an array and a head index: O(1) at both ends, compacted as the head moves. */
  private entries: Entry[] = [];
  private head = 0;
  private byteTotal = 0;
  private waiters = new Set<Waiter>();
  private droppedTotal = 0;
  private droppedSinceRead = 0;
  private whenFull: FullBehaviour = 'pause';
  private pauseCount = 0;
  private pausing: { timer: NodeJS.Timeout; end: () => void; ended: Promise<void> } | undefined;
  private closed = false;

  constructor(private readonly limits: BufferLimits) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  get dropped(): number {
    return this.droppedTotal;
  }

  status(): BufferStatus {
    return {
      size: this.size,
      capacity: this.limits.maxMessages,
      bytes: this.byteTotal,
      maxBytes: this.limits.maxBytes,
      dropped: this.droppedTotal,
      whenFull: this.limits.pauseMs > 0 ? this.whenFull : 'drop-oldest',
      pauseMs: this.limits.pauseMs,
      paused: this.pausing !== undefined,
      pauses: this.pauseCount,
    };
  }

  /**
   * Adds a message (`bytes`: its size as received). It may take the buffer over its limits; the
   * caller then awaits `makeRoom()` before taking the next message from the broker.
   */
  push(message: ReceivedMessage, bytes: number): void {
    if (this.closed) return;
    this.entries.push({ message, bytes });
    this.byteTotal += bytes;
    for (const waiter of this.waiters) {
      if (matches(waiter.filter, message.topic)) waiter.wake();
    }
  }

  get full(): boolean {
    return this.size > this.limits.maxMessages || (this.byteTotal > this.limits.maxBytes && this.size > 1);
  }

  /**
   * Brings the buffer back within its limits: at once by dropping the oldest when the behaviour is
   * 'drop-oldest', else after a read made room, or by dropping when `pauseMs` passed without one.
   * Undefined when nothing needs to wait, so the caller's fast path allocates nothing.
   */
  makeRoom(): Promise<void> | undefined {
    if (!this.full) return undefined;
    // A pause already running (one left over from a link that was lost meanwhile) is joined.
    if (this.pausing !== undefined) return this.pausing.ended;
    if (this.whenFull === 'drop-oldest' || this.limits.pauseMs <= 0 || this.closed) {
      this.dropToLimits();
      return undefined;
    }
    this.pauseCount++;
    let end = () => {};
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const timer = setTimeout(() => {
      // Nobody read in time: drop, and stop pausing until somebody reads again.
      this.whenFull = 'drop-oldest';
      this.dropToLimits();
      this.endPause();
    }, this.limits.pauseMs);
    this.pausing = { timer, end, ended };
    return ended;
  }

  private endPause(): void {
    const pausing = this.pausing;
    if (pausing === undefined) return;
    this.pausing = undefined;
    clearTimeout(pausing.timer);
    pausing.end();
  }

  private dropToLimits(): void {
    while (this.full) {
      const entry = this.entries[this.head];
      if (entry === undefined) break;
      this.entries[this.head] = undefined as unknown as Entry;
      this.head++;
      this.byteTotal -= entry.bytes;
      this.droppedTotal++;
      this.droppedSinceRead++;
    }
    this.compact();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Removes and returns up to `limit` messages matching `filter`, oldest first. */
  take(filter: string | undefined, limit: number): TakeResult {
    const taken: ReceivedMessage[] = [];
    let remaining = 0;
    if (filter === undefined) {
      // The common case, a read of everything: take from the head.
      const count = Math.min(limit, this.size);
      for (let i = 0; i < count; i++) {
        const entry = this.entries[this.head + i] as Entry;
        taken.push(entry.message);
        this.byteTotal -= entry.bytes;
      }
      this.head += count;
      remaining = this.size;
      this.compact();
    } else {
      const kept: Entry[] = [];
      for (let i = this.head; i < this.entries.length; i++) {
        const entry = this.entries[i] as Entry;
        if (!matches(filter, entry.message.topic)) kept.push(entry);
        else if (taken.length < limit) {
          taken.push(entry.message);
          this.byteTotal -= entry.bytes;
        } else {
          remaining++;
          kept.push(entry);
        }
      }
      this.entries = kept;
      this.head = 0;
    }
    const dropped = this.droppedSinceRead;
    this.droppedSinceRead = 0;
    // Someone reads: the next overflow pauses again, and a pause in progress ends if there is room.
    this.whenFull = 'pause';
    if (!this.full) this.endPause();
    return { messages: taken, remaining, dropped };
  }

  has(filter: string | undefined): boolean {
    if (filter === undefined) return this.size > 0;
    for (let i = this.head; i < this.entries.length; i++) {
      if (matches(filter, (this.entries[i] as Entry).message.topic)) return true;
    }
    return false;
  }

  /**
   * Resolves when a message matching `filter` is buffered, after `ms`, on `signal`'s abort, or when
   * the buffer is closed, whichever comes first. Owns its timer.
   */
  waitFor(filter: string | undefined, ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || this.closed || this.has(filter) || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = { filter, wake: () => finish() };
      const timer = setTimeout(() => finish(), ms);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      signal?.addEventListener('abort', finish, { once: true });
      this.waiters.add(waiter);
    });
  }

  /**
   * Wakes every waiter and ends a pause (the connection is closing); what is buffered stays
   * readable. Later pushes are ignored.
   */
  close(): void {
    this.closed = true;
    this.endPause();
    for (const waiter of [...this.waiters]) waiter.wake();
  }
}

function matches(filter: string | undefined, topic: string): boolean {
  // mqtt-match's third argument strips a `$share/<group>/` prefix from the filter.
  return filter === undefined || match(filter, topic, true);
}
