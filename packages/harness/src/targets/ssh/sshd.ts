/**
 * The process tier's SSH host: a real OpenSSH `sshd -D -e -f <conf>` on a random loopback port, with
 * its own host key, config, pid file and authorized keys in a temp dir.
 *
 * Two modes:
 *  - as root with the test users of scripts/setup-ssh-test-users.sh: logs in as those two system users
 *    (a password user and a key user); the password is read from the file that script writes, never
 *    from the code;
 *  - as root without them: logs in as root with a key only (`PermitRootLogin prohibit-password`), so
 *    everything but password logins runs without changing the system; `passwordLogin` is undefined
 *    and tests that need it skip with PASSWORD_LOGIN_SKIP, which names the script. Where the process
 *    tier is required (CI), the missing users make the tier unavailable instead, so nothing skips;
 *  - as any other user: sshd runs as that user, which can then log in only as itself, with a key
 *    (`UsePAM no`; password login needs root to read the shadow file), so `passwordLogin` is undefined.
 *
 * `restart()` kills sshd and everything it started (a killed master leaves its per-connection
 * children running, which would keep the old connections alive) and starts it on the same port.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lacksFrom } from '../../testing/tiers.js';
import { type FaultSignal, findBinary, freePort, withFreshPorts } from '../process.js';
import { makeTempDirSync, trackChild } from '../run-scope.js';
import { generateLoginKey, pgrep } from './embedded.js';
import { type HostCertificateSpec, signHostKey } from './host-certificate.js';
import { isRoot, PASSWORD_LOGIN_SKIP, readUsers, sshdAvailability } from './ssh-test-users.js';
import type {
  SshHostCapabilities,
  SshHostKey,
  SshHostProvider,
  SshHostTarget,
  SshKeyLogin,
  SshPasswordLogin,
} from './types.js';

/** Where scripts/setup-ssh-test-users.sh writes the test users and the password (root-only file). */
/** PIDs of every descendant of `pid`, read from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Field 4 (ppid) follows the command name, which is in parentheses and may contain anything.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    for (const child of children.get(next) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

export interface SshdHostOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra sshd_config lines. */
  extraConfig?: string[];
  /** Run sshd inside this network namespace (`ip netns exec NAME sshd ...`). */
  netns?: string;
  /** The address sshd listens on (default 127.0.0.1); with `netns`, one of that namespace. */
  listenAddress?: string;
  /** The port (default: a free loopback port). A namespace of its own has every port free. */
  port?: number;
  /**
   * Serve an OpenSSH host certificate (`HostCertificate`): the host key signed by this CA private
   * key file (`ssh-keygen -s CA -h`) for these principals, again whenever the host key changes.
   */
  hostCertificate?: HostCertificateSpec;
}

export class SshdHost implements SshHostTarget {
  readonly tier = 'process' as const;
  private child: ChildProcess | undefined;
  private output = '';
  private currentHostKey: SshHostKey = { publicKey: '', fingerprint: '' };
  /** Per-connection processes left running by a SIGTERM restart. */
  private readonly survivors = new Set<number>();

  private constructor(
    private readonly sshd: string,
    private readonly dir: string,
    readonly host: string,
    readonly port: number,
    readonly passwordLogin: SshPasswordLogin | undefined,
    readonly keyLogin: SshKeyLogin,
    private readonly loginUsers: string[],
    readonly scratchDir: string,
    private readonly options: SshdHostOptions,
  ) {}

  /** Starts sshd on a fresh port (and again on another, if that one was taken before sshd bound it). */
  static start(options: SshdHostOptions = {}): Promise<SshdHost> {
    return withFreshPorts(() => SshdHost.startOnce(options));
  }

  private static async startOnce(options: SshdHostOptions): Promise<SshdHost> {
    const env = options.env ?? process.env;
    const sshd = findBinary('sshd', env);
    if (sshd === undefined) throw new Error('no sshd binary');
    const root = isRoot();
    let passwordLogin: SshPasswordLogin | undefined;
    let keyUser: string;
    const users = root ? readUsers(env) : undefined;
    if (root) {
      if (typeof users === 'object') {
        passwordLogin = { username: users.passwordUser, password: users.password };
        keyUser = users.keyUser;
      } else keyUser = 'root';
      // sshd's privilege separation directory (Debian creates it at boot only when the service runs).
      mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    } else {
      keyUser = userInfo().username;
    }
    const key = generateLoginKey();
    const dir = makeTempDirSync('bastion-sshd-');
    // The logins read their authorized_keys file and write the scratch dir: let them traverse.
    chmodSync(dir, 0o755);
    const scratch = join(dir, 'scratch');
    mkdirSync(scratch);
    chmodSync(scratch, 0o1777);
    mkdirSync(join(dir, 'authorized_keys'), { mode: 0o755 });
    writeFileSync(join(dir, 'authorized_keys', keyUser), `${key.publicKey}\n`, { mode: 0o644 });
    const loginUsers = passwordLogin ? [passwordLogin.username, keyUser] : [keyUser];
    const port = options.port ?? (await freePort());
    const listen = options.listenAddress ?? '127.0.0.1';
    const config = [
      `Port ${port}`,
      `ListenAddress ${listen}`,
      `HostKey ${join(dir, 'host_ed25519')}`,
      ...(options.hostCertificate ? [`HostCertificate ${join(dir, 'host_ed25519-cert.pub')}`] : []),
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PubkeyAuthentication yes',
      `AuthorizedKeysFile ${join(dir, 'authorized_keys', '%u')}`,
      `PasswordAuthentication ${passwordLogin ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      // PAM only for the password user: key logins (as root without the test users, too) need none.
      `UsePAM ${passwordLogin ? 'yes' : 'no'}`,
      // The temp dir sits under the world-writable /tmp, which StrictModes would refuse.
      'StrictModes no',
      ...(root ? [`PermitRootLogin ${keyUser === 'root' ? 'prohibit-password' : 'no'}`] : []),
      `AllowUsers ${loginUsers.join(' ')}`,
      'Subsystem sftp internal-sftp',
      'LogLevel INFO',
      ...(options.extraConfig ?? []),
    ];
    writeFileSync(join(dir, 'sshd_config'), `${config.join('\n')}\n`);
    const host = new SshdHost(
      sshd,
      dir,
      listen,
      port,
      passwordLogin,
      { username: keyUser, ...key },
      loginUsers,
      scratch,
      options,
    );
    try {
      host.makeHostKey();
      await host.launch();
    } catch (err) {
      await host.stop();
      throw err;
    }
    return host;
  }

  get hostKey(): SshHostKey {
    return this.currentHostKey;
  }

  private makeHostKey(): void {
    const file = join(this.dir, 'host_ed25519');
    rmSync(file, { force: true });
    rmSync(`${file}.pub`, { force: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file], { stdio: 'ignore' });
    const publicKey = readFileSync(`${file}.pub`, 'utf8').trim();
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], {
      encoding: 'utf8',
    })
      .split(' ')[1]
      ?.trim();
    if (!fingerprint?.startsWith('SHA256:')) throw new Error('ssh-keygen -l printed no SHA256 fingerprint');
    this.currentHostKey = { publicKey, fingerprint };
    const certificate = this.options.hostCertificate;
    if (certificate !== undefined) signHostKey(`${file}.pub`, certificate);
  }

  private async launch(): Promise<void> {
    const args = ['-D', '-e', '-f', join(this.dir, 'sshd_config')];
    // `ip netns exec` enters the namespace and then execs sshd, so the child is sshd itself.
    const [command, argv] =
      this.options.netns === undefined
        ? [this.sshd, args]
        : ['ip', ['netns', 'exec', this.options.netns, this.sshd, ...args]];
    const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    trackChild(child, 'sshd');
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `sshd exited with ${signal ?? code}`;
    });
    child.once('error', (err) => {
      exited = err.message;
    });
    const started = this.output.length;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && exited === undefined) {
      // sshd -e logs this once the socket is bound; probing the port instead would add log noise.
      if (this.output.slice(started).includes(`Server listening on ${this.host} port ${this.port}`)) return;
      await sleep(20);
    }
    const reason = exited ?? 'not listening after 10 s';
    await this.kill();
    throw new Error(
      `sshd did not start on port ${this.port} (${reason}): ${this.output.slice(started).trim()}`,
    );
  }

  /**
   * SIGKILL: kills sshd and every process it started. SIGTERM: what a service manager's stop does,
   * sshd alone; its per-connection processes keep their sessions (remembered, so that `stop()`
   * still ends them). Waits for sshd to exit.
   */
  private async kill(signal: FaultSignal = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const children = descendants(child.pid);
    if (signal === 'SIGTERM') {
      for (const pid of children) this.survivors.add(pid);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      return;
    }
    const family = [child.pid, ...children];
    for (const pid of family) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await exited;
  }

  async restart(options: { newHostKey?: boolean; signal?: FaultSignal } = {}): Promise<void> {
    await this.kill(options.signal);
    if (options.newHostKey) this.makeHostKey();
    await this.launch();
  }

  private signalAll(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    for (const member of [pid, ...descendants(pid)]) {
      try {
        process.kill(member, signal);
      } catch {
        // Already gone.
      }
    }
  }

  async pause(): Promise<void> {
    this.signalAll('SIGSTOP');
  }

  async resume(): Promise<void> {
    this.signalAll('SIGCONT');
  }

  processes(pattern: string): Promise<number[]> {
    return Promise.all(this.loginUsers.map((u) => pgrep(pattern, u))).then((lists) => lists.flat());
  }

  logs(): string {
    return this.output;
  }

  secrets(): string[] {
    return [this.keyLogin.privateKey, ...(this.passwordLogin ? [this.passwordLogin.password] : [])];
  }

  async stop(): Promise<void> {
    await this.kill();
    for (const pid of this.survivors) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Its session ended on its own.
      }
    }
    this.survivors.clear();
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Logging in as root (no test users) leaves remote commands out of reach of signal requests. */
const logsInAsRoot = isRoot() && typeof readUsers(process.env) === 'string';
const CAPABILITIES: SshHostCapabilities = {
  restart: true,
  pause: true,
  logs: true,
  signals: !logsInAsRoot,
  pty: true,
};

export const sshProcessProvider: SshHostProvider = {
  kind: 'ssh-host',
  tier: 'process',
  capabilities: CAPABILITIES,
  availability: () => sshdAvailability(),
  start: () => SshdHost.start(),
  lacks: lacksFrom('sshd', CAPABILITIES, {
    signals: `sshd logs in as root here, and OpenSSH delivers no signals to root sessions: ${PASSWORD_LOGIN_SKIP.replace('password login needs the SSH test users: ', '')}`,
  }),
};

export {
  DEFAULT_SSH_USERS_FILE,
  PASSWORD_LOGIN_SKIP,
  type SshTestUsers,
  sshdAvailability,
  sshTestUsersProblem,
} from './ssh-test-users.js';
