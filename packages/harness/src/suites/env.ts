/**
 * The environment variables through which `bastion test` tells the contract tests what to test.
 * Unset, each contract test starts our own server, gateway or broker instead, so the same tests run
 * in `pnpm test`. Tokens travel here and nowhere else (never in reports or test names).
 */
export const CONTRACT_ENV = {
  /** The MCP server under the MQTT contract (Streamable HTTP or legacy SSE URL). */
  mqttServerUrl: 'BASTION_MQTT_SERVER_URL',
  /** auto (default), streamable or sse. */
  mqttServerTransport: 'BASTION_MQTT_SERVER_TRANSPORT',
  mqttServerToken: 'BASTION_MQTT_SERVER_TOKEN',
  /** mqtt://host:port the server under test should reach; unset: the harness's broker tiers. */
  mqttBrokerUrl: 'BASTION_MQTT_BROKER_URL',
  /** The gateway's MCP endpoint for one upstream. */
  gatewayUrl: 'BASTION_GATEWAY_URL',
  gatewayTransport: 'BASTION_GATEWAY_TRANSPORT',
  gatewayToken: 'BASTION_GATEWAY_TOKEN',
  /** Path of the policy file the gateway claims to enforce. */
  gatewayPolicy: 'BASTION_GATEWAY_POLICY',
  /** The longest limit window (seconds) the whole-window check watches; default 60. */
  gatewayMaxWindow: 'BASTION_GATEWAY_MAX_WINDOW_S',
  /** The upstream the gateway fronts, reached directly to know its real tools. */
  upstreamUrl: 'BASTION_GATEWAY_UPSTREAM_URL',
  upstreamToken: 'BASTION_GATEWAY_UPSTREAM_TOKEN',
  /** A shell command that serves the upstream at upstreamUrl; the harness runs and restarts it. */
  upstreamCommand: 'BASTION_GATEWAY_UPSTREAM_COMMAND',
  /** Someone else's MCP server for the official conformance suite. */
  conformanceUrl: 'BASTION_CONFORMANCE_URL',
  /** One requirement set, 2025-11-25 or 2026-07-28; unset: both. */
  conformanceSet: 'BASTION_CONFORMANCE_SET',
  /** A baseline of expected failures, for the one set named by conformanceSet. */
  conformanceBaseline: 'BASTION_CONFORMANCE_BASELINE',
} as const;
