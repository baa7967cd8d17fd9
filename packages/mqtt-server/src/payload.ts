/** Payloads and binary MQTT 5 properties between MCP (JSON text) and MQTT (bytes). */

export type PayloadEncoding = 'utf8' | 'base64';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Text from a tool argument to bytes; undefined when `base64` text is not base64. */
export function decodePayload(text: string, encoding: PayloadEncoding): Buffer | undefined {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  // Buffer.from(..., 'base64') silently skips bad characters; a payload must not be guessed at.
  const compact = text.replace(/\s+/g, '');
  if (!BASE64.test(compact)) return undefined;
  return Buffer.from(compact, 'base64');
}

/** Bytes to text for a result or notification: UTF-8 when the bytes are valid UTF-8, else base64. */
export function encodePayload(bytes: Uint8Array): { payload: string; payloadEncoding: PayloadEncoding } {
  try {
    return { payload: strictUtf8.decode(bytes), payloadEncoding: 'utf8' };
  } catch {
    return { payload: Buffer.from(bytes).toString('base64'), payloadEncoding: 'base64' };
  }
}
