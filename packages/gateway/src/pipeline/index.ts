/**
 * The call pipeline, composed once at start-up. Read top to bottom for the order of a call; steps
 * that act on the way back (limits commit or roll back, audit records) do so after `next()` returns:
 *
 *   audit -> authenticate -> resolve grant -> hide/deny -> known tool -> conditions -> limits (reserve)
 *         -> [approval] -> forward
 *         <- limits (commit / roll back) <- audit (record)
 *
 * `approval` is the slot for the later issue's human approval step: a CallStep placed between the
 * limits and the forward, so it sees the reserved quota and can still stop the call.
 */
import type { CounterStore } from '../limits/store.js';
import { compose } from './compose.js';
import type { CallContext, CallStep } from './context.js';
import { auditStep, type DecisionRecorder } from './steps/audit.js';
import { authenticateStep } from './steps/authenticate.js';
import { conditionsStep } from './steps/conditions.js';
import { forwardStep } from './steps/forward.js';
import { knownToolStep } from './steps/known-tool.js';
import { limitsStep } from './steps/limits.js';
import { type GrantResolver, resolveGrantStep } from './steps/resolve-grant.js';
import { visibilityStep } from './steps/visibility.js';

export interface CallPipelineOptions {
  resolveGrant: GrantResolver;
  counters: CounterStore;
  recorders: ReadonlyArray<DecisionRecorder>;
  /** Runs after limits and before forward (human approval, a later issue). */
  approval?: CallStep;
  /** Outermost, so that its span covers every step and sees the decision (tracing.ts). */
  tracing?: CallStep;
}

export function callPipelineSteps(options: CallPipelineOptions): CallStep[] {
  return [
    ...(options.tracing === undefined ? [] : [options.tracing]),
    auditStep(options.recorders),
    authenticateStep,
    resolveGrantStep(options.resolveGrant),
    visibilityStep,
    knownToolStep,
    conditionsStep,
    limitsStep(options.counters),
    ...(options.approval === undefined ? [] : [options.approval]),
    forwardStep,
  ];
}

export type CallPipeline = (ctx: CallContext) => ReturnType<CallStep['run']>;

export function createCallPipeline(options: CallPipelineOptions): CallPipeline {
  return compose(callPipelineSteps(options));
}
