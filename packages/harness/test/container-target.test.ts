/**
 * The container tier's own machinery (targets/container.ts): published ports on 127.0.0.1 only (or
 * 127.0.0.1 and ::1, when asked) and fixed across a kill and start, and a SIGTERM that the main
 * process ignores still ending it.
 */
import { networkInterfaces } from 'node:os';
import { getContainerRuntimeClient } from 'testcontainers';
import { expect, it } from 'vitest';
import {
  dockerAvailability,
  imageFor,
  startTargetContainer,
  type TargetContainer,
} from '../src/targets/container.js';
import { canConnect, waitForPort } from '../src/targets/process.js';
import { describeEachTier, type TargetProvider } from '../src/testing/tiers.js';

type Listening = TargetContainer<'echo'>;

/**
 * A container whose main process is a shell that ignores SIGTERM and serves one TCP port, published
 * on 127.0.0.1, and on ::1 too with `ipv6Loopback`.
 */
const listenerProvider = (ipv6Loopback: boolean): TargetProvider<Listening> => ({
  kind: 'container',
  tier: 'container',
  availability: () => dockerAvailability(),
  start: () =>
    startTargetContainer({
      name: 'listener',
      image: imageFor('BASTION_MOSQUITTO_IMAGE', 'eclipse-mosquitto:2'),
      ports: { echo: 1883 },
      ipv6Loopback,
      // Mosquitto listening on every interface inside, so the published port has someone behind it;
      // as PID 1 under a shell that traps TERM, a SIGTERM is ignored.
      command: [
        'sh',
        '-c',
        'trap "" TERM; printf "listener 1883\\nallow_anonymous true\\n" > /tmp/m.conf; /usr/sbin/mosquitto -c /tmp/m.conf & wait',
      ],
      ready: (host, ports) => waitForPort(ports.echo, host, 20_000),
    }),
});

/**
 * This machine's other addresses (the docker0 bridge, a LAN interface). IPv6 link-local ones are
 * left out: they cannot be dialled without a zone, so they would prove nothing.
 */
function nonLoopbackAddresses(families: ReadonlyArray<'IPv4' | 'IPv6'> = ['IPv4']): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && families.includes(a.family) && !a.internal)
    .map((a) => a?.address ?? '')
    .filter((address) => !address.toLowerCase().startsWith('fe80:'));
}

/** The host bindings, as the engine records them, of every running container publishing `port`. */
async function bindingsOf(port: number): Promise<Array<{ HostIp: string; HostPort: string }>> {
  const client = await getContainerRuntimeClient();
  const ids = (await client.container.dockerode.listContainers()).map((c) => c.Id);
  const mine = [];
  for (const id of ids) {
    const info = await client.container.getById(id).inspect();
    const bindings = Object.values(info.HostConfig.PortBindings ?? {}).flat() as Array<{
      HostIp: string;
      HostPort: string;
    }>;
    if (bindings.some((b) => b.HostPort === String(port))) mine.push(...bindings);
  }
  return mine;
}

describeEachTier('target container', [listenerProvider(false)], (ctx) => {
  it('publishes its ports on 127.0.0.1 only', async () => {
    const t = ctx.target();
    expect(await bindingsOf(t.ports.echo)).toEqual([{ HostIp: '127.0.0.1', HostPort: String(t.ports.echo) }]);
    expect(await canConnect(t.ports.echo, '127.0.0.1')).toBe(true);
    // Another address of this machine (the docker0 bridge, a LAN interface) does not reach it.
    for (const address of nonLoopbackAddresses()) {
      expect(await canConnect(t.ports.echo, address), address).toBe(false);
    }
  });

  it('ends with SIGKILL when SIGTERM is ignored, and starts again on the same port', async () => {
    const t = ctx.target();
    const port = t.ports.echo;
    await t.kill('SIGTERM', 500);
    expect(t.running()).toBe(false);
    expect(await canConnect(port, '127.0.0.1')).toBe(false);
    await t.start();
    expect(t.running()).toBe(true);
    expect(t.ports.echo).toBe(port);
    expect(await canConnect(port, '127.0.0.1')).toBe(true);
  });
});

describeEachTier('target container on both loopbacks', [listenerProvider(true)], (ctx) => {
  it('publishes its ports on 127.0.0.1 and ::1 at one port, on no other address, across a restart', async () => {
    const t = ctx.target();
    const port = t.ports.echo;
    expect(await bindingsOf(port)).toEqual([
      { HostIp: '127.0.0.1', HostPort: String(port) },
      { HostIp: '::1', HostPort: String(port) },
    ]);
    for (const address of nonLoopbackAddresses(['IPv4', 'IPv6'])) {
      expect(await canConnect(port, address), address).toBe(false);
    }
    await t.kill('SIGKILL');
    expect(await canConnect(port, '::1')).toBe(false);
    await t.start();
    expect(await canConnect(port, '127.0.0.1')).toBe(true);
    expect(await canConnect(port, '::1')).toBe(true);
  });
});
