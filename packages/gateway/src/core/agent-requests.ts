/**
 * Requests the gateway itself sends to a 2025-era agent within one of its calls (today:
 * `elicitation/create` for an approval), and the agent's answers to them. They travel like an
 * upstream's server-to-client requests (related to the call: on its response stream, or on the
 * agent's channel), under ids of the gateway's own (`bastion-…`) that an upstream's never are, so an
 * answer is recognised before it would be passed upstream.
 */
import { randomUUID } from 'node:crypto';
import { CancelledError } from '../upstream/errors.js';
import { type Id, RpcFault, type RpcResponse } from './jsonrpc.js';
import type { Reply } from './reply.js';

interface Waiting {
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
}

export class AgentRequests {
  private readonly pending = new Map<Id, Waiting>();

  /** Sends `method` to the agent, related to the request `reply` answers, and waits for its answer. */
  ask(reply: Reply, method: string, params: Record<string, unknown>, signal: AbortSignal) {
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      if (signal.aborted) return reject(new CancelledError('not asked: the call ended'));
      const id = `bastion-${randomUUID()}`;
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        // The agent is told, as a server tells of a request it no longer needs answered.
        reply.related({
          msg: {
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: id, reason: 'no longer needed' },
          },
        });
        reject(new CancelledError('the question to the agent was withdrawn'));
      };
      this.pending.set(id, {
        resolve: (result) => {
          signal.removeEventListener('abort', onAbort);
          resolve(result);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      reply.related({ msg: { jsonrpc: '2.0', id, method, params } });
    });
  }

  /** Takes the agent's answer when it is to one of the gateway's requests; false otherwise. */
  settle(response: RpcResponse): boolean {
    const id = response.id;
    if (id === null) return false;
    const waiting = this.pending.get(id);
    if (waiting === undefined) return false;
    this.pending.delete(id);
    if (response.error !== undefined)
      waiting.reject(new RpcFault(response.error.code, response.error.message, response.error.data));
    else waiting.resolve(response.result ?? {});
    return true;
  }
}
