/**
 * The floor: a plain node:http server that answers each POST with its own body. A keep-alive round
 * trip to it is the least that any extra HTTP hop (a gateway, a proxy) can add to a call.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningServer } from './echo-upstream.js';

export async function startBareEcho(options: { port: number }): Promise<RunningServer> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/echo`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
