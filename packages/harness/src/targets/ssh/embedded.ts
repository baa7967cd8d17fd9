/**
 * The embedded tier's SSH host: ssh2's `Server` in this process on a loopback port, with password
 * and public-key users, exec (through a pluggable CommandRunner) and SFTP. Sockets are accepted by
 * our own net.Server and handed to ssh2 with `injectSocket`, so that `restart()` can cut every
 * connection and listen again on the same port, and `freeze()` can make the host stop answering
 * (the keepalive scenario).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { fingerprintOf } from '@bastion/ssh-server';
// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
import ssh2, { type Connection, type ParsedKey, type SFTPWrapper } from 'ssh2';
import { lacksFrom } from '../../testing/tiers.js';
import { makeTempDirSync } from '../run-scope.js';
import { type CommandRunner, createShellCommandRunner, type RunningCommand } from './command-runner.js';
import { scriptBinary, servePtyRequests } from './pty-shell.js';
import { serveSftp } from './sftp-handler.js';
import type { SshHostCapabilities, SshHostKey, SshHostProvider, SshHostTarget } from './types.js';

export interface EmbeddedSshUser {
  username: string;
  password?: string;
  /** OpenSSH public key lines accepted for this user. */
  publicKeys?: string[];
}

export interface EmbeddedSshHostOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  users: EmbeddedSshUser[];
  /** OpenSSH private host key; a fresh ed25519 key by default. */
  hostKey?: string;
  /** How exec requests run; a real `/bin/sh -c` in `workDir` by default. */
  commandRunner?: CommandRunner;
  /** Where commands start and relative SFTP paths point; a fresh temp dir (removed on stop) by default. */
  workDir?: string;
  sftp?: boolean;
  /** Serves an accepted SFTP session; the real-disk handler (`serveSftp`) by default. */
  sftpHandler?: (sftp: SFTPWrapper, home: string) => void;
  /** Receives one line per event (auth, exec, signal, ...). Never given a secret. */
  log?: (line: string) => void;
}

const { Server, utils } = ssh2;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * ssh2 1.17's generateKeyPairSync('ed25519') drops a leading zero byte of the public key (about one
 * key in 256), and its own parseKey then calls the key malformed; such keys are thrown away.
 */
function generateEd25519(comment?: string): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', comment === undefined ? {} : { comment });
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) {
      return pair;
    }
  }
}

export function generateHostKey(): string {
  return generateEd25519().private;
}

function publicKeyOf(privateKey: string): { key: ParsedKey; publicKey: SshHostKey } {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`host key does not parse: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined) throw new Error('host key is empty');
  const blob = key.getPublicSSH();
  return {
    key,
    publicKey: {
      publicKey: `${key.type} ${blob.toString('base64')}`,
      fingerprint: fingerprintOf(blob),
    },
  };
}

export class EmbeddedSshHost {
  private listener: NetServer | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly running = new Set<RunningCommand>();
  private ssh: InstanceType<typeof Server>;
  private hostPrivateKey: string;
  private currentHostKey: SshHostKey;
  private boundPort = 0;
  private readonly ownsWorkDir: boolean;
  readonly workDir: string;
  private readonly runner: CommandRunner;
  private frozen = false;
  private readonly lines: string[] = [];

  private constructor(private readonly options: EmbeddedSshHostOptions) {
    this.hostPrivateKey = options.hostKey ?? generateHostKey();
    this.currentHostKey = publicKeyOf(this.hostPrivateKey).publicKey;
    this.ownsWorkDir = options.workDir === undefined;
    this.workDir = options.workDir ?? makeTempDirSync('bastion-embedded-ssh-');
    this.runner = options.commandRunner ?? createShellCommandRunner();
    this.ssh = this.makeServer();
  }

  static async start(options: EmbeddedSshHostOptions): Promise<EmbeddedSshHost> {
    const host = new EmbeddedSshHost(options);
    await host.listen(options.port ?? 0);
    return host;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.boundPort;
  }

  get hostKey(): SshHostKey {
    return this.currentHostKey;
  }

  logs(): string {
    return this.lines.join('\n');
  }

  private log(line: string): void {
    this.lines.push(line);
    this.options.log?.(line);
  }

  private makeServer(): InstanceType<typeof Server> {
    const users = new Map(
      this.options.users.map((u) => [
        u.username,
        {
          passwordHash: u.password === undefined ? undefined : sha256(u.password),
          keys: (u.publicKeys ?? []).map((line) => {
            const parsed = utils.parseKey(line);
            if (parsed instanceof Error) throw new Error(`public key of ${u.username} does not parse`);
            return Array.isArray(parsed) ? parsed[0] : parsed;
          }),
        },
      ]),
    );
    // ssh2 reads hostKeys once; a new host key means a new Server object (see restart()).
    return new Server({ hostKeys: [this.hostPrivateKey] }, (client) => {
      let username = '';
      client.on('error', (err) => this.log(`connection error: ${err.message}`));
      client.on('authentication', (ctx) => {
        const user = users.get(ctx.username);
        if (ctx.method === 'password' && user?.passwordHash !== undefined) {
          if (timingSafeEqual(sha256(ctx.password), user.passwordHash)) {
            username = ctx.username;
            this.log(`accepted password for ${ctx.username}`);
            return ctx.accept();
          }
          this.log(`failed password for ${ctx.username}`);
          return ctx.reject(['password', 'publickey']);
        }
        if (ctx.method === 'publickey' && user !== undefined) {
          const key = user.keys.find((k) => k?.getPublicSSH().equals(ctx.key.data));
          if (key !== undefined) {
            if (ctx.signature === undefined) return ctx.accept(); // "would this key do?"
            if (ctx.blob !== undefined && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) {
              username = ctx.username;
              this.log(`accepted publickey for ${ctx.username}`);
              return ctx.accept();
            }
          }
          this.log(`failed publickey for ${ctx.username}`);
          return ctx.reject(['password', 'publickey']);
        }
        return ctx.reject(['password', 'publickey']);
      });
      client.on('ready', () => this.serveSessions(client, () => username));
    });
  }

  private serveSessions(client: Connection, username: () => string): void {
    client.on('session', (acceptSession) => {
      const session = acceptSession();
      const env: Record<string, string> = {};
      let command: RunningCommand | undefined;
      session.on('env', (accept, _reject, info) => {
        env[info.key] = info.val;
        accept?.();
      });
      // ssh2's server ignores every channel request after the client's EOF (it sets `_ending`), but
      // a client sends EOF once stdin is written and may signal the command later; OpenSSH accepts
      // that (RFC 4254 allows requests after EOF), so the flag is cleared again here. CHANNEL_CLOSE
      // sets it for good.
      session.on('eof', () => {
        (session as unknown as { _ending: boolean })._ending = false;
      });
      servePtyRequests(session, {
        runner: this.runner,
        username,
        cwd: this.workDir,
        env,
        log: (line) => this.log(line),
        started: (shell) => {
          command = shell;
          this.running.add(shell);
          void shell.exit.then(() => this.running.delete(shell));
        },
      });
      session.on('signal', (accept, _reject, info) => {
        this.log(`signal ${info.name}`);
        command?.signal(info.name);
        accept?.();
      });
      session.on('exec', (accept, _reject, info) => {
        const channel = accept();
        channel.on('error', () => {});
        this.log(`exec for ${username()}`);
        const running = this.runner.start(
          { command: info.command, username: username(), cwd: this.workDir, env: { ...env } },
          { stdin: channel, stdout: channel, stderr: channel.stderr },
        );
        command = running;
        this.running.add(running);
        void running.exit.then((exit) => {
          this.running.delete(running);
          try {
            if (exit.signal !== null) channel.exit(exit.signal, false, '');
            else channel.exit(exit.code ?? 255);
            channel.end();
            channel.close();
          } catch {
            // The client already closed the channel.
          }
        });
      });
      session.on('sftp', (accept, reject) => {
        if (this.options.sftp === false) return reject();
        this.log(`sftp for ${username()}`);
        (this.options.sftpHandler ?? serveSftp)(accept(), this.workDir);
      });
    });
  }

  private async listen(port: number): Promise<void> {
    const listener = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      socket.setNoDelay(true);
      if (this.frozen) socket.pause();
      this.ssh.injectSocket(socket);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, this.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.listener = listener;
    this.boundPort = (listener.address() as { port: number }).port;
  }

  private async closeListener(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    for (const running of this.running) running.signal('KILL');
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  /** Stops answering on every connection, as a host that vanished from the network. */
  freeze(): void {
    this.frozen = true;
    for (const socket of this.sockets) socket.pause();
  }

  thaw(): void {
    this.frozen = false;
    for (const socket of this.sockets) socket.resume();
  }

  async restart(options: { newHostKey?: boolean } = {}): Promise<void> {
    await this.closeListener();
    this.frozen = false;
    if (options.newHostKey) {
      this.hostPrivateKey = generateHostKey();
      this.currentHostKey = publicKeyOf(this.hostPrivateKey).publicKey;
      this.ssh = this.makeServer();
    }
    this.log('restarting');
    await this.listen(this.boundPort);
  }

  async stop(): Promise<void> {
    await this.closeListener();
    await Promise.all([...this.running].map((r) => r.exit));
    if (this.ownsWorkDir) rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** PIDs of local processes whose command line contains `pattern`. */
export function pgrep(pattern: string, user?: string): Promise<number[]> {
  const args = [...(user === undefined ? [] : ['-u', user]), '-f', '--', pattern];
  return new Promise((resolve, reject) => {
    execFile('pgrep', args, (err, stdout) => {
      // pgrep exits 1 when nothing matches.
      if (err && (err as { code?: number }).code !== 1) reject(err);
      else
        resolve(
          stdout
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map(Number)
            .filter((pid) => pid !== process.pid),
        );
    });
  });
}

/** A fresh ed25519 login key pair. */
export function generateLoginKey(comment = 'bastion-test'): { privateKey: string; publicKey: string } {
  const pair = generateEd25519(comment);
  return { privateKey: pair.private, publicKey: pair.public };
}

export function randomPassword(): string {
  return `pw-${randomBytes(18).toString('base64url')}`;
}

export interface EmbeddedSshTarget extends SshHostTarget {
  readonly embedded: EmbeddedSshHost;
}

/** Starts the embedded host with a password user and a key user, both with fresh secrets. */
export async function startEmbeddedSshTarget(
  options: Partial<Omit<EmbeddedSshHostOptions, 'users'>> = {},
): Promise<EmbeddedSshTarget> {
  const password = randomPassword();
  const key = generateLoginKey();
  const passwordLogin = { username: 'bastion-pw', password };
  const keyLogin = { username: 'bastion-key', ...key };
  const embedded = await EmbeddedSshHost.start({
    ...options,
    users: [
      { username: passwordLogin.username, password },
      { username: keyLogin.username, publicKeys: [key.publicKey] },
    ],
  });
  return {
    tier: 'embedded',
    embedded,
    host: embedded.host,
    get port() {
      return embedded.port;
    },
    get hostKey() {
      return embedded.hostKey;
    },
    passwordLogin,
    keyLogin,
    scratchDir: embedded.workDir,
    // No process to signal: either signal ends every connection.
    restart: (o) => embedded.restart(o),
    pause: async () => embedded.freeze(),
    resume: async () => embedded.thaw(),
    processes: (pattern) => pgrep(pattern),
    logs: () => embedded.logs(),
    secrets: () => [password, key.privateKey],
    stop: () => embedded.stop(),
  };
}

// Its terminals come from util-linux `script` (pty-shell.ts).
const CAPABILITIES: SshHostCapabilities = {
  restart: true,
  pause: true,
  logs: true,
  pty: scriptBinary() !== undefined,
  signals: true,
};

export const sshEmbeddedProvider: SshHostProvider = {
  kind: 'ssh-host',
  tier: 'embedded',
  capabilities: CAPABILITIES,
  availability: () => ({ available: true }),
  start: () => startEmbeddedSshTarget(),
  lacks: lacksFrom('the embedded SSH host', CAPABILITIES, {
    pty: 'the embedded SSH host has no PTY here (no util-linux script binary)',
  }),
};
