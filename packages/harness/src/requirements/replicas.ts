import type { Requirement } from './types.js';

const issue = 'issue #11, scale out: gateway replicas sharing Redis';
const policy = 'POLICY.md, where users of such gateways are let down (counters per process)';

/** The `replicas` family: several gateways behind one address, sharing state through Redis. */
export const replicasRequirements: Requirement[] = [
  {
    id: 'replicas.counters.exact-fixed',
    statement:
      'parallel reservations from several replicas against a fixed window with max N admit exactly N, for grant, session and global scope',
    source: policy,
  },
  {
    id: 'replicas.counters.exact-sliding',
    statement:
      'parallel reservations from several replicas against a sliding window with max N admit exactly N, for grant, session and global scope',
    source: policy,
  },
  {
    id: 'replicas.counters.semantics',
    statement:
      'the Redis counter store behaves as the in-memory one: clock-aligned fixed windows with the time until the next one, sliding windows, a rollback returns its unit once and only to the window it was taken from',
    source: issue,
  },
  {
    id: 'replicas.counters.redis-time',
    statement:
      'fixed windows take their time from Redis, so replicas whose clocks disagree by seconds place their calls in one window and admit max calls between them',
    source: issue,
  },
  {
    id: 'replicas.counters.reload-keeps-counts',
    statement: 'a hot policy reload that changes a limit keeps the calls already counted in its window',
    source: issue,
  },
  {
    id: 'replicas.fail-closed.down',
    statement:
      'while Redis is unreachable (killed under running replicas) a call that needs a counter is denied with COUNTERS_UNAVAILABLE (in _meta["dev.bastion/error"]) by every replica, a call with no limit still passes, and the metrics show the store down',
    source: issue,
  },
  {
    id: 'replicas.fail-closed.recovers',
    statement:
      'when Redis is killed and started again, limited calls pass again on every replica without restarting any gateway, and the metrics show the store up',
    source: issue,
  },
  {
    id: 'replicas.fail-closed.slow',
    statement:
      'a Redis that does not answer within the configured timeout fails the limited call closed (COUNTERS_UNAVAILABLE) after a bounded wait instead of hanging',
    source: issue,
  },
  {
    id: 'replicas.store.tables',
    statement:
      'records put by one replica are read by another; a record taken by several replicas at once is taken by exactly one; records expire after their time to live',
    source: 'issue #11 item 3 (approvals and tool pins, issue #12, share the same store)',
  },
  {
    id: 'replicas.e2e.exact',
    statement:
      '1,000 parallel tools/call requests spread over 3 gateway replicas against max 50 admit exactly 50, for each scope and window kind',
    source: issue,
  },
  {
    id: 'replicas.e2e.any-replica',
    statement:
      'a 2025-era session opened on one replica keeps working when its next requests land on another replica, and after the replica that opened it was killed',
    source: issue,
  },
  {
    id: 'replicas.e2e.kill-replica',
    statement:
      'killing a replica in the middle of a run of limited calls loses no agent session and admits no more than max calls in the window',
    source: issue,
  },
  {
    id: 'replicas.e2e.clock-skew',
    statement:
      'two replicas whose clocks are skewed by seconds (a clock offset hook) still share one fixed window: together they admit max calls and report the same window end',
    source: issue,
  },
  {
    id: 'replicas.audit.per-replica',
    statement:
      'each replica writes its own hash-chained audit log named by its replica id; every log verifies, and the merged report lists every decision of every replica once, ordered by time',
    source: issue,
  },
  {
    id: 'replicas.metrics.replica-label',
    statement: "every Prometheus series of a replica carries its replica id as the label 'replica'",
    source: issue,
  },
  {
    id: 'replicas.traces.span',
    statement:
      "the gateway joins the agent's trace (traceparent in _meta or the HTTP header), exports one span per tool call over OTLP/HTTP with server, tool, decision, rule and upstream latency, and passes the trace context upstream",
    source: issue,
  },
  {
    id: 'replicas.containers.topology',
    statement:
      'the container topology (three gateway replicas, Redis, both servers, one load balancer on one published port) serves agents, and limits hold across its replicas',
    source: issue,
  },
];
