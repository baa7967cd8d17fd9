/**
 * The burst's publisher and its plain mqtt.js subscriber, on a thread of their own so that the MCP
 * client's work (notifications, reads) cannot slow the publisher down or delay the plain count.
 * Plain JavaScript: a worker does not go through the harness's TypeScript loader.
 *
 * Messages from the parent: { cmd: 'publish' } then { cmd: 'finish' }.
 * Messages to the parent: { type: 'ready' }, { type: 'published', startedAt, endedAt },
 * { type: 'count', received, lastAt }, { type: 'finished', received, lastAt }, { type: 'error', message }.
 * Times are milliseconds on the shared clock performance.timeOrigin + performance.now().
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { connectAsync } from 'mqtt';

const { url, topic, run, messages, rate, qos, payloadBytes } = workerData;
const now = () => performance.timeOrigin + performance.now();
const base = { reconnectPeriod: 0, connectTimeout: 10_000, log: () => {} };

let received = 0;
let lastAt = 0;
const plain = await connectAsync(url, { ...base, clientId: `burst-plain-${run}` });
const publisher = await connectAsync(url, { ...base, clientId: `burst-pub-${run}` });
plain.on('message', () => {
  received++;
  lastAt = now();
});
await plain.subscribeAsync(`${topic}/#`, { qos });
const counter = setInterval(() => parentPort.postMessage({ type: 'count', received, lastAt }), 50);

async function publish() {
  // Paced per 5 ms tick; QoS 0 publishes are written at once, QoS 1/2 ones awaited per tick.
  const tickMs = 5;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const payload = Buffer.alloc(payloadBytes, 'x');
  const startedAt = now();
  let sent = 0;
  while (sent < messages) {
    const batch = [];
    for (let i = 0; i < perTick && sent < messages; i++, sent++) {
      batch.push(publisher.publishAsync(`${topic}/${sent % 10}`, payload, { qos }));
    }
    await Promise.all(batch);
    const wait = startedAt + (sent / rate) * 1000 - now();
    if (wait > 0) await sleep(wait);
  }
  return { startedAt, endedAt: now() };
}

parentPort.on('message', (message) => {
  if (message.cmd === 'publish') {
    publish().then(
      (times) => parentPort.postMessage({ type: 'published', ...times }),
      (err) => parentPort.postMessage({ type: 'error', message: err.message }),
    );
  } else if (message.cmd === 'finish') {
    clearInterval(counter);
    Promise.all([plain.endAsync(true), publisher.endAsync(true)]).finally(() => {
      parentPort.postMessage({ type: 'finished', received, lastAt });
      parentPort.close();
    });
  }
});
parentPort.postMessage({ type: 'ready' });
