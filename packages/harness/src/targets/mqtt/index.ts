/**
 * MQTT brokers for tests, the sandbox and the conformance runs, one provider per tier:
 *   embedded - Aedes in-process (MQTT 3.1.1; plain TCP only)
 *   process  - Mosquitto 2 from PATH (MQTT 3.1.1 and 5; TLS, mutual TLS, WebSocket)
 * `mqttBrokerProvidersWith('mqtt5')` keeps only the providers able to run a test that needs MQTT 5,
 * so that test is declared for those tiers and not silently passed for the others.
 */
import { embeddedMqttBrokerProvider } from './embedded.js';
import { processMqttBrokerProvider } from './mosquitto.js';
import type { MqttBrokerProvider, MqttCapability } from './types.js';

export { embeddedMqttBrokerProvider, startAedesBroker } from './embedded.js';
export {
  mosquittoAvailability,
  mosquittoPasswordLine,
  processMqttBrokerProvider,
  startMosquittoBroker,
} from './mosquitto.js';
export { createTestPki, opensslAvailable, type TestPki } from './tls.js';
export type {
  MqttBrokerCapabilities,
  MqttBrokerProvider,
  MqttBrokerTarget,
  MqttCapability,
  MqttListener,
  MqttListeners,
  MqttTlsMaterial,
  MqttTransport,
} from './types.js';

export const mqttBrokerProviders: ReadonlyArray<MqttBrokerProvider> = [
  embeddedMqttBrokerProvider,
  processMqttBrokerProvider,
];

/** The providers whose brokers have every capability named. */
export function mqttBrokerProvidersWith(...needs: MqttCapability[]): MqttBrokerProvider[] {
  return mqttBrokerProviders.filter((p) => needs.every((need) => p.capabilities[need]));
}
