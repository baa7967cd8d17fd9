/**
 * The sandbox: a broker with simulated devices, an SSH host with files to find, the MQTT and SSH MCP
 * servers, and the policy gateway in front of both on one port, all started here and all stopped by
 * `close()`. Everything listens on 127.0.0.1. The MCP servers take only the gateway's calls (a token
 * made for this run) and reach only this sandbox's broker and SSH host.
 */

import { randomBytes } from 'node:crypto';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createAdminToken,
  createGateway,
  createGrantToken,
  describeLoadError,
  formatProblems,
  type Gateway,
  loadPolicyFile,
  type ReloadEvent,
  resolveConfig,
} from '@bastion/gateway';
import type { McpHttpHost } from '@bastion/mcp-http';
import { STREAMABLE_PATH, startMqttHttpServer } from '@bastion/mqtt-server';
import {
  createSshServerShared,
  knownHostsName,
  parseConfig as parseSshConfig,
  startSshHttpServer,
} from '@bastion/ssh-server';
import type { Logger } from 'pino';
import { makeTempDir } from '../targets/run-scope.js';
import { DEFAULT_DEVICES, startDeviceFleet, TOPIC_PREFIX } from './device.js';
import { type AuditFollower, type DecisionEvent, followAuditLog } from './feed.js';
import {
  type SandboxTier,
  type SshShell,
  startSandboxBroker,
  startSandboxSshHost,
  tierAvailability,
} from './targets.js';

export interface SandboxOptions {
  tier: SandboxTier;
  /** Only for the embedded tier; the other tiers' shell is their host's. */
  sshShell: SshShell;
  /** The policy file both servers use (absolute path); watched, and reloaded when it changes. */
  policyPath: string;
  /** The gateway's port; 0 picks a free one. */
  port: number;
  /** Also admit calls without a token (for clients that cannot send a header). */
  anonymous: boolean;
  logger: Logger;
}

export interface ServerUrls {
  /** Streamable HTTP. */
  mcp: string;
  /** Legacy HTTP+SSE (MQTTX, older clients). */
  sse: string;
}

export interface SandboxInfo {
  tier: SandboxTier;
  /** What runs SSH commands: the simulated shell, a real shell here, sshd's logins, or the container's. */
  shell: 'simulated' | 'host' | 'sshd' | 'container';
  policyPath: string;
  auditPath: string;
  /** This run's own directory (gateway config, audit log, known_hosts); removed on stop. */
  workDir: string;
  gateway: { url: string; port: number; servers: { mqtt: ServerUrls; ssh: ServerUrls } };
  /** The grant's bearer token, new each run. */
  token: string;
  /** The gateway's console (approvals, tool pins, grants) and its admin token, new each run. */
  console: { url: string; token: string };
  anonymous: boolean;
  broker: { implementation: string; host: string; port: number; url: string };
  ssh: {
    host: string;
    port: number;
    username: string;
    password?: string;
    /** Where the login's private key was written, when it needs one (a non-root sshd). */
    privateKeyFile?: string;
    fingerprint: string;
    filesDir: string;
    startsInFilesDir: boolean;
  };
  telemetry: { prefix: string; devices: string[] };
  /** The MCP servers behind the gateway (they require the gateway's own token). */
  upstreams: { mqtt: string; ssh: string };
}

export type SandboxEvent =
  | { kind: 'decision'; decision: DecisionEvent }
  | { kind: 'policy'; server: string; event: ReloadEvent };

export interface Sandbox {
  readonly info: SandboxInfo;
  /** Decisions of the gateway (from its audit log) and policy reloads, as they happen. */
  onEvent(listener: (event: SandboxEvent) => void): () => void;
  close(): Promise<void>;
}

/** A start-up failure a person can act on (a busy port, a missing tier, a policy problem). */
export class SandboxStartError extends Error {
  override readonly name = 'SandboxStartError';
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const { logger } = options;
  const availability = tierAvailability(options.tier);
  if (!availability.available) {
    throw new SandboxStartError(`the ${options.tier} tier is not available here: ${availability.reason}`);
  }
  // A policy that cannot load is reported before anything starts (the gateway checks it again).
  try {
    await loadPolicyFile(options.policyPath);
  } catch (err) {
    throw new SandboxStartError(`the policy cannot be used:\n${describeLoadError(err)}`);
  }
  // Stopped in reverse order of starting, on failure as on close.
  const stack: Array<() => Promise<void>> = [];
  const unwind = async () => {
    for (const stop of stack.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.warn({ err }, 'stopping part of the sandbox failed');
      }
    }
  };
  const listeners = new Set<(event: SandboxEvent) => void>();
  const emit = (event: SandboxEvent) => {
    for (const listener of listeners) listener(event);
  };

  try {
    const workDir = await makeTempDir('bastion-sandbox-');
    stack.push(() => rm(workDir, { recursive: true, force: true }));

    // Both at once; whichever started is stopped even if the other failed.
    const [brokerStart, sshStart] = await Promise.allSettled([
      startSandboxBroker(options.tier),
      startSandboxSshHost(options.tier, options.sshShell),
    ]);
    if (brokerStart.status === 'fulfilled') stack.push(() => brokerStart.value.stop());
    if (sshStart.status === 'fulfilled') stack.push(() => sshStart.value.stop());
    if (brokerStart.status === 'rejected') throw brokerStart.reason;
    if (sshStart.status === 'rejected') throw sshStart.reason;
    const broker = brokerStart.value;
    const ssh = sshStart.value;

    const devices = await startDeviceFleet({ url: broker.url });
    stack.push(() => devices.close());

    // The MCP servers answer the gateway only: a token of this run, sent by the gateway as a header.
    const upstreamToken = randomBytes(24).toString('base64url');
    const mqttHost: McpHttpHost = await startMqttHttpServer(
      {
        transport: 'http',
        host: '127.0.0.1',
        port: 0,
        authToken: upstreamToken,
        allowBrokers: [`127.0.0.1:${broker.port}`, `localhost:${broker.port}`],
        logLevel: 'warn',
      },
      { logger: logger.child({ component: 'mqtt-server' }) },
    );
    stack.push(() => mqttHost.close());

    const knownHostsFile = join(workDir, 'known_hosts');
    const hostKeyLine = ssh.hostPublicKey.split(' ').slice(0, 2).join(' ');
    await writeFile(
      knownHostsFile,
      ['127.0.0.1', 'localhost'].map((h) => `${knownHostsName(h, ssh.port)} ${hostKeyLine}\n`).join(''),
    );
    const sshConfig = parseSshConfig({
      transport: 'http',
      host: '127.0.0.1',
      port: 0,
      authToken: upstreamToken,
      allowHosts: [`127.0.0.1:${ssh.port}`, `localhost:${ssh.port}`],
      knownHostsFile,
      logLevel: 'warn',
    });
    const sshLogger = logger.child({ component: 'ssh-server' });
    const sshHost = await startSshHttpServer(sshConfig, {
      logger: sshLogger,
      shared: await createSshServerShared(sshConfig),
    });
    stack.push(() => sshHost.close());

    let privateKeyFile: string | undefined;
    if (ssh.privateKey !== undefined) {
      privateKeyFile = join(workDir, 'ssh_login_key');
      await writeFile(privateKeyFile, ssh.privateKey, { mode: 0o600 });
      await chmod(privateKeyFile, 0o600);
    }

    const grant = createGrantToken();
    const admin = createAdminToken();
    const auditPath = join(workDir, 'audit.jsonl');
    const authorization = { Authorization: `Bearer ${upstreamToken}` };
    const config = resolveConfig(
      {
        servers: {
          mqtt: {
            transport: 'http',
            url: `${mqttHost.url}${STREAMABLE_PATH}`,
            headers: authorization,
            policy: options.policyPath,
          },
          ssh: {
            transport: 'http',
            url: `${sshHost.url}/mcp`,
            headers: authorization,
            policy: options.policyPath,
          },
        },
        grants: { sandbox: { tokenSha256: grant.tokenSha256, servers: ['mqtt', 'ssh'] } },
        ...(options.anonymous ? { anonymous: { servers: ['mqtt', 'ssh'] } } : {}),
        audit: auditPath,
        admin: { tokenSha256: admin.tokenSha256, name: 'sandbox admin' },
        pins: { file: join(workDir, 'pins.json') },
      },
      { baseDir: workDir },
    );
    let gateway: Gateway;
    try {
      gateway = await createGateway({ config, logger: logger.child({ component: 'gateway' }) });
    } catch (err) {
      throw new SandboxStartError(`the policy cannot be used:\n${describeLoadError(err)}`);
    }
    let follower: AuditFollower | undefined;
    stack.push(async () => {
      await gateway.close();
      // After the gateway: the rows of calls that finished during its shutdown are still read.
      await follower?.close();
    });

    // The policy names tools of both servers: each server offers only its own, which is expected.
    const checks = await gateway.checkUpstreams();
    const refused = checks.filter((c) => c.problems.length > 0 || c.error !== undefined);
    if (refused.length > 0) {
      throw new SandboxStartError(
        refused
          .map((c) =>
            c.error !== undefined
              ? `server '${c.server}' is not reachable: ${c.error}`
              : formatProblems(c.problems, `server '${c.server}'`),
          )
          .join('\n'),
      );
    }
    const offPolicy = gateway.onPolicyEvent((e) => {
      if (e.event.kind !== 'unchanged') emit({ kind: 'policy', server: e.server, event: e.event });
    });
    stack.push(async () => offPolicy());

    follower = await followAuditLog(auditPath, (decision) => emit({ kind: 'decision', decision }));

    let front: McpHttpHost;
    try {
      front = await gateway.listen({ host: '127.0.0.1', port: options.port });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new SandboxStartError(
          `port ${options.port} is in use: pass --port with another port (0 picks a free one)`,
        );
      }
      throw err;
    }
    const base = front.url;
    const urls = (name: string): ServerUrls => ({
      mcp: `${base}/servers/${name}/mcp`,
      sse: `${base}/servers/${name}/sse`,
    });

    const info: SandboxInfo = {
      tier: options.tier,
      shell: ssh.shell,
      policyPath: options.policyPath,
      auditPath,
      workDir,
      gateway: { url: base, port: front.port, servers: { mqtt: urls('mqtt'), ssh: urls('ssh') } },
      token: grant.token,
      console: { url: `${base}/console`, token: admin.token },
      anonymous: options.anonymous,
      broker: {
        implementation: broker.implementation,
        host: broker.host,
        port: broker.port,
        url: broker.url,
      },
      ssh: {
        host: ssh.host,
        port: ssh.port,
        username: ssh.username,
        ...(ssh.password === undefined ? {} : { password: ssh.password }),
        ...(privateKeyFile === undefined ? {} : { privateKeyFile }),
        fingerprint: ssh.fingerprint,
        filesDir: ssh.filesDir,
        startsInFilesDir: ssh.startsInFilesDir,
      },
      telemetry: { prefix: TOPIC_PREFIX, devices: DEFAULT_DEVICES.map((d) => d.id) },
      upstreams: { mqtt: mqttHost.url, ssh: sshHost.url },
    };

    let closing: Promise<void> | undefined;
    return {
      info,
      onEvent(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      close() {
        closing ??= unwind().finally(() => listeners.clear());
        return closing;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
