/**
 * Prometheus metrics (prom-client), in a registry of the gateway's own so that two gateways in one
 * process (tests) do not share counts. Tool labels are bounded: a name the upstream does not offer is
 * counted as `(unknown)`, so an agent inventing tool names cannot grow the label set without bound.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallContext } from './pipeline/context.js';

export class GatewayMetrics {
  readonly registry = new Registry();
  /**
   * `replica` on every series: replicas behind one address are scraped one by one, and a sum over
   * them must not collapse two replicas' series into one.
   */
  constructor(readonly replica?: string) {
    if (replica !== undefined) this.registry.setDefaultLabels({ replica });
  }
  readonly decisions = new Counter({
    name: 'bastion_gateway_decisions_total',
    help: 'Policy decisions on tool calls, by server, tool, decision and the rule that decided.',
    labelNames: ['server', 'tool', 'decision', 'rule'] as const,
    registers: [this.registry],
  });
  readonly upstreamLatency = new Histogram({
    name: 'bastion_gateway_upstream_latency_seconds',
    help: 'Time from forwarding a tool call to the upstream answer, by server, tool and outcome.',
    labelNames: ['server', 'tool', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly activeSessions = new Gauge({
    name: 'bastion_gateway_active_sessions',
    help: 'Agent sessions open now, by server.',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });
  readonly upstreamReconnects = new Counter({
    name: 'bastion_gateway_upstream_reconnects_total',
    help: 'Upstream sessions re-established after the upstream went away, by server.',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });
  readonly sessionRefusals = new Counter({
    name: 'bastion_gateway_session_refusals_total',
    help: 'Sessions refused because a cap was reached, by server and cap (grant or process).',
    labelNames: ['server', 'scope'] as const,
    registers: [this.registry],
  });
  readonly policyReloads = new Counter({
    name: 'bastion_gateway_policy_reloads_total',
    help: 'Policy file reloads, by server and result (applied or rejected).',
    labelNames: ['server', 'result'] as const,
    registers: [this.registry],
  });

  readonly storeUp = new Gauge({
    name: 'bastion_gateway_shared_store_up',
    help: 'Whether the shared store (Redis) is reachable: 1 yes, 0 no (limited calls are then denied).',
    registers: [this.registry],
  });
  readonly storeFailures = new Counter({
    name: 'bastion_gateway_shared_store_failures_total',
    help: 'Shared-store (Redis) operations that failed or timed out, by operation.',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  /** A DecisionRecorder for the pipeline's audit step. */
  readonly record = (ctx: CallContext): void => {
    const tool = ctx.target.knowsTool(ctx.tool) ? ctx.tool : '(unknown)';
    const decision = ctx.decision ?? { decision: 'deny', rule: '(error)' };
    this.decisions.inc({ server: ctx.server, tool, decision: decision.decision, rule: decision.rule });
    if (ctx.upstream !== undefined) {
      this.upstreamLatency.observe(
        { server: ctx.server, tool, outcome: ctx.upstream.outcome },
        ctx.upstream.latencyMs / 1000,
      );
    }
  };

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
