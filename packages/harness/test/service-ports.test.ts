/**
 * How the process tier picks and claims ports. A CI run once lost a whole Mosquitto suite because a
 * port that `freePort()` had found free was taken before Mosquitto bound it: Mosquitto opened its
 * first listener, failed on a later one and exited, and the start only noticed ten seconds later.
 * These tests use a real child process that listens on several ports the way Mosquitto does.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, isPortTaken, ServiceProcess, withFreshPorts } from '../src/targets/process.js';

/**
 * Listens on each port in argv in order, exits 1 at the first bind that fails and says when all are
 * bound: what Mosquitto does.
 */
const LISTENER = `
const net = require('node:net');
const ports = process.argv.slice(1).map(Number);
(function next(i) {
  if (i === ports.length) return console.error('all listening');
  const server = net.createServer((socket) => socket.destroy());
  server.once('error', (err) => { console.error('Error: ' + err.message); process.exit(1); });
  server.listen(ports[i], '127.0.0.1', () => setTimeout(() => next(i + 1), 50));
})(0);
`;

function listener(ports: number[]): ServiceProcess {
  const [first, ...rest] = ports;
  if (first === undefined) throw new Error('no port');
  return new ServiceProcess({
    name: 'listener',
    command: process.execPath,
    args: ['-e', LISTENER, ...ports.map(String)],
    port: first,
    morePorts: rest,
    readyLine: /all listening/,
  });
}

const owned: Array<ServiceProcess | Server> = [];
afterEach(async () => {
  for (const item of owned.splice(0)) {
    if (item instanceof ServiceProcess) await item.stop();
    else await new Promise<void>((resolve) => item.close(() => resolve()));
  }
});

async function occupy(port: number): Promise<void> {
  const server = createServer();
  owned.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
}

describe('process-tier ports', () => {
  it('picks ports below the ephemeral range, never the same one twice', async () => {
    const ephemeralStart = Number.parseInt(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'),
      10,
    );
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    expect(new Set(ports).size).toBe(50);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralStart);
    }
  });

  it('is ready only when every port accepts, and fails at once when a later port is taken', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const ok = listener(ports);
    owned.push(ok);
    await ok.start();
    expect(ok.pid).toBeDefined();

    const taken = [await freePort(), await freePort()];
    await occupy(taken[1] as number);
    const failing = listener(taken);
    owned.push(failing);
    const error = await failing.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('EADDRINUSE');
    expect((error as Error).message).toContain(`127.0.0.1:${taken[1]}`);
    expect(isPortTaken(error)).toBe(true);
    // The exit ended the wait, not the readiness timeout.
    expect((error as Error).message).toContain('(exited with 1)');
    expect(failing.pid).toBeUndefined();
  });

  it('starts again on fresh ports when one was taken, and gives up on other failures', async () => {
    const blocked = await freePort();
    await occupy(blocked);
    const tried: number[][] = [];
    const service = await withFreshPorts(async () => {
      const ports = tried.length === 0 ? [await freePort(), blocked] : [await freePort(), await freePort()];
      tried.push(ports);
      const candidate = listener(ports);
      owned.push(candidate);
      await candidate.start();
      return candidate;
    });
    expect(tried).toHaveLength(2);
    expect(service.pid).toBeDefined();

    let calls = 0;
    await expect(
      withFreshPorts(async () => {
        calls++;
        throw new Error('permission denied');
      }),
    ).rejects.toThrow('permission denied');
    expect(calls).toBe(1);
  });
});
