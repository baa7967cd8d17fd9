/**
 * Holds an agent's transport until the agent's `initialize` has arrived and the upstream has been
 * reached. The gateway's Server mirrors the upstream's capabilities, serverInfo and instructions, so
 * it can only be built once the upstream has answered; meanwhile the transport must already run (a
 * legacy SSE stream sends its endpoint event on start, stdio must read stdin).
 *
 * Before the Server is attached, `initialize` goes to `onInitialize`, `ping` is answered, and any
 * other request gets "not initialized"; messages that arrive while the upstream is being reached are
 * queued and delivered, in order, once the Server is attached.
 */
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  isInitializeRequest,
  isJSONRPCRequest,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';

export class DeferredTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  private attached = false;
  private initializing = false;
  private readonly queue: Array<[JSONRPCMessage, MessageExtraInfo | undefined]> = [];

  constructor(
    readonly inner: Transport,
    private readonly onInitialize: (request: JSONRPCRequest, extra: MessageExtraInfo | undefined) => void,
  ) {
    inner.onmessage = (message, extra) => this.receive(message, extra);
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }

  /** The inner transport is started by the owner before any Server exists; the Server's start is a no-op. */
  async start(): Promise<void> {}

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The Server is connected (its onmessage is set): deliver what waited, in order. */
  attach(): void {
    this.attached = true;
    for (const [message, extra] of this.queue.splice(0)) this.onmessage?.(message, extra);
  }

  /** The initialize failed; the next initialize may try again. */
  reset(): void {
    this.initializing = false;
    this.queue.length = 0;
  }

  private receive(message: JSONRPCMessage, extra: MessageExtraInfo | undefined): void {
    if (this.attached) {
      this.onmessage?.(message, extra);
      return;
    }
    if (!this.initializing && isInitializeRequest(message)) {
      this.initializing = true;
      this.queue.push([message, extra]);
      this.onInitialize(message as JSONRPCRequest, extra);
      return;
    }
    if (this.initializing) {
      this.queue.push([message, extra]);
      return;
    }
    if (isJSONRPCRequest(message)) {
      const reply: JSONRPCMessage =
        message.method === 'ping'
          ? { jsonrpc: '2.0', id: message.id, result: {} }
          : {
              jsonrpc: '2.0',
              id: message.id,
              error: {
                code: ErrorCode.InvalidRequest,
                message: 'Session not initialized: send initialize first',
              },
            };
      this.inner
        .send(reply, { relatedRequestId: message.id })
        .catch((err: unknown) => this.onerror?.(err as Error));
    }
  }
}
