/**
 * Traces for operators: one span per tool call, in the agent's trace when it sent one, exported over
 * OTLP/HTTP (JSON) with the OpenTelemetry SDK. Only built when `tracing.otlp` (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is configured: a gateway without a collector pays nothing.
 *
 * The agent's context comes from `traceparent` (and `tracestate`) in the call's `_meta`, the
 * 2026-07-28 place for it, or else from the HTTP request's `traceparent` header. The gateway's span
 * becomes the parent of what the upstream does: the forwarded call carries the span's own
 * `traceparent` in its `_meta` and, for an HTTP upstream of the 2026 era, in its header (core/tools.ts
 * reads `ctx.upstreamTrace`). The global OpenTelemetry API state is not touched: a host application's
 * own setup (the gateway used as a library) stays as it is.
 */
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { TracingConfig } from './deployment.js';
import type { CallStep } from './pipeline/context.js';
import type { TraceCarrier } from './trace-context.js';

const propagator = new W3CTraceContextPropagator();
const carrierGetter = {
  keys: (c: TraceCarrier) => Object.keys(c),
  get: (c: TraceCarrier, key: string) => c[key],
};
const carrierSetter = {
  set: (c: TraceCarrier, key: string, value: string) => {
    c[key] = value;
  },
};

export interface CallTracing {
  /** The outermost pipeline step: opens the span, lets the call run, records what was decided. */
  readonly step: CallStep;
  /** Exports what is pending and stops the exporter. */
  close(): Promise<void>;
}

export function createCallTracing(config: TracingConfig & { otlp: string }, replicaId: string): CallTracing {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': config.serviceName,
      'service.instance.id': replicaId,
    }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: config.otlp, headers: config.headers }),
        scheduledDelayMillis: 1_000,
      }),
    ],
  });
  const tracer = provider.getTracer('bastion-gateway');
  const step: CallStep = {
    name: 'trace',
    run: async (ctx, next) => {
      const parent =
        ctx.incomingTrace === undefined
          ? context.active()
          : propagator.extract(context.active(), ctx.incomingTrace, carrierGetter);
      const span: Span = tracer.startSpan(
        `tools/call ${ctx.tool}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'mcp.method.name': 'tools/call',
            'bastion.server': ctx.server,
            'bastion.tool': ctx.tool,
            'bastion.replica': replicaId,
          },
        },
        parent,
      );
      // What the upstream is sent: this span as its parent (tools.ts puts it in the call's _meta).
      const outgoing: TraceCarrier = {};
      propagator.inject(trace.setSpan(parent, span), outgoing, carrierSetter);
      ctx.upstreamTrace = outgoing;
      try {
        return await next();
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        if (ctx.grant !== undefined) span.setAttribute('bastion.grant', ctx.grant);
        if (ctx.decision !== undefined) {
          span.setAttribute('bastion.decision', ctx.decision.decision);
          span.setAttribute('bastion.rule', ctx.decision.rule);
          if (ctx.decision.code !== undefined) span.setAttribute('bastion.error_code', ctx.decision.code);
        }
        if (ctx.upstream !== undefined) {
          span.setAttribute('bastion.upstream.outcome', ctx.upstream.outcome);
          span.setAttribute('bastion.upstream.latency_ms', ctx.upstream.latencyMs);
        }
        span.end();
      }
    },
  };
  return { step, close: () => provider.shutdown() };
}
