/**
 * Messages a connection received and the agent has not read yet. Bounded: when full, the oldest
 * message is dropped and counted, so a busy topic can never grow memory without limit and the
 * agent learns that it missed some.
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

export class MessageBuffer {
  private messages: ReceivedMessage[] = [];
  private waiters = new Set<Waiter>();
  private droppedTotal = 0;
  private droppedSinceRead = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.messages.length;
  }

  get dropped(): number {
    return this.droppedTotal;
  }

  push(message: ReceivedMessage): void {
    this.messages.push(message);
    while (this.messages.length > this.capacity) {
      this.messages.shift();
      this.droppedTotal++;
      this.droppedSinceRead++;
    }
    for (const waiter of this.waiters) {
      if (matches(waiter.filter, message.topic)) waiter.wake();
    }
  }

  /** Removes and returns up to `limit` messages matching `filter`, oldest first. */
  take(filter: string | undefined, limit: number): TakeResult {
    const taken: ReceivedMessage[] = [];
    const kept: ReceivedMessage[] = [];
    let remaining = 0;
    for (const message of this.messages) {
      if (!matches(filter, message.topic)) kept.push(message);
      else if (taken.length < limit) taken.push(message);
      else {
        remaining++;
        kept.push(message);
      }
    }
    this.messages = kept;
    const dropped = this.droppedSinceRead;
    this.droppedSinceRead = 0;
    return { messages: taken, remaining, dropped };
  }

  has(filter: string | undefined): boolean {
    return this.messages.some((m) => matches(filter, m.topic));
  }

  /**
   * Resolves when a message matching `filter` is buffered, after `ms`, on `signal`'s abort, or when
   * the buffer is closed, whichever comes first. Owns its timer.
   */
  waitFor(filter: string | undefined, ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || this.has(filter) || signal?.aborted) return Promise.resolve();
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

  /** Wakes every waiter; used when the connection closes. */
  close(): void {
    for (const waiter of [...this.waiters]) waiter.wake();
  }
}

function matches(filter: string | undefined, topic: string): boolean {
  // mqtt-match's third argument strips a `$share/<group>/` prefix from the filter.
  return filter === undefined || match(filter, topic, true);
}
