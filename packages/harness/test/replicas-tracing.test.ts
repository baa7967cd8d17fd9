/**
 * Traces for operators (issue 11 item 6): a real `bastion-gateway` process exporting to a real
 * OTLP/HTTP receiver (an HTTP server here that decodes the JSON export), in front of the bench's echo
 * upstream with a recording hop before it, so the test sees what the upstream was sent. The agent
 * sends `traceparent` in `_meta` (2026-07-28); the gateway's span must be its child, carry the
 * decision, and be the parent named in the call forwarded upstream.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningServer, startEchoUpstream } from '../src/bench/servers/echo-upstream.js';
import { ECHO_TOOL } from '../src/bench/wire.js';
import { RawMcpAgent } from '../src/replicas/raw-agent.js';
import { verifies } from '../src/requirements/index.js';
import { type McpServerProcess, startGatewayProcess } from '../src/targets/mcp-process.js';
import { scenarioGrant } from '../src/targets/replicas/index.js';
import { makeTempDirSync } from '../src/targets/run-scope.js';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; doubleValue?: number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: OtlpAttribute[];
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

const spans: OtlpSpan[] = [];
const forwarded: Array<{ headers: IncomingMessage['headers']; body: Record<string, unknown> }> = [];
let receiver: Server;
let recorder: Server;
let upstream: RunningServer;
let gateway: McpServerProcess;
let agent: RawMcpAgent;

beforeAll(async () => {
  // The OTLP/HTTP receiver: the JSON encoding the exporter sends (ids as hex strings).
  receiver = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req)) as {
      resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
    };
    for (const rs of body.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  const receiverUrl = await listen(receiver);
  upstream = await startEchoUpstream({ port: 0, logger: pino({ level: 'silent' }) });
  // The recording hop: keeps each request the gateway sends upstream, then passes it on.
  recorder = createServer(async (req, res) => {
    const text = await readBody(req);
    if (req.method === 'POST' && text !== '')
      forwarded.push({ headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(
        (e): e is [string, string] =>
          typeof e[1] === 'string' && e[0] !== 'host' && e[0] !== 'content-length',
      ),
    );
    const answer = await fetch(upstream.url, {
      method: req.method ?? 'POST',
      headers,
      ...(req.method === 'POST' ? { body: text } : {}),
    });
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  const recorderUrl = await listen(recorder);
  const { token, tokenSha256 } = scenarioGrant();
  const dir = makeTempDirSync('tracing-');
  const configFile = join(dir, 'gateway.json');
  await writeFile(
    configFile,
    JSON.stringify({
      servers: {
        echo: {
          transport: 'http',
          url: `${recorderUrl}/mcp`,
          policy: {
            version: '1',
            default: 'allow',
            tools: { [ECHO_TOOL]: { limits: [{ counter: 'echo', window: 3600, max: 1, scope: 'grant' }] } },
          },
        },
      },
      grants: { agent: { tokenSha256, servers: ['echo'] } },
      replicaId: 'gw-traced',
    }),
  );
  gateway = await startGatewayProcess(configFile, ['--host', '127.0.0.1'], {
    ...process.env,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiverUrl}/v1/traces`,
  });
  agent = new RawMcpAgent({ bases: [gateway.url], server: 'echo', token });
}, 60_000);

afterAll(async () => {
  agent?.close();
  await gateway?.stop();
  await upstream?.close();
  if (recorder !== undefined) await close(recorder);
  if (receiver !== undefined) await close(receiver);
});

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : v?.doubleValue);
};

it(verifies('replicas.traces.span'), async () => {
  const traceId = randomBytes(16).toString('hex');
  const agentSpanId = randomBytes(8).toString('hex');
  const traceparent = `00-${traceId}-${agentSpanId}-01`;
  const first = await agent.modernCall(ECHO_TOOL, { text: 'hi' }, { meta: { traceparent } });
  const second = await agent.modernCall(ECHO_TOOL, { text: 'again' }, { meta: { traceparent } });
  expect(first.kind).toBe('admitted');
  expect(second.code).toBe('POLICY_DENIED');

  await expect.poll(() => spans.filter((s) => s.traceId === traceId).length, { timeout: 15_000 }).toBe(2);
  const [allowed, denied] = spans.filter((s) => s.traceId === traceId) as [OtlpSpan, OtlpSpan];
  for (const span of [allowed, denied]) {
    // Joined to the agent's trace, as a child of the agent's span.
    expect(span.parentSpanId).toBe(agentSpanId);
    expect(attr(span, 'bastion.server')).toBe('echo');
    expect(attr(span, 'bastion.tool')).toBe(ECHO_TOOL);
    expect(attr(span, 'bastion.replica')).toBe('gw-traced');
  }
  expect(attr(allowed, 'bastion.decision')).toBe('allow');
  expect(typeof attr(allowed, 'bastion.upstream.latency_ms')).toBe('number');
  expect(attr(allowed, 'bastion.upstream.outcome')).toBe('ok');
  expect(attr(denied, 'bastion.decision')).toBe('deny');
  expect(attr(denied, 'bastion.rule')).toMatch(/^\/tools\/echo\/limits\/0/);
  expect(attr(denied, 'bastion.upstream.latency_ms')).toBeUndefined();

  // The call forwarded upstream names the gateway's span as its parent, in the same trace.
  const calls = forwarded.filter((f) => f.body.method === 'tools/call');
  expect(calls).toHaveLength(1);
  const params = calls[0]?.body.params as { _meta?: Record<string, unknown> } | undefined;
  const meta = params?._meta ?? {};
  expect(meta.traceparent).toBe(`00-${traceId}-${allowed.spanId}-01`);

  // The HTTP header works as well (a 2026-era agent that sets it instead of _meta).
  const headerTrace = randomBytes(16).toString('hex');
  const headerSpan = randomBytes(8).toString('hex');
  await agent.modernCall(
    ECHO_TOOL,
    { text: 'header' },
    { headers: { traceparent: `00-${headerTrace}-${headerSpan}-01` } },
  );
  await expect.poll(() => spans.filter((s) => s.traceId === headerTrace).length, { timeout: 15_000 }).toBe(1);
  expect(spans.find((s) => s.traceId === headerTrace)?.parentSpanId).toBe(headerSpan);
  process.stdout.write(
    `replicas: traces: 2 spans exported over OTLP/HTTP in the agent's trace (allow, deny by ${String(attr(denied, 'bastion.rule'))}); upstream got traceparent ${String(meta.traceparent)}\n`,
  );
}, 60_000);
