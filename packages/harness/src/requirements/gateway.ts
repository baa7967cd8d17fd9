import type { Requirement } from './types.js';

const issue = 'issue #4 (the policy gateway)';
const policyMd = 'POLICY.md, documented format';
const better = 'POLICY.md, where users of such gateways are let down';
const findings = 'issue #14 (security findings, an honest audit chain)';

export const gatewayRequirements: Requirement[] = [
  // Configuration and command line.
  {
    id: 'gateway.config.validated',
    statement: 'validates the config file with every problem reported at once, each with its JSON Pointer',
    source: issue,
  },
  {
    id: 'gateway.config.json-schema',
    statement:
      'publishes a JSON Schema of the config, generated from the zod schema and kept in step with it',
    source: issue,
  },
  {
    id: 'gateway.cli.serve',
    statement: 'bastion-gateway --config F serves every server at /servers/NAME/mcp and /servers/NAME/sse',
    source: issue,
  },
  {
    id: 'gateway.cli.stdio',
    statement: 'bastion-gateway --stdio --config F --server NAME serves one upstream over stdio',
    source: issue,
  },
  {
    id: 'gateway.cli.grant-create',
    statement:
      'bastion-gateway grant create LABEL prints a new token once and the config entry with its SHA-256',
    source: issue,
  },
  {
    id: 'gateway.cli.refuse-bad-policy',
    statement: 'refuses to start on a policy problem, naming every problem with its pointer',
    source: better,
  },
  {
    id: 'gateway.cli.upstream-cannot-start',
    statement:
      'says at start, in an error line naming the server and the command, when a stdio upstream cannot start; exits 2 unless --no-check',
    source: 'issue #9 (what a newcomer hit)',
  },
  // HTTP.
  {
    id: 'gateway.http.healthz',
    statement: 'answers GET /healthz without a token',
    source: issue,
  },
  {
    id: 'gateway.http.metrics',
    statement:
      'serves Prometheus metrics: decisions by server/tool/decision/rule, upstream latency, active sessions, reconnects',
    source: issue,
  },
  {
    id: 'gateway.auth.token-required',
    statement: 'answers 401 to a request without a valid grant token',
    source: issue,
  },
  {
    id: 'gateway.auth.server-binding',
    statement: "a grant's token opens sessions only on the servers the grant names",
    source: policyMd,
  },
  {
    id: 'gateway.auth.anonymous-opt-in',
    statement:
      'serves without a token only when the config explicitly allows anonymous access, and only its servers',
    source: issue,
  },
  // The policy language.
  {
    id: 'gateway.policy.verbatim',
    statement: "loads POLICY.md's two policies unchanged",
    source: policyMd,
  },
  {
    id: 'gateway.policy.problems',
    statement: 'reports every policy problem at once with its JSON Pointer; unknown keys are errors',
    source: issue,
  },
  {
    id: 'gateway.policy.args-paths',
    statement:
      "checks every args.* path against the upstream tool's inputSchema and refuses the server on an unknown path, naming tool and path",
    source: better,
  },
  {
    id: 'gateway.policy.reload',
    statement: 'reloads a changed policy file atomically, keeping the counters',
    source: issue,
  },
  {
    id: 'gateway.policy.reload-invalid',
    statement: 'rejects an invalid policy file on reload, logs why, and keeps the old policy in force',
    source: issue,
  },
  // Decisions.
  {
    id: 'gateway.deny.default',
    statement: "denies a tool the policy does not list under default deny, with rule '(default deny)'",
    source: policyMd,
  },
  {
    id: 'gateway.deny.shape',
    statement:
      'answers a denial as isError with text beginning [POLICY DENIED], no structuredContent, and _meta["dev.bastion/error"] {code, decision, rule, reason}',
    source: policyMd,
  },
  {
    id: 'gateway.deny.not-forwarded',
    statement: 'never forwards a denied call to the upstream',
    source: issue,
  },
  {
    id: 'gateway.deny.action',
    statement: 'denies every call to a tool with action "deny", with its reason',
    source: issue,
  },
  {
    id: 'gateway.hide.list',
    statement: "leaves hidden and denied tools out of tools/list, and denies a hidden tool with '(hidden)'",
    source: policyMd,
  },
  {
    id: 'gateway.conditions.deny-if',
    statement: 'denies a call whose argument matches a deny_if condition, naming the condition by pointer',
    source: policyMd,
  },
  {
    id: 'gateway.conditions.require',
    statement: 'denies a call whose arguments fail a require condition, with the on_deny message',
    source: policyMd,
  },
  {
    id: 'gateway.conditions.glob',
    statement: 'matches arguments against MQTT topic filters and path globs',
    source: issue,
  },
  {
    id: 'gateway.conditions.schema-defaults',
    statement:
      "evaluates conditions on the arguments with the tool's inputSchema defaults filled in (a connect without port is judged with port 22)",
    source: findings,
  },
  {
    id: 'gateway.conditions.paths',
    statement:
      'reads path arguments as the remote does: normalises . and .., reads /proc/self/root as /, and denies or refuses a relative path as unknown',
    source: findings,
  },
  {
    id: 'gateway.conditions.mqtt-filters',
    statement: 'denies a subscription whose topic filter can receive a topic an mqtt-syntax deny_if names',
    source: findings,
  },
  {
    id: 'gateway.notifications.pushed',
    statement:
      "passes a pushed MQTT message to the agent only when the policy lets it read that topic (mqttReadMessages' rule)",
    source: findings,
  },
  {
    id: 'gateway.limit.fixed-window',
    statement:
      'denies the call over the max in a clock-aligned window with the limit pointer and retryAfterMs',
    source: policyMd,
  },
  {
    id: 'gateway.limit.per-grant',
    statement: 'counts grants apart under scope "grant"',
    source: policyMd,
  },
  {
    id: 'gateway.limit.window-reset',
    statement: 'allows calls again when the window turns',
    source: policyMd,
  },
  {
    id: 'gateway.limit.exact-under-concurrency',
    statement: 'admits exactly max of many calls made in parallel',
    source: issue,
  },
  {
    id: 'gateway.limit.whole-window',
    statement:
      'admits no call beyond max anywhere in a window: not in a burst at its start, not one at a time up to its last moment',
    source: 'issue 14, item 14 (limit checks that stopped at the first denial)',
  },
  {
    id: 'gateway.limit.retry-after',
    statement:
      'says in the denial over a limit how long until the agent may retry (retryAfterMs, at most the window)',
    source: better,
  },
  {
    id: 'gateway.limit.rollback',
    statement: 'returns the reserved quota when the upstream answers the call with a protocol error',
    source: policyMd,
  },
  {
    id: 'gateway.limit.output-schema',
    statement:
      "lists a tool's outputSchema as the upstream declares it; its denials carry no structuredContent, so SDK clients' callTool accepts them",
    source: issue,
  },
  // Bypass attempts.
  {
    id: 'gateway.bypass.names',
    statement: 'matches tool names exactly: case variants and Unicode look-alikes are other, denied names',
    source: issue,
  },
  {
    id: 'gateway.bypass.batch',
    statement: 'decides every call in a JSON-RPC batch on its own',
    source: issue,
  },
  {
    id: 'gateway.bypass.headers',
    statement:
      'decides a call on its body: Mcp-Method/Mcp-Name headers naming an allowed tool do not carry a denied call through',
    source: 'issue 10 (policy reads the body only) and issue 14, item 16',
  },
  {
    id: 'gateway.bypass.methods',
    statement: 'forwards only MCP methods it understands; anything else is Method not found',
    source: issue,
  },
  // The proxy.
  {
    id: 'gateway.proxy.session-per-agent',
    statement: 'gives each agent session its own upstream session, opened on initialize and closed with it',
    source: issue,
  },
  {
    id: 'gateway.proxy.mirror',
    statement: "presents the upstream's capabilities, serverInfo and instructions",
    source: issue,
  },
  {
    id: 'gateway.proxy.passthrough',
    statement: 'passes resources, resource templates, prompts and completion through unchanged',
    source: issue,
  },
  {
    id: 'gateway.proxy.logging-progress',
    statement: 'passes logging (with setLevel) and progress notifications through',
    source: issue,
  },
  {
    id: 'gateway.proxy.cancel',
    statement: "passes an agent's cancellation on to the upstream",
    source: issue,
  },
  {
    id: 'gateway.proxy.server-requests',
    statement: 'passes server-to-client requests through: sampling, elicitation, roots',
    source: issue,
  },
  {
    id: 'gateway.proxy.notifications',
    statement: 'passes list_changed and resource-updated notifications through',
    source: issue,
  },
  {
    id: 'gateway.proxy.transports',
    statement: 'proxies agents over Streamable HTTP, legacy SSE and stdio to upstreams over stdio and HTTP',
    source: issue,
  },
  // Upstream reconnect.
  {
    id: 'gateway.reconnect.http-restart',
    statement:
      "re-initializes transparently when an HTTP upstream restarts (404); the agent's session survives",
    source: better,
  },
  {
    id: 'gateway.reconnect.stdio-exit',
    statement: 'starts a new stdio upstream when the old one exits; calls after it succeed',
    source: better,
  },
  {
    id: 'gateway.reconnect.in-flight',
    statement:
      "answers a call caught in flight by an upstream restart with 'upstream restarted, call not completed'",
    source: issue,
  },
  // Audit.
  {
    id: 'gateway.audit.rows',
    statement:
      'writes one JSON Lines row per decision with grant, session, server, tool, decision, rule, reason, argument keys, upstream outcome and latency',
    source: policyMd,
  },
  {
    id: 'gateway.audit.secrets',
    statement: "keeps secret argument values out of the audit log, the upstream's own secret fields included",
    source: issue,
  },
  {
    id: 'gateway.audit.chain',
    statement: 'hash-chains the rows; audit verify accepts an intact log and names the first tampered row',
    source: issue,
  },
  {
    id: 'gateway.audit.keyed',
    statement:
      'keys the chain (HMAC) and anchors its head: verify catches rows cut from the end and rows rewritten without the key',
    source: findings,
  },
  {
    id: 'gateway.audit.restart-check',
    statement: 'does not start on an audit log that was cut or rewritten while it was down',
    source: findings,
  },
  {
    id: 'gateway.audit.shutdown',
    statement: 'loses no row on a clean shutdown',
    source: issue,
  },
  // End to end with the real servers.
  {
    id: 'gateway.e2e.mqtt',
    statement:
      "enforces POLICY.md's MQTT policy verbatim in front of the real bastion-mqtt against a real broker",
    source: policyMd,
  },
  {
    id: 'gateway.e2e.ssh',
    statement:
      "enforces POLICY.md's SSH policy verbatim in front of the real bastion-ssh against a real SSH host",
    source: policyMd,
  },
  // Checked against any gateway by bastion test --suite gateway (src/suites/gateway/checks.ts).
  {
    id: 'gateway.allow.listed',
    statement: 'lists and admits a tool the policy allows (under default deny, a tool listed as {})',
    source: policyMd,
  },
];
