import { Socket } from 'node:net';
import { expect, it } from 'vitest';
import { redisProviders } from '../src/targets/redis/index.js';
import { describeEachTier } from '../src/testing/tiers.js';

/** One RESP round trip with no client library: `PING` answers `+PONG`. */
function ping(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    s.once('error', reject);
    s.once('data', (d) => {
      s.destroy();
      resolve(String(d).trim());
    });
    s.connect(port, host, () => s.write('PING\r\n'));
  });
}

describeEachTier('redis target', redisProviders, (ctx) => {
  it('answers PING', async () => {
    const { host, port } = ctx.target();
    expect(await ping(host, port)).toBe('+PONG');
  });

  ctx.itWith('restart')('comes back on the same port after a restart', async () => {
    const { host, port } = ctx.target();
    await ctx.target().restart();
    expect(await ping(host, port)).toBe('+PONG');
  });
});
