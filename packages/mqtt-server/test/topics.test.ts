import { describe, expect, it } from 'vitest';
import { topicFilterProblem, topicNameProblem } from '../src/index.js';
import { decodePayload, encodePayload } from '../src/payload.js';

describe('topic names and filters', () => {
  it('accepts the filters of MQTT section 4.7 and refuses misplaced wildcards', () => {
    for (const ok of ['#', '+', 'a/#', 'a/+/b', '+/+', '/', 'a//b', '$SYS/#', '$share/g/a/+']) {
      expect(topicFilterProblem(ok), ok).toBeUndefined();
    }
    for (const bad of ['', 'a/#/b', 'a#', 'a/b+', '#/', '$share/g', '$share//a', '$share/g/', 'a\u0000b']) {
      expect(topicFilterProblem(bad), bad).toBeDefined();
    }
  });

  it('refuses wildcards in a topic name to publish to', () => {
    expect(topicNameProblem('a/b')).toBeUndefined();
    expect(topicNameProblem('a/+')).toMatch(/wildcards/);
    expect(topicNameProblem('a/#')).toMatch(/wildcards/);
    expect(topicNameProblem('')).toMatch(/empty/);
  });
});

describe('payload encoding', () => {
  it('passes UTF-8 text through and base64-encodes anything else', () => {
    expect(encodePayload(Buffer.from('héllo'))).toEqual({ payload: 'héllo', payloadEncoding: 'utf8' });
    expect(encodePayload(Buffer.from([0xc3]))).toEqual({ payload: 'ww==', payloadEncoding: 'base64' });
  });

  it('decodes base64 strictly instead of skipping bad characters', () => {
    expect(decodePayload('AQID', 'base64')).toEqual(Buffer.from([1, 2, 3]));
    expect(decodePayload('AQ ID', 'base64')).toEqual(Buffer.from([1, 2, 3]));
    expect(decodePayload('AQI*', 'base64')).toBeUndefined();
    expect(decodePayload('abc', 'base64')).toBeUndefined();
  });
});
