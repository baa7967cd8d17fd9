/** The received-message buffer at its limits: pause for a reader first, drop the oldest after. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type BufferLimits, MessageBuffer, type ReceivedMessage } from '../src/message-buffer.js';

let seq = 0;
function message(topic = 't/a', payload = 'x'): ReceivedMessage {
  seq++;
  return {
    seq,
    connection: 'c',
    topic,
    payload,
    payloadEncoding: 'utf8',
    qos: 0,
    retain: false,
    receivedAt: new Date().toISOString(),
  };
}

function buffer(limits: Partial<BufferLimits> = {}): MessageBuffer {
  return new MessageBuffer({ maxMessages: 3, maxBytes: 1_000_000, pauseMs: 60_000, ...limits });
}

/** Whether `promise` has settled by the time everything already queued has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await sleep(0);
  return done;
}

describe('a full message buffer', () => {
  it('holds the broker back until a read makes room, and drops nothing', async () => {
    const b = buffer();
    for (let i = 0; i < 4; i++) b.push(message(), 1);
    const pause = b.makeRoom();
    expect(pause).toBeDefined();
    expect(b.status()).toMatchObject({ size: 4, paused: true, pauses: 1, dropped: 0, whenFull: 'pause' });
    expect(await settled(pause as Promise<void>)).toBe(false);

    const read = b.take(undefined, 2);
    expect(read.messages).toHaveLength(2);
    expect(await settled(pause as Promise<void>)).toBe(true);
    expect(b.status()).toMatchObject({ size: 2, paused: false, dropped: 0 });
    expect(b.makeRoom()).toBeUndefined();
  });

  it('drops the oldest once a pause runs out without a read, then drops at once until the next read', async () => {
    const b = buffer({ pauseMs: 20 });
    const pushed = [message(), message(), message(), message()];
    for (const m of pushed) b.push(m, 1);
    await b.makeRoom();
    expect(b.status()).toMatchObject({ size: 3, dropped: 1, whenFull: 'drop-oldest', paused: false });

    // Nobody reads: the next overflow must not hold the broker back again.
    b.push(message(), 1);
    expect(b.makeRoom()).toBeUndefined();
    expect(b.status()).toMatchObject({ size: 3, dropped: 2 });

    const read = b.take(undefined, 10);
    expect(read.dropped).toBe(2);
    expect(read.messages.map((m) => m.seq)).toEqual([pushed[2]?.seq, pushed[3]?.seq, seq]);
    // A reader is back: the next overflow pauses again.
    expect(b.status().whenFull).toBe('pause');
    for (let i = 0; i < 4; i++) b.push(message(), 1);
    const again = b.makeRoom();
    expect(again).toBeDefined();
    await again;
  });

  it('drops at once when pausing is off, and says so in its status', () => {
    const b = buffer({ pauseMs: 0 });
    for (let i = 0; i < 5; i++) {
      b.push(message(), 1);
      expect(b.makeRoom()).toBeUndefined();
    }
    expect(b.status()).toMatchObject({ size: 3, dropped: 2, whenFull: 'drop-oldest', pauseMs: 0 });
  });

  it('bounds the bytes it holds as well as the messages, but keeps one message larger than the limit', () => {
    const b = buffer({ maxMessages: 100, maxBytes: 10, pauseMs: 0 });
    b.push(message('t/a', 'first'), 6);
    b.push(message('t/a', 'second'), 6);
    b.makeRoom();
    expect(b.status()).toMatchObject({ size: 1, bytes: 6, dropped: 1 });
    b.push(message('t/a', 'huge'), 100);
    b.makeRoom();
    expect(b.take(undefined, 10).messages.map((m) => m.payload)).toEqual(['huge']);
    expect(b.status()).toMatchObject({ size: 0, bytes: 0 });
  });

  it('ends a pause when closed, and keeps what it holds readable', async () => {
    const b = buffer();
    for (let i = 0; i < 4; i++) b.push(message(), 1);
    const pause = b.makeRoom() as Promise<void>;
    b.close();
    await pause;
    b.push(message(), 1);
    expect(b.take(undefined, 10).messages).toHaveLength(4);
  });

  it('lets a filtered read end a pause only when it made room', async () => {
    const b = buffer();
    for (let i = 0; i < 4; i++) b.push(message('t/a'), 1);
    const pause = b.makeRoom() as Promise<void>;
    expect(b.take('t/other', 10).messages).toEqual([]);
    expect(await settled(pause)).toBe(false);
    expect(b.take('t/+', 1).messages).toHaveLength(1);
    expect(await settled(pause)).toBe(true);
  });

  it('keeps order and counts across many pushes and reads from the head', () => {
    const b = buffer({ maxMessages: 100_000 });
    for (let i = 0; i < 5000; i++) b.push(message(`t/${i % 3}`), 1);
    const seqs: number[] = [];
    for (;;) {
      const read = b.take(undefined, 333);
      if (read.messages.length === 0) break;
      seqs.push(...read.messages.map((m) => m.seq));
    }
    expect(seqs).toHaveLength(5000);
    expect(seqs.every((s, i) => i === 0 || s === (seqs[i - 1] as number) + 1)).toBe(true);
    expect(b.status()).toMatchObject({ size: 0, bytes: 0 });
  });
});
