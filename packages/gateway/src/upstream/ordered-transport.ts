/**
 * Delivers each response one microtask late, so that a progress notification the upstream sent just
 * before it is handled first. The SDK's Protocol dispatches responses synchronously but notification
 * handlers a microtask later; when both arrive together (one stdio read, one SSE chunk), the response
 * would complete the call, the progress handler would be gone, and the agent would miss the last
 * progress step.
 */
import { isResponseMessage } from '@bastion/mcp-http';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';

export class ResponsesLastTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  constructor(readonly inner: Transport) {
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
    inner.onmessage = (message, extra) => {
      if (isResponseMessage(message)) {
        queueMicrotask(() => this.onmessage?.(message, extra));
      } else {
        this.onmessage?.(message, extra);
      }
    };
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
