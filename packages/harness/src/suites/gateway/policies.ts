/**
 * Policies the gateway checks run with in front of our own servers (and examples for anyone's):
 * one that gives every kind of check something to do, and POLICY.md's two, verbatim.
 */

/** In front of bastion-mqtt: a hidden tool, default deny, action deny, two allowed tools, two limits. */
export const CONTRACT_MQTT_POLICY = {
  version: '1',
  default: 'deny',
  hide: ['mqttPublish'],
  all_tools: { limits: [{ counter: 'all-calls', window: 'second', max: 20 }] },
  tools: {
    mqttStatus: {},
    mqttSubscribe: { action: 'deny', reason: 'this grant only watches' },
    mqttDisconnect: { limits: [{ counter: 'disconnects', window: 'minute', max: 5, scope: 'grant' }] },
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
