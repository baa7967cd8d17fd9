/**
 * The local agent of `bastion-gateway --stdio`: one JSON-RPC message per line on stdin and stdout,
 * read once and handed to the core as a channel. stdout carries nothing but MCP messages.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { ChannelTransport } from './core/forward.js';
import { kindOf, type RpcMessage } from './core/jsonrpc.js';

export class StdioAgentChannel implements ChannelTransport {
  onmessage?: (message: RpcMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private closed = false;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {}

  async start(): Promise<void> {
    const lines = createInterface({ input: this.input, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      if (line.trim() === '') return;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        void this.send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
        return;
      }
      if (kindOf(message) === undefined) {
        void this.send({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } });
        return;
      }
      this.onmessage?.(message as RpcMessage);
    });
    lines.on('close', () => void this.close());
  }

  async send(message: RpcMessage): Promise<void> {
    if (this.closed) return;
    this.output.write(`${JSON.stringify(message)}\n`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}
