/**
 * The outermost step, so it sees every call whatever decided it: after the rest of the pipeline has
 * run (or thrown), it hands the finished context to the recorders (the audit log, the metrics).
 */
import type { CallContext, CallStep } from '../context.js';

export type DecisionRecorder = (ctx: CallContext) => void;

export function auditStep(recorders: ReadonlyArray<DecisionRecorder>): CallStep {
  const record = (ctx: CallContext) => {
    for (const recorder of recorders) recorder(ctx);
  };
  return {
    name: 'audit',
    run: async (ctx, next) => {
      try {
        const result = await next();
        record(ctx);
        return result;
      } catch (err) {
        // Decided and forwarded, then refused upstream (a protocol error): still one row.
        ctx.decision ??= { decision: 'deny', rule: '(error)', reason: (err as Error).message };
        record(ctx);
        throw err;
      }
    },
  };
}
