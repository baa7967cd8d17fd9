import { describe, expect, it } from 'vitest';
import { inputBytes, KEY_NAMES } from '../src/keys.js';
import { OutputRing } from '../src/output-ring.js';

describe('output ring', () => {
  it('keeps the last capacity bytes across wrap-around and addresses them by absolute offset', () => {
    const ring = new OutputRing(8);
    ring.write(Buffer.from('abcdef'));
    ring.write(Buffer.from('ghijk'));
    expect(ring.end).toBe(11);
    expect(ring.start).toBe(3);
    expect(ring.read(0, 100)).toEqual({
      text: 'defghijk',
      offset: 3,
      nextOffset: 11,
      dropped: 3,
      more: false,
    });
    expect(ring.read(5, 3)).toEqual({ text: 'fgh', offset: 5, nextOffset: 8, dropped: 0, more: true });
    expect(ring.read(11, 10).text).toBe('');
    expect(() => ring.read(12, 1)).toThrow(/past the end/);
  });

  it('takes a chunk larger than the ring as its last capacity bytes', () => {
    const ring = new OutputRing(4);
    ring.write(Buffer.from('0123456789'));
    expect(ring.read(0, 100)).toMatchObject({ text: '6789', offset: 6, dropped: 6 });
  });

  it('never splits a UTF-8 character: a read stops before one, and skips one whose start was dropped', () => {
    const ring = new OutputRing(4);
    ring.write(Buffer.from('aé€')); // 1 + 2 + 3 bytes: 'a' and é's first byte are dropped
    expect(ring.end).toBe(6);
    // Offset 1 is é's first byte, gone; its second byte is skipped and counted as dropped.
    expect(ring.read(0, 100)).toMatchObject({ text: '€', offset: 3, dropped: 3 });
    const live = new OutputRing(16);
    live.write(Buffer.from('€').subarray(0, 2)); // half a character so far
    expect(live.read(0, 100)).toMatchObject({ text: '', nextOffset: 0 });
    live.write(Buffer.from('€').subarray(2));
    expect(live.read(0, 100).text).toBe('€');
    // A limit inside a character ends the read before it.
    expect(live.read(0, 2)).toMatchObject({ text: '', nextOffset: 0, more: true });
    // Once the output is final, a truncated character is returned as it is.
    const cut = new OutputRing(16);
    cut.write(Buffer.from('x€').subarray(0, 3));
    expect(cut.read(0, 100, true)).toMatchObject({ text: 'x\uFFFD', nextOffset: 3 });
  });
});

describe('shell keys', () => {
  it('types text, then each named key as the bytes a terminal sends', () => {
    expect(inputBytes('ls', ['enter'])).toEqual(Buffer.from('ls\r'));
    expect(inputBytes(undefined, ['ctrl-c', 'up', 'ctrl-d'])).toEqual(Buffer.from('\x03\x1b[A\x04'));
    expect(KEY_NAMES).toContain('ctrl-z');
    expect(() => inputBytes('', ['hyper'])).toThrow(/unknown key/);
  });
});
