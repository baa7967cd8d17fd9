/**
 * What the official conformance suite runs against on our side: bastion-mqtt and bastion-ssh over
 * Streamable HTTP, the conformance fixture server, and bastion-gateway with an allow-all policy in
 * front of each (anonymous access: the conformance CLI cannot send a token), each with its baseline.
 */
import { pino } from 'pino';
import {
  type RunningGateway,
  type RunningService,
  startOwnGateway,
  startOwnMqttServer,
  startOwnSshServer,
} from '../suites/own-targets.js';
import { startConformanceFixture } from './fixture-server.js';

export interface ConformanceTarget {
  name: string;
  /** File name under packages/harness/conformance/. */
  baseline: string;
  /** For a gateway target: the server behind it, whose results it must reproduce exactly. */
  proxyOf?: string;
  url(env: ConformanceEnvironment): string;
}

export interface ConformanceEnvironment {
  mqtt: RunningService;
  ssh: RunningService;
  fixtureUrl: string;
  gateway: RunningGateway;
  stop(): Promise<void>;
}

const ALLOW_ALL = { version: '1', default: 'allow' };

/** Direct targets first: a gateway target is compared with the run of the server behind it. */
export const CONFORMANCE_TARGETS: ReadonlyArray<ConformanceTarget> = [
  { name: 'bastion-mqtt', baseline: 'bastion-mqtt.yml', url: (e) => `${e.mqtt.baseUrl}/mcp` },
  { name: 'bastion-ssh', baseline: 'bastion-ssh.yml', url: (e) => `${e.ssh.baseUrl}/mcp` },
  { name: 'conformance fixture', baseline: 'fixture.yml', url: (e) => e.fixtureUrl },
  {
    name: 'bastion-gateway in front of bastion-mqtt',
    baseline: 'gateway-bastion-mqtt.yml',
    proxyOf: 'bastion-mqtt',
    url: (e) => e.gateway.endpoint('mqtt'),
  },
  {
    name: 'bastion-gateway in front of bastion-ssh',
    baseline: 'gateway-bastion-ssh.yml',
    proxyOf: 'bastion-ssh',
    url: (e) => e.gateway.endpoint('ssh'),
  },
  {
    name: 'bastion-gateway in front of the conformance fixture',
    baseline: 'gateway-fixture.yml',
    proxyOf: 'conformance fixture',
    url: (e) => e.gateway.endpoint('fixture'),
  },
];

/** Starts every server and one gateway in front of all of them; `stop()` releases everything. */
export async function startConformanceEnvironment(): Promise<ConformanceEnvironment> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const mqtt = await startOwnMqttServer();
    stops.push(() => mqtt.stop());
    const ssh = await startOwnSshServer();
    stops.push(() => ssh.stop());
    const fixture = await startConformanceFixture(pino({ level: 'silent' }));
    stops.push(() => fixture.close());
    const fixtureUrl = `${fixture.url}/mcp`;
    const gateway = await startOwnGateway(
      {
        mqtt: { url: `${mqtt.baseUrl}/mcp`, policy: ALLOW_ALL },
        ssh: { url: `${ssh.baseUrl}/mcp`, policy: ALLOW_ALL },
        fixture: { url: fixtureUrl, policy: ALLOW_ALL },
      },
      { anonymous: true },
    );
    stops.push(() => gateway.stop());
    return { mqtt, ssh, fixtureUrl, gateway, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
