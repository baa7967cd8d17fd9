/** A PUBLISH from the broker as the agent sees it. */
import type { IPublishPacket } from 'mqtt';
import type { MessageProperties } from './message-buffer.js';
import { encodePayload } from './payload.js';

export function messageProperties(packet: IPublishPacket): MessageProperties | undefined {
  const p = packet.properties;
  if (p === undefined) return undefined;
  const out: MessageProperties = {};
  if (p.userProperties !== undefined) out.userProperties = p.userProperties;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) {
    const { payload, payloadEncoding } = encodePayload(p.correlationData);
    out.correlationData = payload;
    out.correlationDataEncoding = payloadEncoding;
  }
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval;
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.subscriptionIdentifier !== undefined) out.subscriptionIdentifier = p.subscriptionIdentifier;
  return Object.keys(out).length > 0 ? out : undefined;
}
