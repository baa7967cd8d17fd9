/**
 * MQTT brokers for tests, the sandbox and the conformance runs, one provider per tier:
 *   embedded  - Aedes in-process (MQTT 3.1.1; plain TCP only)
 *   process   - Mosquitto 2 from PATH (MQTT 3.1.1 and 5; TLS, mutual TLS, WebSocket)
 *   container - the same Mosquitto setup in a container (BASTION_MOSQUITTO_IMAGE)
 *   external  - a broker given by BASTION_EXTERNAL_MQTT_URL (plain MQTT; cannot be restarted)
 * `mqttBrokerProvidersWith('mqtt5')` turns the providers unable to run a test that needs MQTT 5
 * into skips with the reason, so the summary shows why a tier did not run it.
 */
import { providersWith } from '../../testing/tiers.js';
import { containerMqttBrokerProvider } from './container.js';
import { embeddedMqttBrokerProvider } from './embedded.js';
import { externalMqttBrokerProvider } from './external.js';
import { processMqttBrokerProvider } from './mosquitto.js';
import type { MqttBrokerProvider, MqttCapability } from './types.js';

export { containerMqttBrokerProvider, startMosquittoContainer } from './container.js';
export { embeddedMqttBrokerProvider, startAedesBroker } from './embedded.js';
export {
  externalMqttAvailability,
  externalMqttBrokerProvider,
  startExternalMqttBroker,
} from './external.js';
export {
  mosquittoAvailability,
  mosquittoConfig,
  mosquittoPasswordLine,
  processMqttBrokerProvider,
  startMosquittoBroker,
} from './mosquitto.js';
export { createTestPki, opensslAvailable, type TestPki } from './tls.js';
export type {
  MqttBrokerCapabilities,
  MqttBrokerImplementation,
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
  containerMqttBrokerProvider,
  externalMqttBrokerProvider,
];

/** Every provider; those whose brokers lack a capability named are skips that say so. */
export function mqttBrokerProvidersWith(...needs: MqttCapability[]): MqttBrokerProvider[] {
  return providersWith(mqttBrokerProviders, needs);
}
