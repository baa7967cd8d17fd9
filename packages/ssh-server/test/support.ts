/**
 * Fixtures of the package's own tests: a small in-process SSH server (ssh2's Server: password and
 * key users, exec through a real /bin/sh, signals, a switch to stop answering) and an MCP client
 * session over InMemoryTransport. The tiered tests in packages/harness run the same tools against
 * the harness's full targets and a real sshd.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type Logger, pino } from 'pino';
import ssh2 from 'ssh2';

const { Server, utils } = ssh2;

import {
  createSshServer,
  createSshServerShared,
  parseConfig,
  type SshServerConfigInput,
  type SshServerSession,
} from '../src/index.js';

/** ssh2's ed25519 generator sometimes drops a leading zero byte; such keys do not parse. */
export function ed25519(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) {
      return pair;
    }
  }
}

export function fingerprintOfPublic(publicKeyLine: string): string {
  const parsed = utils.parseKey(publicKeyLine);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('bad key');
  return `SHA256:${createHash('sha256').update(parsed.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
}

export interface TestHost {
  port: number;
  fingerprint: string;
  hostPublicKey: string;
  password: string;
  privateKey: string;
  /** Open transport connections. */
  connections(): number;
  /** Stop reading from every connection (a host that vanished). */
  freeze(): void;
  close(): Promise<void>;
}

export async function startTestHost(): Promise<TestHost> {
  const hostKey = ed25519();
  const login = ed25519();
  const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  const loginKey = utils.parseKey(login.public);
  if (loginKey instanceof Error || Array.isArray(loginKey)) throw new Error('bad key');
  const sockets = new Set<Socket>();
  const children = new Set<number>();
  let frozen = false;
  const ssh = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      if (ctx.username !== 'tester') return ctx.reject();
      if (ctx.method === 'password' && ctx.password === password) return ctx.accept();
      if (ctx.method === 'publickey' && ctx.key.data.equals(loginKey.getPublicSSH())) {
        if (ctx.signature === undefined) return ctx.accept();
        if (ctx.blob && loginKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.accept();
      }
      ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        let pid: number | undefined;
        // ssh2 drops channel requests after the client's EOF; OpenSSH does not (see the harness target).
        session.on('eof', () => {
          (session as unknown as { _ending: boolean })._ending = false;
        });
        session.on('signal', (accept, _reject, info) => {
          if (pid !== undefined) {
            try {
              process.kill(-pid, `SIG${info.name}` as NodeJS.Signals);
            } catch {}
          }
          accept?.();
        });
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          channel.on('error', () => {});
          const child = spawn('/bin/sh', ['-c', info.command], { detached: true, stdio: 'pipe' });
          pid = child.pid;
          if (pid !== undefined) children.add(pid);
          child.stdout.pipe(channel, { end: false });
          child.stderr.pipe(channel.stderr, { end: false });
          channel.pipe(child.stdin);
          child.stdin.on('error', () => {});
          child.on('close', (code, signal) => {
            if (pid !== undefined) children.delete(pid);
            try {
              if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
              else channel.exit(code ?? 255);
              channel.end();
              channel.close();
            } catch {}
          });
        });
      });
    });
  });
  const listener: NetServer = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    if (frozen) socket.pause();
    ssh.injectSocket(socket);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (listener.address() as { port: number }).port,
    fingerprint: fingerprintOfPublic(hostKey.public),
    hostPublicKey: hostKey.public,
    password,
    privateKey: login.private,
    connections: () => sockets.size,
    freeze() {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    async close() {
      for (const pid of children) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {}
      }
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

export class LogCapture {
  private readonly chunks: string[] = [];
  readonly logger: Logger = pino({ level: 'trace' }, { write: (line: string) => this.chunks.push(line) });

  text(): string {
    return this.chunks.join('');
  }
}

export interface Harness {
  client: Client;
  session: SshServerSession;
  logs: LogCapture;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** One MCP session of the SSH server with a real SDK client over InMemoryTransport. */
export async function openSession(
  input: SshServerConfigInput = {},
  logs = new LogCapture(),
): Promise<Harness> {
  const config = parseConfig(input);
  const shared = await createSshServerShared(config);
  const session = createSshServer(config, { logger: logs.logger, shared });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await session.server.connect(serverTransport);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientTransport);
  return {
    client,
    session,
    logs,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    async close() {
      await client.close();
      await session.close();
    },
  };
}

export function connectArgs(host: TestHost, extra: Record<string, unknown> = {}) {
  return {
    host: '127.0.0.1',
    port: host.port,
    username: 'tester',
    password: host.password,
    hostFingerprint: host.fingerprint,
    ...extra,
  };
}
