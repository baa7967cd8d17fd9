/**
 * The W3C trace context an agent sends with a call, read without loading the OpenTelemetry SDK
 * (tracing.ts loads it only when traces are exported).
 */

/** The W3C trace context carrier: `traceparent` and, when present, `tracestate`. */
export type TraceCarrier = Record<string, string>;

/** The trace context an agent sent: `_meta.traceparent` first, then the HTTP header. */
export function incomingTrace(
  meta: Record<string, unknown> | undefined,
  headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
): TraceCarrier | undefined {
  const pick = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const parent = pick(meta?.traceparent) ?? pick(headers?.traceparent);
  if (parent === undefined) return undefined;
  const state = pick(meta?.traceparent) !== undefined ? pick(meta?.tracestate) : pick(headers?.tracestate);
  return state === undefined ? { traceparent: parent } : { traceparent: parent, tracestate: state };
}
