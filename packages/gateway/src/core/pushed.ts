/**
 * What a server pushes to an agent unasked, governed by the agent's policy (policy/notifications.ts):
 * a pushed MQTT message is decided as the read it delivers, and a policy may drop whole notification
 * methods. Every notification the core passes to an agent, whether it belongs to a request (on the
 * request's stream) or to none (a GET or listen stream, a channel), goes through here. Answers and
 * server-to-client requests are not notifications and pass.
 */
import type { Logger } from 'pino';
import type { Principal } from '../pipeline/context.js';
import type { GrantResolver } from '../pipeline/steps/resolve-grant.js';
import { decideNotification } from '../policy/notifications.js';
import type { RpcNotification, Wire } from './jsonrpc.js';

export interface PushContext {
  resolveGrant: GrantResolver;
  logger: Logger;
}

/** Whether `wire` may go to `principal`'s agent of `server`. */
export function mayPush(context: PushContext, principal: Principal, server: string, wire: Wire): boolean {
  const m = wire.msg as Partial<RpcNotification> & { id?: unknown };
  if (typeof m.method !== 'string' || 'id' in m) return true;
  const resolved = context.resolveGrant(principal, server);
  const policy = resolved?.refused === undefined ? resolved?.policy : undefined;
  const verdict = decideNotification(policy, { method: m.method, params: m.params });
  if (verdict.action === 'allow') return true;
  context.logger.debug(
    { server, method: m.method, rule: verdict.rule },
    'notification withheld by the policy',
  );
  return false;
}

/** `deliver`, for the notifications the policy lets through. */
export function governed(
  context: PushContext,
  principal: Principal,
  server: string,
  deliver: (wire: Wire) => void,
): (wire: Wire) => void {
  return (wire) => {
    if (mayPush(context, principal, server, wire)) deliver(wire);
  };
}
