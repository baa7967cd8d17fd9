import type { Requirement } from './types.js';

const issue = 'issue #5, reconnect scenarios';
const environment = 'ENVIRONMENT.md, fault injection';
const mqttxDefects = 'UPSTREAMS.md, MQTTX SSE Server defects (not to repeat)';
const policy = 'POLICY.md, where users of such gateways are let down';

export const reconnectRequirements: Requirement[] = [
  {
    id: 'reconnect.broker.sigkill',
    statement:
      'after the broker is killed with SIGKILL and started again on the same port, every broker connection reconnects, its subscriptions are restored and messages flow again',
    source: issue,
  },
  {
    id: 'reconnect.broker.sigterm',
    statement:
      'after the broker is stopped with SIGTERM and started again on the same port, every broker connection reconnects, its subscriptions are restored and messages flow again',
    source: issue,
  },
  {
    id: 'reconnect.broker.blackhole-timeout',
    statement:
      'mqttConnect to a broker that accepts TCP but never answers fails with CONNECT_TIMEOUT after its connectTimeoutMs instead of hanging, over the HTTP server too, and succeeds once the broker answers',
    source: mqttxDefects,
  },
  {
    id: 'reconnect.broker.silent',
    statement:
      'a broker that goes silent under an open connection is noticed by keepalive, reconnect attempts time out instead of hanging, and the connection comes back with its subscriptions when the broker answers again',
    source: environment,
  },
  {
    id: 'reconnect.broker.cut',
    statement:
      'broker connections reset mid-session (by the network, the broker still up) reconnect, restore their subscriptions and deliver messages again',
    source: environment,
  },
  {
    id: 'reconnect.broker.half-open',
    statement:
      'a connection the broker has closed while the client side stays open and unanswered (half-open) is noticed by keepalive and reconnected',
    source: environment,
  },
  {
    id: 'reconnect.ssh.restart',
    statement:
      'after sshd is ended (SIGKILL or SIGTERM) and started again on the same port, the next exec on the same connection id succeeds, reconnecting once if the connection was lost',
    source: issue,
  },
  {
    id: 'reconnect.server.restart',
    statement:
      'an MCP server process (bastion-mqtt, bastion-ssh, bastion-gateway) killed with SIGKILL or stopped with SIGTERM starts again on the same port and serves new sessions; SIGTERM ends it cleanly with exit code 0',
    source: issue,
  },
  {
    id: 'reconnect.gateway.upstream-crash',
    statement:
      "when the upstream MCP server process behind the gateway crashes and comes back on the same port, the agent's session with the gateway survives and its next call succeeds",
    source: policy,
  },
  {
    id: 'reconnect.gateway.upstream-down',
    statement:
      'a call while the upstream MCP server is down ends with an isError result naming the upstream (UPSTREAM_UNAVAILABLE or UPSTREAM_RESTARTED) instead of hanging, and the first call once the upstream is back succeeds in the same agent session',
    source: policy,
  },
  {
    id: 'reconnect.gateway.audit-restart',
    statement:
      'after the gateway process is restarted (SIGTERM or SIGKILL), `bastion-gateway audit verify` passes and the first row written after the restart is chained to the last row written before it',
    source: issue,
  },
];
