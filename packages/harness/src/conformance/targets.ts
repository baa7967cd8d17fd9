/**
 * What the official conformance suite runs against on our side, each target in both requirement
 * sets with a baseline per set (`conformance/<target>.<set>.yml`): the harness's conformance fixture
 * (in this process), and bastion-mqtt and bastion-ssh over Streamable HTTP, started from their bins
 * as a user runs them. The conformance CLI cannot send a token, so every target is anonymous.
 */
import { pino } from 'pino';
import { startOwnMqttServer, startOwnSshServer } from '../suites/own-targets.js';
import { startConformanceFixture } from './fixture-server.js';

export const CONFORMANCE_TARGET_NAMES = ['fixture', 'bastion-mqtt', 'bastion-ssh'] as const;
export type ConformanceTargetName = (typeof CONFORMANCE_TARGET_NAMES)[number];

export interface ConformanceEnvironment {
  /** The MCP endpoint of each target. */
  urls: Record<ConformanceTargetName, string>;
  stop(): Promise<void>;
}

/** Starts every target; `stop()` releases everything (also when a start fails part-way). */
export async function startConformanceEnvironment(): Promise<ConformanceEnvironment> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    // Started side by side (each waits for its own listening line); whatever started is stopped
    // again if another one failed.
    const [fixture, mqtt, ssh] = await Promise.allSettled([
      startConformanceFixture(pino({ level: 'silent' })),
      startOwnMqttServer(),
      startOwnSshServer(),
    ]);
    if (fixture.status === 'fulfilled') stops.push(() => fixture.value.close());
    if (mqtt.status === 'fulfilled') stops.push(() => mqtt.value.stop());
    if (ssh.status === 'fulfilled') stops.push(() => ssh.value.stop());
    if (fixture.status === 'rejected') throw fixture.reason;
    if (mqtt.status === 'rejected') throw mqtt.reason;
    if (ssh.status === 'rejected') throw ssh.reason;
    return {
      urls: {
        fixture: `${fixture.value.url}/mcp`,
        'bastion-mqtt': `${mqtt.value.baseUrl}/mcp`,
        'bastion-ssh': `${ssh.value.baseUrl}/mcp`,
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
