/**
 * What the gateway keeps per 2026-era agent once garbage is collected (`pnpm bench:agent-heap`).
 *
 * `pnpm bench` reads the RSS of the gateway process before and after N agents each make one call:
 * that counts the heap V8 grows while it allocates and has not given back, as well as what is kept.
 * This probe runs the echo upstream and the gateway in one process started with --expose-gc, and
 * reads the heap after a full collection, so it counts only what stays reachable. The upstream sees
 * the gateway as one identity (no identityHeader), so it adds nothing per agent.
 */
import { createGateway, createGrantToken, resolveConfig } from '@bastion/gateway';
import pino from 'pino';
import { startEchoUpstream } from '../servers/echo-upstream.js';

const N = Number(process.argv[2] ?? 2000);
const PARALLEL = 20;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (pnpm bench:agent-heap does)');
const collect = gc;

const logger = pino({ level: 'silent' });
const upstream = await startEchoUpstream({ port: 0, logger });
const agents = Array.from({ length: 3 * N }, () => createGrantToken());
const grants = Object.fromEntries(
  agents.map((a, i) => [`agent-${i}`, { tokenSha256: a.tokenSha256, servers: ['echo'] }]),
);
const config = resolveConfig(
  {
    servers: { echo: { transport: 'http', url: upstream.url, policy: { version: '1', default: 'allow' } } },
    grants,
  },
  { baseDir: process.cwd() },
);
const gateway = await createGateway({ config, logger, watchPolicies: false });
const host = await gateway.listen({ port: 0 });

function body(sequence: number): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: sequence,
    method: 'tools/call',
    params: {
      name: 'echo',
      arguments: { text: `bench-${sequence}` },
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'agent-heap', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });
}

async function oneCallEach(from: number): Promise<void> {
  for (let i = from; i < from + N; i += PARALLEL)
    await Promise.all(
      agents.slice(i, i + PARALLEL).map(async (agent, j) => {
        const res = await fetch(`${host.url}/servers/echo/mcp`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            authorization: `Bearer ${agent.token}`,
            'mcp-protocol-version': '2026-07-28',
            'mcp-method': 'tools/call',
            'mcp-name': 'echo',
          },
          body: body(i + j),
        });
        const text = await res.text();
        if (res.status !== 200 || text.includes('"isError":true')) throw new Error(`${res.status}: ${text}`);
      }),
    );
}

const reading = () => {
  collect();
  return { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
};
const say = (line: string) => process.stdout.write(`${line}\n`);
const kib = (bytes: number) => (bytes / N / 1024).toFixed(2);
try {
  await oneCallEach(0); // warm: code, caches and pools settle
  const a = reading();
  await oneCallEach(N);
  const b = reading();
  await oneCallEach(2 * N);
  const c = reading();
  say(`${N} new 2026-era agents, one call each, twice (after warming up with ${N}):`);
  say(`  heap kept per agent after a full GC: ${kib(b.heap - a.heap)} KiB, then ${kib(c.heap - b.heap)} KiB`);
  say(
    `  RSS growth per agent (gateway and upstream together): ${kib(b.rss - a.rss)} KiB, then ${kib(c.rss - b.rss)} KiB`,
  );
} finally {
  await host.close();
  await gateway.close();
  await upstream.close();
}
