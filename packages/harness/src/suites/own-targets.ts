/**
 * Our own servers and gateway as child processes from their bins, the way a user runs them, for the
 * contract and conformance runs when no one else's target is given. Each one listens on a free
 * loopback port and is released by `stop()`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGrantToken } from '@bastion/gateway';
import { BASTION_BINS } from '../targets/mcp-process.js';
import { freePort, ServiceProcess } from '../targets/process.js';

/** Under the name the tests use; defined once in targets/mcp-process.ts, which launches them its own way. */
export { BASTION_BINS as BINS } from '../targets/mcp-process.js';

export interface RunningService {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  port: number;
  process: ServiceProcess;
  stop(): Promise<void>;
}

async function runBin(
  name: string,
  path: string,
  args: (port: number) => string[],
  cleanup?: () => Promise<void>,
): Promise<RunningService> {
  const port = await freePort();
  const service = new ServiceProcess({
    name,
    command: process.execPath,
    args: [path, ...args(port)],
    port,
    // Generous: on a busy shared machine a tsx-run bin can take many seconds to listen.
    readyTimeoutMs: 60_000,
  });
  // start() tracks the child (run-scope.ts): killed if this process exits before stop() runs.
  try {
    await service.start();
  } catch (err) {
    await cleanup?.();
    throw err;
  }
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    process: service,
    async stop() {
      await service.stop();
      await cleanup?.();
    },
  };
}

/** bastion-mqtt over HTTP: Streamable HTTP at /mcp, legacy SSE at /mqttx/sse. */
export function startOwnMqttServer(extraArgs: string[] = []): Promise<RunningService> {
  return runBin('bastion-mqtt', BASTION_BINS.mqtt, (port) => [
    '--transport',
    'http',
    '--port',
    String(port),
    '--log-level',
    'warn',
    ...extraArgs,
  ]);
}

/** bastion-ssh over HTTP: Streamable HTTP at /mcp, legacy SSE at /sse. */
export function startOwnSshServer(extraArgs: string[] = []): Promise<RunningService> {
  return runBin('bastion-ssh', BASTION_BINS.ssh, (port) => [
    '--transport',
    'http',
    '--port',
    String(port),
    '--log-level',
    'warn',
    ...extraArgs,
  ]);
}

export interface OwnGatewayServer {
  /** Upstream MCP URL (Streamable HTTP). */
  url: string;
  /** The policy document, or the path of a policy file. */
  policy: unknown;
}

export interface RunningGateway extends RunningService {
  /** Bearer token of the grant `contract`, which reaches every server. */
  token: string;
  /** Streamable HTTP endpoint of one server: `${baseUrl}/servers/NAME/mcp`. */
  endpoint(server: string, kind?: 'mcp' | 'sse'): string;
}

/**
 * bastion-gateway in front of the given upstreams, with one grant (`contract`) for all of them, and
 * anonymous access too when asked (the conformance CLI cannot send a token).
 */
export async function startOwnGateway(
  servers: Record<string, OwnGatewayServer>,
  options: { anonymous?: boolean } = {},
): Promise<RunningGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'bastion-gw-'));
  const { token, tokenSha256 } = createGrantToken();
  const names = Object.keys(servers);
  const config = {
    servers: Object.fromEntries(
      Object.entries(servers).map(([name, s]) => [name, { transport: 'http', url: s.url, policy: s.policy }]),
    ),
    grants: { contract: { tokenSha256, servers: names } },
    ...(options.anonymous ? { anonymous: { servers: names } } : {}),
  };
  const configPath = join(dir, 'gateway.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const running = await runBin(
    'bastion-gateway',
    BASTION_BINS.gateway,
    (port) => ['--config', configPath, '--port', String(port), '--log-level', 'warn'],
    () => rm(dir, { recursive: true, force: true }),
  );
  return {
    ...running,
    token,
    endpoint: (server, kind = 'mcp') => `${running.baseUrl}/servers/${server}/${kind}`,
  };
}
