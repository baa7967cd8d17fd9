/**
 * The call pipeline, composed once at start-up. Read top to bottom for the order of a call; steps
 * that act on the way back (limits commit or roll back, audit records) do so after `next()` returns:
 *
 *   audit -> authenticate -> resolve grant -> hide/deny -> known tool -> conditions -> [approval]
 *         -> limits (reserve) -> forward
 *         <- limits (commit / roll back) <- audit (record)
 *
 * `approval` is the slot for human approval (pipeline/steps/approval.ts). It sits before limits
 * because it reserves the quota itself when it admits a call for approval (so a call waiting for a
 * person holds its units, which are returned on a denial or a timeout), and a call that redeems an
 * approval passes its already reserved units on to the limits step (`ctx.prepaid`) instead of being
 * counted, or refused, a second time.
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
  /** Human approval: runs after conditions and before limits (see above). */
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
    ...(options.approval === undefined ? [] : [options.approval]),
    limitsStep(options.counters),
    forwardStep,
  ];
}

export type CallPipeline = (ctx: CallContext) => ReturnType<CallStep['run']>;

export function createCallPipeline(options: CallPipelineOptions): CallPipeline {
  return compose(callPipelineSteps(options));
}
