/**
 * Policies the gateway checks run with in front of our own servers (and examples for anyone's):
 * one that gives every kind of check something to do, and POLICY.md's two, verbatim.
 */

/**
 * In front of bastion-mqtt: a hidden tool, default deny, action deny, two allowed tools, two limits.
 * Both limits count per second, so the whole-window check watches each window in a second (the
 * mutation tests use it too); POLICY.md's policies below are the per-minute case.
 */
export const CONTRACT_MQTT_POLICY = {
  version: '1',
  default: 'deny',
  hide: ['mqttPublish'],
  all_tools: { limits: [{ counter: 'all-calls', window: 'second', max: 10 }] },
  tools: {
    mqttStatus: {},
    mqttSubscribe: { action: 'deny', reason: 'this grant only watches' },
    mqttDisconnect: { limits: [{ counter: 'disconnects', window: 'second', max: 5, scope: 'grant' }] },
  },
} as const;

/** POLICY.md's MQTT policy, verbatim. */
export const POLICY_MD_MQTT = {
  version: '1',
  default: 'deny',
  tools: {
    mqttDisconnect: {
      limits: [{ counter: 'mqttdisconnect_rate', window: 'minute', max: 60, scope: 'grant' }],
    },
  },
} as const;

/** POLICY.md's SSH policy, verbatim. */
export const POLICY_MD_SSH = {
  version: '1',
  default: 'deny',
  tools: {
    disconnect: { limits: [{ counter: 'disconnect_rate', window: 'minute', max: 30, scope: 'grant' }] },
  },
} as const;

/**
 * The mutation tests' policy: the contract policy's shape, with limits small enough that bursts of
 * four times the limit stay cheap when ten gateways are checked side by side, and two-second
 * windows, so a burst on a busy machine still fits in one.
 */
export const MUTATION_POLICY = {
  version: '1',
  default: 'deny',
  hide: ['mqttPublish'],
  all_tools: { limits: [{ counter: 'all-calls', window: 2, max: 8 }] },
  tools: {
    mqttStatus: {},
    mqttSubscribe: { action: 'deny', reason: 'this grant only watches' },
    mqttDisconnect: { limits: [{ counter: 'disconnects', window: 2, max: 3, scope: 'grant' }] },
  },
} as const;
