/**
 * The last step: the call is allowed, so it goes to the upstream. The upstream's own answer (a
 * result, an `isError` result, or a JSON-RPC error) reaches the agent unchanged; an upstream that
 * restarted with the call in flight, could not be reached, or did not answer in time becomes a clear
 * `isError` result rather than a hang or a transport error. A cancelled call is answered by nobody.
 */
import { performance } from 'node:perf_hooks';
import { RpcFault } from '../../core/jsonrpc.js';
import {
  CancelledError,
  SessionClosedError,
  UpstreamLostError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../../upstream/errors.js';
import type { CallStep } from '../context.js';
import { gatewayError } from '../denial.js';

export const forwardStep: CallStep = {
  name: 'forward',
  run: async (ctx) => {
    const approval = ctx.approval;
    ctx.decision = {
      decision: 'allow',
      rule: ctx.rule?.pointer ?? '(default allow)',
      reason:
        approval !== undefined
          ? `approved by ${approval.decidedBy ?? 'an approver'} (approval ${approval.id})`
          : ctx.rule === undefined
            ? 'allowed by default'
            : 'allowed by rule',
    };
    const started = performance.now();
    const latencyMs = () => Math.round((performance.now() - started) * 1000) / 1000;
    try {
      const result = await ctx.target.callTool(ctx.signal);
      const inputRequired = (result as { resultType?: unknown }).resultType === 'input_required';
      ctx.upstream = {
        outcome: inputRequired ? 'input_required' : result.isError === true ? 'isError' : 'ok',
        latencyMs: latencyMs(),
      };
      return result;
    } catch (err) {
      if (err instanceof SessionClosedError) {
        ctx.upstream = { outcome: 'closed', latencyMs: latencyMs() };
        return gatewayError('SESSION_CLOSED', 'the session closed before the call completed');
      }
      if (err instanceof UpstreamLostError) {
        ctx.upstream = { outcome: 'restarted', latencyMs: latencyMs() };
        return gatewayError(
          'UPSTREAM_RESTARTED',
          `upstream restarted, call not completed: server '${ctx.server}' went away while '${ctx.tool}' ` +
            'was running; it may or may not have taken effect. The session has been re-established; ' +
            'calls after this one go to the new upstream session.',
        );
      }
      if (err instanceof UpstreamUnavailableError) {
        ctx.upstream = { outcome: 'unavailable', latencyMs: latencyMs() };
        return gatewayError('UPSTREAM_UNAVAILABLE', `upstream unavailable, call not sent: ${err.message}`);
      }
      if (err instanceof UpstreamTimeoutError) {
        ctx.upstream = { outcome: 'timeout', latencyMs: latencyMs() };
        return gatewayError(
          'UPSTREAM_TIMEOUT',
          `upstream '${ctx.server}' did not answer '${ctx.tool}' in time`,
        );
      }
      if (err instanceof CancelledError) {
        ctx.upstream = { outcome: 'cancelled', latencyMs: latencyMs() };
        throw err;
      }
      ctx.upstream = {
        outcome: 'protocol-error',
        latencyMs: latencyMs(),
        ...(err instanceof RpcFault ? { code: err.code } : {}),
      };
      throw err;
    }
  },
};
