import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../src/faults/tcp-proxy.js';

/** An echo server that also records when a peer ends its side. */
let echo: Server;
let echoPort: number;
let peerEnded = 0;
let proxy: FaultProxy;
const sockets: Socket[] = [];

beforeEach(async () => {
  peerEnded = 0;
  echo = createServer((s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => {
      peerEnded++;
      s.end();
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
  proxy = await startFaultProxy({ targetHost: '127.0.0.1', targetPort: echoPort });
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await proxy.close();
  await new Promise<void>((r) => echo.close(() => r()));
});

async function dial(): Promise<Socket> {
  const s = new Socket();
  sockets.push(s);
  s.on('error', () => {});
  s.connect(proxy.port, proxy.host);
  await once(s, 'connect');
  return s;
}

/** Resolves on 'close' (events.once would reject on the 'error' a reset emits first). */
function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => s.once('close', () => resolve()));
}

/** Resolves with the first chunk received. */
function firstData(s: Socket): Promise<string> {
  return once(s, 'data').then(([d]) => String(d));
}

/** Proves silence by racing a round trip on a second, healthy connection through the same proxy. */
async function nothingArrivesWhile(s: Socket, probe: () => Promise<unknown>): Promise<boolean> {
  let got = false;
  s.once('data', () => {
    got = true;
  });
  await probe();
  return !got;
}

describe('fault proxy', () => {
  it('passes bytes through both ways', async () => {
    const s = await dial();
    s.write('hello');
    expect(await firstData(s)).toBe('hello');
    expect(proxy.connectionCount()).toBe(1);
  });

  it('cut() resets open connections and still accepts new ones', async () => {
    const s = await dial();
    const gone = closed(s);
    proxy.cut();
    await gone;
    const t = await dial();
    t.write('again');
    expect(await firstData(t)).toBe('again');
  });

  it('blackhole(true) accepts connections but never answers, until healed', async () => {
    proxy.blackhole(true);
    const s = await dial();
    s.write('anyone?');
    proxy.heal();
    const healthy = await dial();
    const silent = await nothingArrivesWhile(s, async () => {
      healthy.write('ping');
      await firstData(healthy);
    });
    expect(silent).toBe(true);
  });

  it('latency(ms) still delivers every chunk, in order', async () => {
    proxy.latency(20);
    const s = await dial();
    let received = '';
    const done = new Promise<void>((resolve) =>
      s.on('data', (d) => {
        received += String(d);
        if (received.length === 6) resolve();
      }),
    );
    for (const c of ['a', 'b', 'c', 'd', 'e', 'f']) s.write(c);
    await done;
    expect(received).toBe('abcdef');
  });

  it('closeHalfway() ends the target side while the client stays connected and unanswered', async () => {
    const s = await dial();
    s.write('x');
    await firstData(s);
    proxy.closeHalfway();
    await expect.poll(() => peerEnded).toBe(1);
    expect(s.destroyed).toBe(false);
    expect(proxy.connectionCount()).toBe(1);
  });

  it('close() releases every connection and the port', async () => {
    const s = await dial();
    const gone = closed(s);
    await proxy.close();
    await gone;
    proxy = await startFaultProxy({ targetHost: '127.0.0.1', targetPort: echoPort, port: proxy.port });
  });
});
